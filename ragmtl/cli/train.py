"""``python -m ragmtl train``: build, train, evaluate and save a :mod:`ragmtl.models` model."""
from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

from .common import (ADAPTER_NAMES, BOOK_TASK_NAMES, PROG, WEIGHTING_NAMES, UsageError, add_subparser,
                     non_negative_int, positive_int, scores_json, select, task_list)

__all__ = ["task_data", "check_out", "cmd_train", "add_train"]


def task_data(config, tasks, max_test):
    """``{task: TaskData}`` (training and test splits, retriever, corpus) built by the task loaders with a
    pristine MiniLM; ``max_test`` subsamples the test splits."""
    from ..encoders import Encoder, load_minilm
    from ..models import TASK_LOADERS

    missing = [t for t in tasks if t not in TASK_LOADERS]
    if missing:
        raise ValueError(f"no data loader for task(s) {missing}; ragmtl.models.TASK_LOADERS has {sorted(TASK_LOADERS)}")
    tokenizer, backbone = load_minilm()
    encoder = Encoder()
    return {t: TASK_LOADERS[t](config.task(t), backbone, tokenizer, encoder, config.n_lower, max_test=max_test)
            for t in tasks}


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse, before any training, an ``--out`` that exists (without ``--overwrite``), that holds
    files other than a saved model (with it), that is a file, or whose parent folder cannot be written
    (``FileExistsError`` / ``PermissionError``)."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file: expected a new or empty folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"--out {out} exists and is not an empty folder: choose a new one or pass --overwrite")
        if not (out / "manifest.json").is_file():
            raise FileExistsError(f"--out {out} holds files that are not a saved model: --overwrite replaces only a "
                                  f"folder written by `{PROG} train`; choose a new or empty folder")
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rmdir(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".probe", dir=parent))
    except OSError as err:
        raise PermissionError(f"--out {out}: its folder {parent} cannot be written ({err.strerror}); "
                              "expected a writable place") from None


def cmd_train(args) -> list[str]:
    from ..models import RAGMTLConfig, TrainConfig, book_tasks, card_info, fit, save_ragmtl
    from ..models.card import training_record

    specs = {s.name: s for s in book_tasks()}
    names = select(list(specs), args.tasks, "known tasks")
    try:
        tasks = tuple(specs[n] if args.max_train is None else replace(specs[n], max_train=args.max_train)
                      for n in names)
        config = RAGMTLConfig(tasks=tasks, train_shared=not args.freeze_shared,
                              adapter=None if args.adapter == "none" else args.adapter)
        train_config = TrainConfig(steps=args.steps, seed=args.seed)
    except ValueError as err:
        raise UsageError(str(err)) from err
    if args.weighting == "gradnorm" and args.freeze_shared:
        raise UsageError("--weighting gradnorm balances gradient norms on the shared layers, which --freeze-shared "
                         "freezes; choose another weighting or train the shared layers")
    out = Path(args.out)
    check_out(out, args.overwrite)
    if args.nproc > 1:  # data-parallel: N processes, rank 0 scores and saves (ragmtl.scale.cli_ddp)
        from ..scale.ddp import check_weighting
        from ..mtl.weighting import make_weighting
        from ..scale.cli_ddp import train_distributed

        try:
            check_weighting(make_weighting(args.weighting, names))
        except ValueError as err:
            raise UsageError(f"--nproc {args.nproc}: {err}") from err
        return [scores_json(train_distributed(args, config, train_config, names, args.nproc))]
    data = task_data(config, names, args.max_test)
    run = fit(config, {t: d.train for t, d in data.items()}, {t: d.evals["test"] for t, d in data.items()},
              train_config=train_config, weighting=args.weighting, generation=not args.no_generation)
    scores = run.scores
    training = training_record(train_config, args.weighting, {t: len(d.train.trainable_rows) for t, d in data.items()},
                               args.max_test)
    save_ragmtl(out, run.model, indexes={t: (d.retriever, d.corpus) for t, d in data.items()}, metrics=scores,
                training=training, card=card_info(config, scores, training=training), overwrite=args.overwrite)
    return [scores_json(scores)]


def add_train(subs) -> None:
    p = add_subparser(subs, "train", "train a RAG-MTL model, score its test splits and save it",
                      "Train the RAG-MTL model (ragmtl.models) on the book's tasks, evaluate it on their test "
                      "splits, save it to --out (weights, config, retrieval indexes, metrics.json, training.json, "
                      "README.md model card) and print the scores as JSON ({task: {metric: value}}).",
                      f"  {PROG} train --out runs/all --steps 300 --weighting uncertainty --adapter lora\n"
                      f"  {PROG} train --out runs/trec --tasks trec --steps 2 --max-train 64 --max-test 32")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to save the model in (new or empty)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a model saved in --out before (written anew, then swapped in)")
    p.add_argument("--tasks", type=task_list, metavar="T1,T2",
                   help=f"comma-separated tasks among {','.join(BOOK_TASK_NAMES)} (default: all)")
    p.add_argument("--steps", type=positive_int, default=100, help="optimiser steps (default: %(default)s)")
    p.add_argument("--weighting", choices=WEIGHTING_NAMES, default="equal",
                   help="task weighting, from the MTL chapter: %(choices)s (default: %(default)s)")
    p.add_argument("--adapter", choices=ADAPTER_NAMES, default="none",
                   help="per-task adapters on the trainable top layers: %(choices)s (default: %(default)s)")
    p.add_argument("--freeze-shared", action="store_true",
                   help="freeze the shared top layers (train heads and adapters only; needs --adapter)")
    p.add_argument("--max-train", type=positive_int, metavar="N",
                   help="training examples per task, overriding each task's own limit (default: the task's)")
    p.add_argument("--max-test", type=positive_int, metavar="N", help="test examples per task (default: all)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="training seed (head initialisation, batch order, PCGrad's projection order; "
                        "default: %(default)s)")
    p.add_argument("--nproc", type=positive_int, default=1, metavar="N",
                   help="data-parallel training on N processes (torch.distributed, gloo; each a share of every "
                        "task's batch, so the batch is N times larger; default: %(default)s)")
    p.add_argument("--no-generation", action="store_true",
                   help="QA: skip the generation metrics (BLEU, chrF, ROUGE-L, METEOR); keep EM and F1")
    p.set_defaults(func=cmd_train)
