"""The model card of a RAG-MTL model, written from its config and scores alone (Mitchell et al., 2019).

``save_ragmtl(..., card=card_info(config, scores))`` and the command line's ``train`` and ``card``
use it, so rewriting a card later gives exactly the card saved with the model. The card lists only
the data files the model's tasks read (:data:`TASK_DATA_FILES`), and the training settings saved
in ``training.json`` (:func:`training_record`) when they are given.
"""
from __future__ import annotations

from ..sharing import ModelCardInfo
from .config import RAGMTLConfig

__all__ = ["TASK_DATA_FILES", "card_info", "training_record"]

#: The data files each task loader of :data:`ragmtl.models.TASK_LOADERS` reads (files of its dataset
#: in ragmtl's data manifest). A task not listed here is shown with all its dataset's files.
TASK_DATA_FILES = {"trec": ("TREC.train.all", "TREC.test.all"), "clinc150": ("data_full.json", "domains.json"),
                   "squad2": ("dev-v2.0.json",)}


def training_record(train_config, weighting: str, train_sizes: dict[str, int], max_test: int | None) -> dict:
    """How a model was trained, as JSON values: the :class:`~ragmtl.models.TrainConfig` fields (but
    ``show_progress``), the ``weighting`` name, the number of training examples per task and the
    test subsample size (None: every test example)."""
    from ..sharing import config_to_dict

    settings = {k: v for k, v in config_to_dict(train_config).items() if k != "show_progress"}
    return {**settings, "weighting": weighting, "train_examples": dict(train_sizes), "max_test": max_test}


def _data_files(config: RAGMTLConfig) -> dict[str, tuple[str, ...]] | None:
    files: dict[str, list[str]] = {}
    for t in config.tasks:
        if t.name not in TASK_DATA_FILES:
            return None
        files.setdefault(t.dataset, []).extend(TASK_DATA_FILES[t.name])
    return {d: tuple(dict.fromkeys(f)) for d, f in files.items()}


def card_info(config: RAGMTLConfig, results, name: str | None = None, training: dict | None = None) -> ModelCardInfo:
    """The model card of ``config`` reporting ``results`` ({task: {metric: value}}) and, when given,
    the ``training`` settings (see :func:`training_record`)."""
    base = config.base_model.split("/")[-1]
    lines = []
    for t in config.tasks:
        kept = ("all training examples" if t.max_train is None
                else f"{t.max_train} training examples (seed {t.data_seed})")
        if t.kind == "classification":
            how = ("no retrieval" if t.fusion == "none" else
                   f"its {t.k} nearest labelled training examples (frozen {base} vectors, FAISS inner product), "
                   f"fused with {'bilinear attention' if t.fusion == 'bilinear' else 'a mean'}")
            lines.append(f"- `{t.name}` ({t.dataset}): classification into {t.num_classes} classes; {how}; {kept}.")
        else:
            lines.append(f"- `{t.name}` ({t.dataset}): extractive QA reading the question with each of its BM25 "
                         f"top-{t.k} passages, the answer marginalised over them; {kept}.")
    upper = "trained and shared by all tasks" if config.train_shared else "frozen"
    adapter = ("no adapters" if config.adapter is None
               else f"per-task {config.adapter} adapters on their linear layers")
    description = (f"A retrieval-augmented multi-task model built with ragmtl (`ragmtl.models`): the encoder "
                   f"`{config.base_model}` with its lower {config.n_lower} layers frozen and shared, the layers "
                   f"above {upper}, {adapter}, and one head per task:\n\n" + "\n".join(lines))
    qa = any(t.kind == "extractive_qa" for t in config.tasks)
    abstain = (" The QA reader always extracts a span from the retrieved passages: it cannot abstain on "
               "unanswerable questions (it was trained on answerable ones only).") if qa else ""
    out_of_scope = ("Decisions about people, production use, languages other than English, and labels outside "
                    "the trained label sets." + abstain)
    limitations = ("Trained for a short, fixed number of steps on small subsamples on a CPU, for teaching; the "
                   "scores are those saved with the model (possibly on a test subsample) and are not comparable "
                   "to published results. Retrieval quality bounds every task: a wrong neighbour or passage "
                   "misleads the head. The encoder and the datasets carry the biases of their sources.")
    snippet = ("from ragmtl.models import load_ragmtl\n\n"
               "model, config = load_ragmtl(\"path/to/this/folder\")\n"
               "# or score it again: python -m ragmtl evaluate path/to/this/folder")
    return ModelCardInfo(
        name=name or f"RAG-MTL ({', '.join(config.task_names)}) on {base}", description=description,
        intended_use="Research and teaching: the RAG-MTL chapter of the ragmtl book (task weightings, adapters, "
                     "retrieval-augmented heads), reproduced and compared on the tasks above.",
        out_of_scope_use=out_of_scope, datasets=tuple(dict.fromkeys(t.dataset for t in config.tasks)),
        results=results, limitations=limitations, how_to_load=snippet, data_files=_data_files(config),
        training=training)
