"""``ragmtl train --nproc N``: the training run of :mod:`ragmtl.cli.train` on N spawned processes.

Each rank joins a gloo group, builds the task data itself (the same loaders and seed, so the same
data on every rank), builds the model from the seed, and trains with
:func:`~ragmtl.scale.ddp_ragmtl.train_ragmtl_ddp`. Rank 0 alone scores the test splits and saves
the model folder (``save_ragmtl``: built whole, swapped in), then writes the scores to a file the
launcher reads; a failing rank stops the others and the launcher raises
:class:`~ragmtl.scale.ddp.DistributedRunError` naming it (the CLI exits 1), with nothing saved.
``--nproc`` launches the processes itself (``torch.multiprocessing`` spawn, one machine), so no
``torchrun`` is needed; several machines would need ``torchrun`` and a rendezvous, not built here.
"""
from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

__all__ = ["train_distributed"]


def _rank(rank: int, nproc: int, port: int, args, config, train_config, names, scores_path: str) -> None:
    import torch
    import torch.distributed as dist

    from ..cli.train import task_data
    from ..models import card_info, save_ragmtl
    from ..models.card import training_record
    from ..models.evaluate import predict, score
    from ..models.model import build_model
    from ..mtl.weighting import make_weighting
    from ..utils import seed_everything
    from .ddp_ragmtl import train_ragmtl_ddp

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=nproc,
                            timeout=timedelta(seconds=600))
    try:
        data = task_data(config, names, args.max_test)
        seed_everything(train_config.seed)
        model = build_model(config.with_tasks(names), seed=train_config.seed)
        pcgrad = {"seed": train_config.seed} if args.weighting == "pcgrad" else {}
        train_ragmtl_ddp(model, {t: d.train for t, d in data.items()}, train_config,
                         make_weighting(args.weighting, names, **pcgrad))
        if rank == 0:
            scores = {t: score(d.evals["test"], predict(model, d.evals["test"]), not args.no_generation)
                      for t, d in data.items()}
            training = training_record(train_config, args.weighting,
                                       {t: len(d.train.trainable_rows) for t, d in data.items()}, args.max_test)
            training = {**training, "data_parallel": {"nproc": nproc, "backend": "gloo"}}
            save_ragmtl(Path(args.out), model, indexes={t: (d.retriever, d.corpus) for t, d in data.items()},
                        metrics=scores, training=training, card=card_info(config, scores, training=training),
                        overwrite=args.overwrite)
            Path(scores_path).write_text(json.dumps(scores))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def train_distributed(args, config, train_config, names, nproc: int) -> dict:
    """Run the training on ``nproc`` processes; return rank 0's test scores ({task: {metric: value}})."""
    from .ddp import free_port, spawn_ranks

    args = SimpleNamespace(**{k: getattr(args, k) for k in ("out", "overwrite", "max_test", "weighting",
                                                              "no_generation")})  # picklable for spawn
    with tempfile.TemporaryDirectory() as tmp:
        scores_path = os.path.join(tmp, "scores.json")
        spawn_ranks(_rank, (nproc, free_port(), args, config, train_config, names, scores_path), nproc, args.out)
        return json.loads(Path(scores_path).read_text())
