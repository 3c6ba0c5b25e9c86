"""SQuAD 2.0 (Rajpurkar et al., 2018): the first half of the official dev set, 16 articles."""
from __future__ import annotations

import json
from dataclasses import dataclass

from .store import fetch

__all__ = ["Answer", "Paragraph", "Question", "SQuAD2", "load_squad2"]


@dataclass(frozen=True)
class Answer:
    text: str
    start: int  # character offset in the paragraph's context


@dataclass(frozen=True)
class Paragraph:
    paragraph_id: int  # position in :attr:`SQuAD2.paragraphs`
    article: str
    context: str


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    answers: tuple[Answer, ...]  # empty when ``is_impossible``
    is_impossible: bool
    paragraph_id: int
    article: str


@dataclass
class SQuAD2:
    articles: list[str]
    paragraphs: list[Paragraph]
    questions: list[Question]

    def questions_of(self, articles: set[str] | list[str], answerable_only: bool = True) -> list[Question]:
        """Questions of the given articles (by title), answerable ones only by default."""
        unknown = set(articles) - set(self.articles)
        if unknown:
            raise ValueError(f"unknown articles {sorted(unknown)}; known: {self.articles}")
        keep = set(articles)
        return [q for q in self.questions
                if q.article in keep and not (answerable_only and q.is_impossible)]


def load_squad2() -> SQuAD2:
    """Load articles, paragraphs and questions; answers keep their character offsets."""
    with open(fetch("squad2") / "dev-v2.0.json", encoding="utf-8") as f:
        raw = json.load(f)
    articles, paragraphs, questions = [], [], []
    for article in raw["data"]:
        title = article["title"]
        articles.append(title)
        for para in article["paragraphs"]:
            pid = len(paragraphs)
            paragraphs.append(Paragraph(pid, title, para["context"]))
            for qa in para["qas"]:
                answers = tuple(Answer(a["text"], int(a["answer_start"])) for a in qa["answers"])
                questions.append(Question(qa["id"], qa["question"], answers, bool(qa["is_impossible"]), pid, title))
    return SQuAD2(articles, paragraphs, questions)
