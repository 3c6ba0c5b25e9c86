"""Why a chapter can run ten times slower on a busy laptop: OpenMP threads that spin while waiting.

Trains a small MLP (bf16 autocast, two intra-op threads, as the chapters train) in a fresh process
under each OMP_WAIT_POLICY, on an idle machine and while another process keeps one core busy, and
writes the wall times to benchmarks/results/omp_wait_policy.json.

Usage: python benchmarks/omp_wait_policy.py [--steps 300] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "omp_wait_policy.json"

TRAIN = """
import time, torch
torch.manual_seed(0); torch.set_num_threads(2)
net = torch.nn.Sequential(torch.nn.Linear(384, 512), torch.nn.GELU(), torch.nn.Linear(512, 512),
                          torch.nn.GELU(), torch.nn.Linear(512, 6))
opt = torch.optim.AdamW(net.parameters(), 1e-3)
x, y = torch.randn(64, 384), torch.randint(0, 6, (64,))
start = time.perf_counter()
for _ in range({steps}):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = torch.nn.functional.cross_entropy(net(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
print(time.perf_counter() - start)
"""


def _spin(stop) -> None:
    while not stop.is_set():
        pass


def run(policy: str | None, steps: int) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, "-c", TRAIN.format(steps=steps)], env=env, capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {"steps": args.steps, "cores": os.cpu_count(), "runs": []}
    for load in ("idle", "one core busy"):
        stop = mp.Event()
        spinner = mp.Process(target=_spin, args=(stop,)) if load != "idle" else None
        if spinner:
            spinner.start()
            time.sleep(0.5)
        try:
            for policy in (None, "ACTIVE", "PASSIVE"):
                times = [run(policy, args.steps) for _ in range(args.repeats)]
                row = {"load": load, "OMP_WAIT_POLICY": policy or "(unset)", "best_s": round(min(times), 3),
                       "median_s": round(sorted(times)[len(times) // 2], 3)}
                results["runs"].append(row)
                print(f"{load:14s} {row['OMP_WAIT_POLICY']:8s} best {row['best_s']:7.2f} s  "
                      f"median {row['median_s']:7.2f} s", flush=True)
        finally:
            if spinner:
                stop.set()
                spinner.join()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(RESULTS.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
