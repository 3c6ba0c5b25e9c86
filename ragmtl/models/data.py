"""Task data for the RAG-MTL model: cached lower-layer states plus what each task retrieved.

Retrieval is done once, before training, because the retrievers are frozen: classification tasks
look up their ``k`` nearest labelled training examples with the frozen MiniLM sentence vectors in a
FAISS inner-product index (a training example never retrieves itself), and the QA task looks up
``k`` passages with BM25. Each split keeps, per example, the states of MiniLM's lower layers
(:func:`ragmtl.adapters.cache_encoded`), so training runs only the layers above.

:class:`ClassificationSplit` and :class:`QASplit` give mini-batches with :meth:`batch`; the loaders
(:func:`trec_task`, :func:`clinc_task`, :func:`squad_task`) read the real datasets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..adapters import cache_encoded
from ..rag.reader import answer_token_span, encode_pairs

__all__ = ["ClassificationSplit", "QASplit", "collate_states", "neighbour_ids", "classification_splits",
           "qa_split", "subsample_indices", "TaskData", "trec_task", "clinc_task", "squad_task", "TASK_LOADERS"]


def collate_states(states: Sequence[torch.Tensor], rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad the cached states of ``rows`` into ``hidden`` [B, T, H] (float32) and ``mask`` [B, T]."""
    width = max(len(states[i]) for i in rows)
    hidden = torch.zeros(len(rows), width, states[rows[0]].shape[-1])
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for r, i in enumerate(rows):
        n = len(states[i])
        hidden[r, :n] = states[i].float()
        mask[r, :n] = 1
    return hidden, mask


@dataclass
class ClassificationSplit:
    """One split of a classification task: states, labels, and each example's retrieved neighbours
    (``neighbours`` [N, k] ids into the labelled memory ``memory_vectors`` [M, H] / ``memory_labels`` [M])."""

    task: str
    texts: list[str]
    states: list[torch.Tensor]
    labels: torch.Tensor
    neighbours: np.ndarray
    memory_vectors: torch.Tensor
    memory_labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.states)

    @property
    def trainable_rows(self) -> np.ndarray:
        return np.arange(len(self))

    def batch(self, rows: Sequence[int]) -> dict:
        hidden, mask = collate_states(self.states, rows)
        ids = torch.from_numpy(self.neighbours[np.asarray(rows)])
        return {"hidden": hidden, "mask": mask, "labels": self.labels[list(rows)],
                "neighbour_vectors": self.memory_vectors[ids], "neighbour_labels": self.memory_labels[ids]}


@dataclass
class QASplit:
    """One split of an extractive QA task. Every question is read with each of its ``k`` passages;
    pair ``p`` has states, a ``context_mask`` and character ``offsets`` into ``passages[p]``, and a
    gold token span (``spans[p]``, None when the passage does not hold the answer in its first
    ``max_length`` tokens). ``pairs[q]`` lists question q's pairs, ``log_prior`` [Q, k] their log p(z | x)."""

    task: str
    questions: list[str]
    answers: list[tuple[str, ...]]
    pairs: list[list[int]]
    log_prior: np.ndarray
    passages: list[str]
    states: list[torch.Tensor]
    context_mask: list[list[int]]
    offsets: list[list]
    spans: list[tuple[int, int] | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.questions)

    @property
    def trainable_rows(self) -> np.ndarray:
        """Pairs with a gold span (what the reader is trained on)."""
        return np.array([p for p, s in enumerate(self.spans) if s is not None], dtype=np.int64)

    def batch(self, rows: Sequence[int]) -> dict:
        hidden, mask = collate_states(self.states, rows)
        context = torch.zeros_like(mask, dtype=torch.bool)
        for r, p in enumerate(rows):
            context[r, : len(self.context_mask[p])] = torch.tensor(self.context_mask[p], dtype=torch.bool)
        out = {"hidden": hidden, "mask": mask, "context_mask": context}
        if all(self.spans[p] is not None for p in rows):
            out["start"] = torch.tensor([self.spans[p][0] for p in rows])
            out["end"] = torch.tensor([self.spans[p][1] for p in rows])
        return out


def neighbour_ids(scores_ids: tuple[np.ndarray, np.ndarray], k: int, exclude_self: bool) -> np.ndarray:
    """The first ``k`` retrieved ids per query; with ``exclude_self`` query i drops id i (leave-one-out;
    search ``k + 1`` then). Raises ``ValueError`` when fewer than ``k`` ids remain."""
    _, ids = scores_ids
    out = np.empty((len(ids), k), dtype=np.int64)
    for i, row in enumerate(ids):
        kept = [int(j) for j in row if j >= 0 and not (exclude_self and j == i)][:k]
        if len(kept) < k:
            raise ValueError(f"query {i} has only {len(kept)} neighbours, {k} needed")
        out[i] = kept
    return out


def classification_splits(task: str, backbone, tokenizer, encoder, train: tuple[list[str], np.ndarray],
                          tests: dict[str, tuple[list[str], np.ndarray]], k: int, n_lower: int,
                          max_length: int = 64, bf16: bool | None = None):
    """Build a classification task's training split and its evaluation splits.

    The labelled memory is the training set itself, encoded with ``encoder`` (frozen sentence
    vectors) into a :class:`ragmtl.retrieval.DenseRetriever` (FAISS ``IndexFlatIP``). Returns
    ``(train_split, {name: split}, retriever)``.
    """
    from ..retrieval import DenseRetriever

    texts, labels = train
    vectors = encoder.encode(list(texts), show_progress=False)
    retriever = DenseRetriever(encoder).index_vectors(vectors)
    memory_vectors, memory_labels = torch.from_numpy(vectors), torch.as_tensor(np.asarray(labels), dtype=torch.long)

    def split(split_texts, split_labels, query_vectors, exclude_self):
        ids = neighbour_ids(retriever.search(query_vectors, k + int(exclude_self)), k, exclude_self)
        enc = tokenizer(list(split_texts), truncation=True, max_length=max_length)
        states = cache_encoded(backbone, tokenizer, {"input_ids": enc["input_ids"]}, n_lower, bf16=bf16)
        return ClassificationSplit(task, list(split_texts), states,
                                   torch.as_tensor(np.asarray(split_labels), dtype=torch.long), ids,
                                   memory_vectors, memory_labels)

    train_split = split(texts, labels, vectors, True)
    evals = {name: split(t, y, encoder.encode(list(t), show_progress=False), False) for name, (t, y) in tests.items()}
    return train_split, evals, retriever


def qa_split(task: str, backbone, tokenizer, questions: Sequence[str], answers: Sequence[tuple[str, ...]],
             passage_ids: np.ndarray, passage_scores: np.ndarray | None, passages: Sequence[str],
             n_lower: int, max_length: int = 128, gold: Sequence[tuple[int, int, str]] | None = None,
             bf16: bool | None = None) -> QASplit:
    """Read every question with each of its passages ``passage_ids`` [Q, k] (ids into ``passages``).

    ``passage_scores`` [Q, k] (retrieval scores) give the prior p(z | x) = softmax(scores); None gives
    a uniform prior. ``gold[q] = (passage id, answer character start, answer text)`` marks the answer
    span in the pairs whose passage is the gold one (needed for training).
    """
    from ..rag.qa import passage_log_prior

    passage_ids = np.asarray(passage_ids)
    if passage_ids.ndim != 2 or len(passage_ids) != len(questions) or len(answers) != len(questions):
        raise ValueError(f"need passage_ids [Q, k] and answers for each of the {len(questions)} questions, "
                         f"got {passage_ids.shape} and {len(answers)}")
    if (passage_ids < 0).any():  # a sparse retriever's -1: the query has no indexed term
        short = np.flatnonzero((passage_ids < 0).any(1))
        raise ValueError(f"task {task!r}: {len(short)} questions retrieved fewer than {passage_ids.shape[1]} passages "
                         f"(id -1), e.g. {questions[short[0]]!r}; expected k passage ids per question")
    q_idx = [q for q in range(len(questions)) for _ in range(passage_ids.shape[1])]
    p_idx = passage_ids.reshape(-1).tolist()
    texts = [passages[p] for p in p_idx]
    feats = encode_pairs(tokenizer, [questions[q] for q in q_idx], texts, max_length)
    spans: list = [None] * len(p_idx)
    if gold is not None:
        for pair, (q, p) in enumerate(zip(q_idx, p_idx)):
            gold_p, start, text = gold[q]
            if p == gold_p:
                spans[pair] = answer_token_span(feats["offsets"][pair], start, start + len(text))
    states = cache_encoded(backbone, tokenizer, feats, n_lower, batch_size=64, bf16=bf16)
    k = passage_ids.shape[1]
    prior = (np.full((len(questions), k), -np.log(k)) if passage_scores is None
             else passage_log_prior(passage_scores))
    return QASplit(task, list(questions), [tuple(a) for a in answers],
                   [list(range(q * k, (q + 1) * k)) for q in range(len(questions))], prior, texts, states,
                   feats["context_mask"], feats["offsets"], spans)


def subsample_indices(n: int, max_size: int | None, seed: int) -> np.ndarray:
    """At most ``max_size`` of ``range(n)``, drawn without replacement with ``seed``, sorted."""
    if max_size is None or n <= max_size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_size, replace=False))


@dataclass
class TaskData:
    """What a loader returns: the training split, evaluation splits by name, the task's retriever,
    the texts of its knowledge source (for saving the index), and a description of what was used."""

    train: ClassificationSplit | QASplit
    evals: dict[str, ClassificationSplit | QASplit]
    retriever: object
    corpus: list[str]
    description: str


def _classification_task(name, data, spec, backbone, tokenizer, encoder, n_lower, max_test, bf16, validation):
    tr = subsample_indices(len(data.train), spec.max_train, spec.data_seed)
    train = ([data.train[i].text for i in tr], data.labels("train")[tr])
    evals, desc = {}, f"{len(tr)} of {len(data.train)} training"
    for key, split in [("validation", "dev")] * validation + [("test", "test")]:
        rows = subsample_indices(len(data.split(split)), max_test, spec.data_seed)
        evals[key] = ([data.split(split)[i].text for i in rows], data.labels(split)[rows])
        desc += f", {len(rows)} of {len(data.split(split))} {key}"
    train_split, evals, retriever = classification_splits(name, backbone, tokenizer, encoder, train, evals,
                                                          spec.k, n_lower, spec.max_length, bf16)
    return TaskData(train_split, evals, retriever, train[0], desc + " examples")


def trec_task(spec, backbone, tokenizer, encoder, n_lower: int, max_test: int | None = None,
              bf16: bool | None = None, validation: bool = False) -> TaskData:
    """TREC question types (6 classes; Li and Roth, 2002) with labelled-neighbour retrieval."""
    from ..data import load_sentclf

    return _classification_task("trec", load_sentclf("trec"), spec, backbone, tokenizer, encoder, n_lower,
                                max_test, bf16, validation)


def clinc_task(spec, backbone, tokenizer, encoder, n_lower: int, max_test: int | None = None,
               bf16: bool | None = None, validation: bool = False) -> TaskData:
    """CLINC150 in-scope intents (150 classes; Larson et al., 2019) with labelled-neighbour retrieval."""
    from ..data import load_clinc150

    return _classification_task("clinc150", load_clinc150().intents, spec, backbone, tokenizer, encoder,
                                n_lower, max_test, bf16, validation)


def squad_task(spec, backbone, tokenizer, encoder, n_lower: int, max_test: int | None = None,
               bf16: bool | None = None, validation: bool = False) -> TaskData:
    """SQuAD 2.0 answerable questions, split by article as in the RAG chapter, with BM25 over chunks.

    The reader is trained on each training question's gold chunk and evaluated on the BM25 top-k
    chunks of the test questions (four held-out articles), marginalising over them; with
    ``validation`` also on those of the validation article's questions (the RAG chapter's).
    """
    from ..data import load_squad2
    from ..rag.qa import VALIDATION_ARTICLES, build_open_book_qa
    from ..retrieval import BM25

    qa = build_open_book_qa(load_squad2(), count_tokens=lambda text: len(tokenizer.tokenize(text)))
    corpus = [c.text for c in qa.chunks]
    bm25 = BM25().index(corpus)
    tr = [qa.train[i] for i in subsample_indices(len(qa.train), spec.max_train, spec.data_seed)]
    te = [qa.test[i] for i in subsample_indices(len(qa.test), max_test, spec.data_seed)]
    train = qa_split("squad2", backbone, tokenizer, [q.question for q in tr], [q.answers for q in tr],
                     np.array([[q.gold_chunk] for q in tr]), None, corpus, n_lower, spec.max_length,
                     gold=[(q.gold_chunk, q.answer_start, q.answers[0]) for q in tr], bf16=bf16)
    def read(items):
        scores, ids = bm25.search([q.question for q in items], spec.k)
        return qa_split("squad2", backbone, tokenizer, [q.question for q in items], [q.answers for q in items], ids,
                        scores, corpus, n_lower, spec.max_length, bf16=bf16)

    va = [qa.validation[i] for i in subsample_indices(len(qa.validation), max_test, spec.data_seed)] if validation else []
    evals = ({"validation": read(va)} if validation else {}) | {"test": read(te)}
    desc = (f"{len(tr)} of {len(qa.train)} training questions (gold chunk), "
            + (f"{len(va)} validation ({', '.join(VALIDATION_ARTICLES)}), " if validation else "")
            + f"{len(te)} of {len(qa.test)} test questions (BM25 top-{spec.k} of {len(corpus)} chunks)")
    return TaskData(train, evals, bm25, corpus, desc)


#: Dataset loaders by task name: ``loader(spec, backbone, tokenizer, encoder, n_lower, max_test=None, bf16=None,
#: validation=False)``. ``spec.max_train`` / ``spec.data_seed`` choose the training examples; ``max_test``
#: subsamples the test (and validation) set (same seed); ``validation`` adds ``evals["validation"]``: the
#: dataset's dev split for TREC (a seeded tenth of its training file) and CLINC150, the validation article for SQuAD.
TASK_LOADERS = {"trec": trec_task, "clinc150": clinc_task, "squad2": squad_task}
