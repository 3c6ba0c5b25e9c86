"""Data-parallel training: 2 processes (gloo, CPU, fp32, per-process batch B) vs 1 process (batch 2B).

The setting of tests/test_scale_ddp.py (two synthetic tasks, a hard-sharing MLP with a large
init, AdamW lr 1e-2, uniform task sampling), for ``--steps`` steps; prints and writes the largest
absolute parameter difference between the two runs (the glue ``scale_ddp_max_param_diff``), and,
as the yardstick, the difference to a 1-process run with batch B (what skipping the all-reduce
would roughly give).

Usage: nice -n 19 .venv/bin/python benchmarks/scale_ddp.py [--steps 4]
Writes benchmarks/results/scale_ddp.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "scale_ddp.json"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    from test_scale_ddp import NUM_CLASSES, config, load, make, max_diff

    from ragmtl.mtl import EqualWeighting, train_multitask
    from ragmtl.scale import DDPConfig, launch_multitask

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8, help="per-process batch B")
    args = parser.parse_args()

    def cfg(batch):
        from dataclasses import replace
        return replace(config(batch), steps=args.steps, eval_every=args.steps)

    model, weighting, data = make()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        launch_multitask(model, weighting, data, cfg(args.batch), Path(tmp) / "two", DDPConfig(world_size=2))
        two_s = time.perf_counter() - t
        t = time.perf_counter()
        launch_multitask(model, weighting, data, cfg(2 * args.batch), Path(tmp) / "one", DDPConfig(world_size=1))
        one_s = time.perf_counter() - t
        two, one = load(Path(tmp) / "two"), load(Path(tmp) / "one")
    half, _, _ = make()
    train_multitask(half, EqualWeighting(list(NUM_CLASSES)), data, cfg(args.batch))
    out = {"steps": args.steps, "per_process_batch": args.batch, "max_param_diff_2proc_vs_1proc": max_diff(two, one),
           "max_param_diff_batch_B_vs_2B": max_diff(half.state_dict(), one), "two_process_wall_s": two_s,
           "one_process_wall_s": one_s}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
