"""``python -m ragmtl evaluate``: reload a saved model, rebuild its test splits and score them."""
from __future__ import annotations

from pathlib import Path

from .common import PROG, add_subparser, positive_int, saved_folder, scores_json, select, task_list
from .train import task_data

__all__ = ["check_knowledge_source", "cmd_evaluate", "add_evaluate"]


def check_knowledge_source(root: Path, task: str, corpus: list[str]) -> None:
    """The rebuilt corpus must be the one whose sha256 the saved index recorded."""
    from ..sharing import INDEX_RECIPE_NAME, MissingFileError, read_manifest, texts_sha256
    from ..sharing.files import check_inside, read_json

    name = f"indexes/{task}/{INDEX_RECIPE_NAME}"
    if name not in read_manifest(root):
        raise MissingFileError(f"{root} holds no index for task {task!r} (its manifest does not list {name})")
    recipe = read_json(check_inside(root, name))
    recorded = (recipe.get("corpus") if isinstance(recipe, dict) else None) or {}
    found = texts_sha256(corpus)
    if recorded.get("texts_sha256") != found:
        raise ValueError(f"task {task!r}: the rebuilt knowledge source ({len(corpus)} texts, sha256 {found}) is not "
                         f"the saved one ({recorded.get('n_docs')} texts, sha256 {recorded.get('texts_sha256')} in "
                         f"{root / name}): the data or the loader changed since the model was saved")


def cmd_evaluate(args) -> list[str]:
    from ..models import evaluate, load_ragmtl

    root = saved_folder(args.dir)
    model, config = load_ragmtl(root)
    tasks = select(config.task_names, args.tasks, "this model's tasks")
    data = task_data(config, tasks, args.max_test)
    for t, d in data.items():
        check_knowledge_source(root, t, d.corpus)
    scores = evaluate(model, {t: d.evals["test"] for t, d in data.items()}, generation=not args.no_generation)
    return [scores_json(scores)]


def add_evaluate(subs) -> None:
    p = add_subparser(subs, "evaluate", "score a saved model on its tasks' test splits",
                      "Load a model saved by `train` (every file checked against its sha256), rebuild its tasks' "
                      "test splits, check each rebuilt knowledge source is the saved one, and print the scores as "
                      "JSON. With the same --max-test the scores are those `train` printed.",
                      f"  {PROG} evaluate runs/all\n"
                      f"  {PROG} evaluate runs/all --tasks squad2 --max-test 100 --no-generation")
    p.add_argument("dir", metavar="DIR", help="a folder saved by `train`")
    p.add_argument("--tasks", type=task_list, metavar="T1,T2", help="comma-separated tasks of the model (default: all)")
    p.add_argument("--max-test", type=positive_int, metavar="N", help="test examples per task (default: all)")
    p.add_argument("--no-generation", action="store_true", help="QA: EM and F1 only")
    p.set_defaults(func=cmd_evaluate)
