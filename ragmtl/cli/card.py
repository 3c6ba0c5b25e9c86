"""``python -m ragmtl card``: rewrite a saved model's ``README.md`` from its config, metrics and training settings."""
from __future__ import annotations

from .common import PROG, add_subparser, saved_folder

__all__ = ["cmd_card", "add_card"]


def cmd_card(args) -> list[str]:
    from ..models import METRICS_NAME, TRAINING_NAME, RAGMTLConfig, card_info, read_metrics, read_training
    from ..sharing import MissingFileError, read_config, read_manifest, write_model_card

    root = saved_folder(args.dir)
    files = read_manifest(root)
    if METRICS_NAME not in files:
        raise MissingFileError(f"{root} holds no {METRICS_NAME}: a card reports the scores saved with the model")
    training = read_training(root) if TRAINING_NAME in files else None
    card = card_info(read_config(root, RAGMTLConfig), read_metrics(root), args.name, training=training)
    path = write_model_card(root, card)
    return [path.read_text(encoding="utf-8").rstrip("\n") if args.print else str(path)]


def add_card(subs) -> None:
    p = add_subparser(subs, "card", "(re)write a saved model's README.md model card",
                      "Write DIR/README.md, the model card (Mitchell et al., 2019), from the saved config, "
                      "metrics.json and training.json: description, training data with licences from ragmtl's "
                      "data manifest, training settings, results, limitations, files with sha256. Prints the "
                      "card's path (or the card). The folder is rewritten whole and swapped in, so an "
                      "interruption leaves the old card or the new one.",
                      f"  {PROG} card runs/all\n  {PROG} card runs/all --name 'RAG-MTL, 300 steps' --print")
    p.add_argument("dir", metavar="DIR", help="a folder saved by `train`")
    p.add_argument("--name", help="the card's title (default: from the tasks and the base model)")
    p.add_argument("--print", action="store_true", help="print the card instead of its path")
    p.set_defaults(func=cmd_card)
