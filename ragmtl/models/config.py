"""Typed configs of the RAG-MTL model: one :class:`TaskSpec` per task, one :class:`RAGMTLConfig` for the model.

Both are frozen dataclasses that survive JSON exactly (``ragmtl.sharing.check_round_trip``), so a
saved model's ``config.json`` rebuilds the same architecture.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TASK_KINDS", "FUSIONS", "TaskSpec", "RAGMTLConfig", "TOP_LAYER_TARGETS", "book_tasks"]

TASK_KINDS = ("classification", "extractive_qa")
FUSIONS = ("bilinear", "mean", "none")  # how a classification head uses its retrieved neighbours
#: Every linear layer of a BERT layer, as suffixes; adapters go on these in the trainable top layers.
TOP_LAYER_TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense", "intermediate.dense", "output.dense")


@dataclass(frozen=True)
class TaskSpec:
    """One task: what it predicts, where its knowledge comes from and how it is fused.

    ``classification`` tasks retrieve their ``k`` nearest *labelled* training examples with the
    frozen MiniLM sentence vectors (a FAISS inner-product index) and fuse their labels with
    bilinear attention (``fusion="bilinear"``), a plain mean (``"mean"``) or not at all (``"none"``:
    no retrieval). ``extractive_qa`` tasks retrieve ``k`` passages with BM25; the reader reads the
    question with each passage (concatenation) and the answer probabilities are marginalised over
    the passages. ``dataset`` names the entry of ragmtl's data manifest (for the model card).
    ``max_train`` and ``data_seed`` fix which training examples are used: for a classification task
    they are also its knowledge source, so they belong to the model. ``name`` must be a plain name
    (letters, digits, '.', '_', '-'): it becomes a folder of the saved model (``UnsafePathError``, a
    ``ValueError``, otherwise).
    """

    name: str
    kind: str
    dataset: str
    num_classes: int = 0  # classification only
    k: int = 4
    fusion: str = "bilinear"
    max_length: int = 64  # WordPiece tokens per input (question + passage for QA)
    max_train: int | None = None  # training examples kept (also the labelled memory); None: all
    data_seed: int = 0  # seed of that subsample

    def __post_init__(self) -> None:
        from ..sharing.files import check_plain_name

        check_plain_name(self.name, "task name")  # it names the folder indexes/<name>/ of a saved model
        if self.kind not in TASK_KINDS:
            raise ValueError(f"task {self.name!r}: kind must be one of {TASK_KINDS}, got {self.kind!r}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"task {self.name!r}: fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.kind == "classification" and self.num_classes < 2:
            raise ValueError(f"classification task {self.name!r} needs num_classes >= 2, got {self.num_classes}")
        if self.max_train is not None and self.max_train < 1:
            raise ValueError(f"task {self.name!r}: max_train must be None or >= 1, got {self.max_train}")
        if self.k < 1 or self.max_length < 8:
            raise ValueError(f"task {self.name!r}: k must be >= 1 and max_length >= 8, got {self.k}, {self.max_length}")

    @property
    def retrieves(self) -> bool:
        return self.kind == "extractive_qa" or self.fusion != "none"


@dataclass(frozen=True)
class RAGMTLConfig:
    """The whole model: shared MiniLM, which of its layers are trained, adapters, and the tasks.

    The lower ``n_lower`` layers of MiniLM are frozen and shared by every task (their states are
    computed once per input); the layers above are shared and trained (``train_shared``), with
    optional per-task adapters of kind ``adapter`` ("lora", "bottleneck" or "task") on their
    linear layers. ``attention_init`` is the initial scale of the bilinear attention's W_a = s * I
    (attention starts as a softmax over cosine similarities at temperature 1/s); ``vote_init`` is the
    initial weight of the neighbours' vote in a classification head's logits.
    """

    tasks: tuple[TaskSpec, ...]
    n_lower: int = 4
    train_shared: bool = True
    adapter: str | None = None
    adapter_r: int = 8
    adapter_alpha: float = 16.0
    adapter_bottleneck: int = 32
    attention_init: float = 20.0
    vote_init: float = 5.0
    base_model: str = "sentence-transformers/all-MiniLM-L6-v2"

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ValueError("RAGMTLConfig needs at least one task")
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"task names must be distinct, got {names}")
        if self.adapter not in (None, "lora", "bottleneck", "task"):
            raise ValueError(f"adapter must be None, 'lora', 'bottleneck' or 'task', got {self.adapter!r}")
        if self.adapter is None and not self.train_shared:
            raise ValueError("nothing in the encoder would train: use train_shared=True or an adapter")
        if self.n_lower < 0:
            raise ValueError(f"n_lower must be >= 0, got {self.n_lower}")

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def task(self, name: str) -> TaskSpec:
        for t in self.tasks:
            if t.name == name:
                return t
        raise ValueError(f"task {name!r} is not in this model; its tasks: {self.task_names}")

    def with_tasks(self, names) -> "RAGMTLConfig":
        """The same model restricted to the tasks ``names`` (single-task and pairwise baselines)."""
        from dataclasses import replace

        return replace(self, tasks=tuple(self.task(n) for n in names))


def book_tasks() -> tuple[TaskSpec, ...]:
    """The chapter's three tasks: TREC question type, CLINC150 intent (both with labelled-neighbour
    retrieval; CLINC keeps 3,000 of its 15,000 training utterances, 20 per intent) and SQuAD 2.0
    answerable questions (BM25 top-1 chunk, 1,500 training questions, 128 tokens per question + passage)."""
    return (TaskSpec("trec", "classification", "sentclf", num_classes=6, k=4),
            TaskSpec("clinc150", "classification", "clinc150", num_classes=150, k=4, max_train=3000),
            TaskSpec("squad2", "extractive_qa", "squad2", k=1, max_length=128, max_train=1500))
