"""A small end-to-end RAG experiment: the generator's loss trains the query encoder (CLINC150).

Knowledge base: one document per CLINC150 intent (Larson et al., 2019), titled with the intent's
name as words (``"pto request"``) and holding a few of its training utterances. A query is another
utterance; its answer is the intent's name. The query encoder is frozen MiniLM sentence vectors
followed by a trainable linear map, initialised to the identity (times ``score_scale``, a fixed
inverse temperature for ``p(z|x)``); document vectors are frozen MiniLM vectors in a FAISS index.
The generator is a pointer-generator (See et al., 2017) reading ``"title / text // question"``:
the answer is in the right document's title, so the generator learns to copy titles, and the
RAG loss ``-log sum_z p(z|x) p(y|x,z)`` then raises ``p(z|x)`` of the documents whose titles it can
copy: the retriever is trained with no retrieval labels (Lewis et al., 2020, sec. 2.4).

Reported before and after training on held-out utterances (CLINC150 test split), as fractions and
per question (``ToyResult.items``, for paired intervals): recall@1 and recall@k of the gold document,
exact match of RAG-Sequence (fast) and RAG-Token greedy decoding, a closed-book pointer-generator
(question only, same steps) as a baseline and, optionally, the paper's frozen-retriever ablation
(the same training with the query encoder fixed). Training runs a
fixed number of seeded steps, so two runs on one machine and thread count give the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..utils import Timer, progress, seed_everything
from .closed_book import ClosedBookConfig, closed_book_generate, train_closed_book
from .model import RAGConfig, RAGModel
from .pointer import PointerGenerator, PointerGeneratorConfig
from .tokenizer import WordTokenizer

__all__ = ["ToyConfig", "ToyData", "ToyResult", "LinearQueryEncoder", "build_toy_data", "run_toy", "evaluate_rag"]


@dataclass
class ToyConfig:
    """Sizes, steps and learning rates of :func:`run_toy`."""

    n_intents: int = 150  # the first n intents in name order
    doc_utterances: int = 3  # training utterances written into each intent's document
    train_per_intent: int = 20  # training queries per intent (other utterances than the documents')
    test_per_intent: int = 5  # held-out queries per intent, from the test split
    n_docs: int = 5  # k
    marginalization: str = "sequence"  # training loss: "sequence" or "token"
    steps: int = 150
    batch_size: int = 32
    lr_generator: float = 3e-3
    lr_query: float = 1e-3
    score_scale: float = 20.0  # inverse temperature of p(z|x) on cosine similarities
    embed_dim: int = 64
    hidden_dim: int = 64
    max_answer_length: int = 6
    closed_book: bool = True  # also train and score the question-only baseline
    frozen_retriever: bool = True  # also train the generator alone over the untrained retriever (an ablation)
    seed: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.n_intents <= 150 or self.n_docs > self.n_intents:
            raise ValueError(f"need 2 <= n_intents <= 150 and n_docs <= n_intents, got {self.n_intents}, {self.n_docs}")
        if self.doc_utterances + self.train_per_intent > 100 or self.test_per_intent > 30:
            raise ValueError("CLINC150 has 100 training and 30 test utterances per intent: "
                             f"{self.doc_utterances} + {self.train_per_intent} and {self.test_per_intent} asked")
        if self.steps < 0 or self.batch_size < 1:
            raise ValueError(f"steps must be >= 0 and batch_size >= 1, got {self.steps}, {self.batch_size}")


@dataclass
class ToyData:
    """Documents (titles = answers), train/test questions with their gold document ids."""

    titles: list[str]
    texts: list[str]
    train_questions: list[str]
    train_ids: np.ndarray
    test_questions: list[str]
    test_ids: np.ndarray


@dataclass
class ToyResult:
    """Held-out scores before and after training (fractions), training curves and the wall time."""

    before: dict[str, float]
    after: dict[str, float]
    frozen_retriever: dict[str, float] | None  # after training the generator only (query encoder fixed)
    closed_book_em: float | None
    losses: list[float] = field(repr=False)
    closed_book_losses: list[float] = field(repr=False)
    n_docs_in_kb: int = 0
    n_train: int = 0
    n_test: int = 0
    seconds: float = 0.0
    # per held-out question 0/1 values behind before/after/frozen_retriever/closed_book, for paired intervals:
    # {"before": {"recall@1": [Q], ...}, ..., "closed_book": {"em": [Q]}}
    items: dict = field(default_factory=dict, repr=False)


def build_toy_data(config: ToyConfig, clinc=None) -> ToyData:
    """The knowledge base and queries for :func:`run_toy`, drawn with ``config.seed``."""
    from ragmtl.data import load_clinc150

    clinc = clinc or load_clinc150()
    rng = np.random.RandomState(config.seed)
    names = [n.replace("_", " ") for n in clinc.intents.label_names[: config.n_intents]]
    train_texts, train_labels = clinc.intents.texts("train"), clinc.intents.labels("train")
    test_texts, test_labels = clinc.intents.texts("test"), clinc.intents.labels("test")
    texts, train_q, train_ids, test_q, test_ids = [], [], [], [], []
    for i in range(config.n_intents):
        rows = rng.permutation(np.flatnonzero(train_labels == i))
        texts.append(" ; ".join(train_texts[j] for j in rows[: config.doc_utterances]))
        queries = rows[config.doc_utterances: config.doc_utterances + config.train_per_intent]
        train_q += [train_texts[j] for j in queries]
        train_ids += [i] * config.train_per_intent
        test_q += [test_texts[j] for j in rng.permutation(np.flatnonzero(test_labels == i))[: config.test_per_intent]]
        test_ids += [i] * config.test_per_intent
    return ToyData(names, texts, train_q, np.array(train_ids), test_q, np.array(test_ids))


class LinearQueryEncoder(nn.Module):
    """``q(x) = score_scale * W e(x)`` on a frozen sentence vector ``e(x)`` [B, H] -> [B, H]; W starts at I."""

    def __init__(self, dim: int, score_scale: float = 1.0) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim, bias=False)
        nn.init.eye_(self.linear.weight)
        self.score_scale = score_scale

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.score_scale * self.linear(vectors)


def _answers(tokenizer: WordTokenizer, titles: list[str], ids) -> torch.Tensor:
    return tokenizer([titles[i] for i in ids])["input_ids"]


@torch.no_grad()
def evaluate_rag(model: RAGModel, vectors: torch.Tensor, questions: list[str], gold: np.ndarray,
                 max_length: int, chunk: int = 250, per_item: bool = False) -> dict:
    """Recall@1 and @k of the gold document, exact match of RAG-Sequence (fast) and RAG-Token greedy.

    Fractions over the questions, or with ``per_item=True`` each question's 0/1 value (arrays [Q]),
    for paired intervals.
    """
    was_training = model.training
    model.eval()
    k = model.config.n_docs
    items: dict[str, list] = {"recall@1": [], f"recall@{k}": [], "em_rag_sequence": [], "em_rag_token": []}
    titles = model.doc_titles
    for start in range(0, len(questions), chunk):
        q, g = vectors[start:start + chunk], gold[start:start + chunk]
        doc_ids, _ = model.retrieve(q)
        items["recall@1"] += (doc_ids[:, 0].numpy() == g).tolist()
        items[f"recall@{k}"] += (doc_ids.numpy() == g[:, None]).any(1).tolist()
        for mode in ("sequence", "token"):
            seqs, _ = model.generate(q, questions[start:start + chunk], mode=mode, max_length=max_length)
            decoded = model.tokenizer.batch_decode(seqs)
            items[f"em_rag_{mode}"] += [d == titles[i] for d, i in zip(decoded, g)]
    model.train(was_training)
    arrays = {key: np.array(v, dtype=float) for key, v in items.items()}
    return arrays if per_item else {key: float(v.mean()) for key, v in arrays.items()}


def _batches(n: int, config: ToyConfig):
    g = torch.Generator().manual_seed(config.seed)
    for _ in range(config.steps):
        yield torch.randint(0, n, (config.batch_size,), generator=g)


def _closed_book(tokenizer, data: ToyData, config: ToyConfig) -> tuple[np.ndarray, list[float]]:
    """Train a pointer-generator on question -> answer alone; per-question exact match (0/1) on the test questions."""
    cb = ClosedBookConfig(config.steps, config.batch_size, config.lr_generator, config.embed_dim, config.hidden_dim,
                          config.max_answer_length, config.seed + 1)
    answers = [data.titles[i] for i in data.train_ids]
    gen, losses = train_closed_book(data.train_questions, answers, tokenizer, cb)
    decoded = closed_book_generate(gen, tokenizer, data.test_questions, config.max_answer_length)
    return np.array([d == data.titles[i] for d, i in zip(decoded, data.test_ids)], dtype=float), losses


def _train_rag(config: ToyConfig, data: ToyData, vectors: dict, tokenizer: WordTokenizer, train_query: bool,
               desc: str, score_before: bool = True) -> tuple[dict | None, dict, list[float]]:
    """Build, score (if ``score_before``), train (query encoder too when ``train_query``), score one RAG model.

    Scores are per-question arrays (:func:`evaluate_rag` with ``per_item=True``).
    """
    torch.manual_seed(config.seed)
    generator = PointerGenerator(PointerGeneratorConfig(len(tokenizer), tokenizer.pad_token_id, config.embed_dim,
                                                        config.hidden_dim))
    model = RAGModel(LinearQueryEncoder(vectors["docs"].shape[1], config.score_scale), vectors["docs"], data.texts,
                     generator, tokenizer, RAGConfig(n_docs=config.n_docs, marginalization=config.marginalization,
                                                     decoder_start_token_id=tokenizer.bos_token_id),
                     doc_titles=data.titles)
    model.query_encoder.requires_grad_(train_query)
    def scores() -> dict[str, float]:
        return evaluate_rag(model, vectors["test"], data.test_questions, data.test_ids, config.max_answer_length,
                            per_item=True)

    before = scores() if score_before else None
    groups = [{"params": model.generator.parameters(), "lr": config.lr_generator}]
    if train_query:
        groups.append({"params": model.query_encoder.parameters(), "lr": config.lr_query})
    opt = torch.optim.Adam(groups)
    losses = []
    for idx in progress(_batches(len(data.train_questions), config), total=config.steps, desc=desc):
        labels = _answers(tokenizer, data.titles, data.train_ids[idx])
        loss = model(vectors["train"][idx], [data.train_questions[i] for i in idx], labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return before, scores(), losses


def run_toy(config: ToyConfig | None = None, encoder=None, clinc=None) -> ToyResult:
    """Train RAG (query encoder + generator) on CLINC150 intents for ``config.steps`` steps; see the module doc.

    ``encoder`` is a :class:`ragmtl.encoders.Encoder` (default: a new one, with its disk cache).
    """
    from ragmtl.encoders import Encoder

    config = config or ToyConfig()
    seed_everything(config.seed)
    with Timer() as timer:
        data = build_toy_data(config, clinc)
        encoder = encoder or Encoder()
        docs = [f"{t} / {x}" for t, x in zip(data.titles, data.texts)]
        vectors = {"docs": encoder.encode(docs, show_progress=False),
                   "train": torch.from_numpy(encoder.encode(data.train_questions, show_progress=False)),
                   "test": torch.from_numpy(encoder.encode(data.test_questions, show_progress=False))}
        tokenizer = WordTokenizer.from_texts(docs + data.train_questions)
        before, after, losses = _train_rag(config, data, vectors, tokenizer, True, "RAG training")
        frozen = (_train_rag(config, data, vectors, tokenizer, False, "frozen retriever", False)[1]
                  if config.frozen_retriever else None)
        closed, closed_losses = _closed_book(tokenizer, data, config) if config.closed_book else (None, [])
    mean = lambda items: None if items is None else {key: float(v.mean()) for key, v in items.items()}  # noqa: E731
    return ToyResult(mean(before), mean(after), mean(frozen), None if closed is None else float(closed.mean()),
                     losses, closed_losses, len(docs), len(data.train_questions), len(data.test_questions),
                     timer.elapsed, {"before": before, "after": after, "frozen_retriever": frozen,
                                     "closed_book": None if closed is None else {"em": closed}})
