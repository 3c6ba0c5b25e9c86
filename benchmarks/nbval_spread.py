"""How much each number the book prints moves on another machine, and the tolerances that follow.

A reader's `make test` re-executes every notebook on a machine that did not produce the stored
outputs. This script stands in for such machines on this one and measures how far each printed
number moves, so that `tests/nbval_numbers.py` can compare re-executed numbers within declared,
measured tolerances (text and structure stay exact).

Usage:
  python benchmarks/nbval_spread.py run NAME [--env K=V ...] [--cpus 0] [book/x.ipynb ...]
      execute every notebook (fresh process, empty cache of its own) under the environment given;
      keep the text outputs in benchmarks/results/nbval_runs/NAME/<notebook>.json
  python benchmarks/nbval_spread.py derive [NAME ...]
      compare each kept run with the stored outputs (book/*.ipynb), number by number; write the
      spreads to benchmarks/results/nbval_spread.json and the tolerances to tests/nbval_tolerances.json

The perturbations used for the book (see PERTURBATIONS) are each a plausible other machine: one
thread instead of two (kernels split their sums differently); and a CPU without bfloat16 or AVX-512
(fp32 autocast-free training, AVX2 kernels in torch, oneDNN, MKL, OpenBLAS and FAISS).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RUNS = ROOT / "benchmarks" / "results" / "nbval_runs"
SPREAD = ROOT / "benchmarks" / "results" / "nbval_spread.json"
TOLERANCES = ROOT / "tests" / "nbval_tolerances.json"

# name -> (environment, CPUs it is pinned to); the two run side by side, one core each.
PERTURBATIONS = {
    "one-thread": ({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, "0"),
    "no-bf16-avx2": ({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RAGMTL_BF16": "0",
                      "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                      "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OPENBLAS_CORETYPE": "Haswell",
                      "FAISS_OPT_LEVEL": "avx2"}, "1"),
}
SKIPPED_MIME = ("image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json")  # as nbval skips


def text_outputs(nb) -> dict[str, list[dict]]:
    """{cell id: outputs} with what nbval compares (images and metadata dropped, streams coalesced)."""
    from ragmtl.utils import coalesce_streams

    cells = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outs = []
        for out in coalesce_streams(cell.get("outputs", [])):
            kept = {"output_type": out["output_type"]}
            if out["output_type"] == "stream":
                kept.update(name=out["name"], text=out["text"])
            elif out["output_type"] == "error":
                kept.update(ename=out["ename"], evalue=out["evalue"])
            else:
                kept["data"] = {k: v for k, v in out.get("data", {}).items() if k not in SKIPPED_MIME}
            outs.append(kept)
        cells[cell["id"]] = outs
    return cells


def run_one(path: str, out_path: str) -> None:
    """Child: execute one notebook with nbclient (kernel in its folder); save its text outputs."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=3600, kernel_name="python3",
                   resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    record = {"notebook": path, "wall_s": round(time.perf_counter() - start, 1),
              "env": {k: os.environ.get(k) for k in sorted(set().union(*(e for e, _ in PERTURBATIONS.values())))},
              "cells": text_outputs(nb)}
    Path(out_path).write_text(json.dumps(record, indent=1) + "\n")


def notebooks_of(args_notebooks: list[str]) -> list[str]:
    if args_notebooks:
        return args_notebooks
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb") if p.name != "costs.ipynb")


def cmd_run(args) -> int:
    env = dict(os.environ)
    extra, cpus = PERTURBATIONS.get(args.name, ({}, None))
    extra = dict(extra)
    for item in args.env:
        key, _, value = item.partition("=")
        extra[key] = value
    env.update(extra)
    cpus = args.cpus or cpus
    cache = ROOT / ".cache" / (args.cache or f"spread-{args.name}")
    if not args.keep_cache:
        shutil.rmtree(cache, ignore_errors=True)  # empty cache, as a fresh clone has
    env["RAGMTL_CACHE"] = str(cache)
    out_dir = RUNS / args.name
    out_dir.mkdir(parents=True, exist_ok=True)
    for nb in notebooks_of(args.notebooks):
        target = out_dir / (Path(nb).stem + ".json")
        cmd = [sys.executable, __file__, "one", nb, str(target)]
        if cpus:
            cmd = ["taskset", "-c", cpus] + cmd
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            print(f"{nb}: execution failed under {args.name}", file=sys.stderr)
            return 1
        print(f"{args.name}: {nb} {time.perf_counter() - start:.0f} s", flush=True)
    return 0


GLUE_MIME = "application/papermill.record/text/plain"


def glue_spread(nb, spread: dict) -> dict:
    """{glue name: {"value": stored text, "dev": largest deviation over the runs}} for numeric glue values."""
    out = {}
    for cell in nb.cells:
        j = 0
        for o in cell.get("outputs", []):
            if GLUE_MIME not in o.get("data", {}):
                continue
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            entry = spread.get(cell.get("id"), {}).get(f"{GLUE_MIME}:{j}")
            j += 1
            if name and entry and entry["n"] == 1 and entry["dev"]:
                out[name] = {"value": entry["values"][0], "dev": max(d[0] for d in entry["dev"].values())}
    return out


def interval_check(glued: dict) -> list[dict]:
    """Glued numbers X with X_ci_low / X_ci_high whose measured spread exceeds the interval's half-width."""
    wide = []
    for name, entry in sorted(glued.items()):
        low, high = glued.get(f"{name}_ci_low"), glued.get(f"{name}_ci_high")
        if not (low and high):
            continue
        half = (float(high["value"]) - float(low["value"])) / 2
        if entry["dev"] > half:
            wide.append({"name": name, "value": entry["value"], "dev": entry["dev"], "half_width": half})
    return wide


def printed_intervals(spread_nb: dict, nb_name: str) -> list[dict]:
    """Printed intervals "est [low, high]" whose estimate moved more than half the interval's width."""
    from tests.nbval_numbers import PLACEHOLDER

    wide = []
    pattern = f"{PLACEHOLDER} [{PLACEHOLDER}, {PLACEHOLDER}]"
    for cell_id, fields in spread_nb.items():
        for field, entry in fields.items():
            if not entry["dev"] or "skeleton" not in entry:
                continue
            skeleton, start = entry["skeleton"], 0
            while (at := skeleton.find(pattern, start)) >= 0:
                i = skeleton[:at].count(PLACEHOLDER)  # the estimate's position among the numbers
                start = at + len(pattern)
                est, low, high = (float(v.replace("\u2212", "-")) for v in entry["values"][i:i + 3])
                dev = max(d[i] for d in entry["dev"].values())
                if dev > (high - low) / 2:
                    wide.append({"notebook": nb_name, "cell": cell_id, "field": field, "printed": entry["values"][i:i + 3],
                                 "dev": dev, "half_width": (high - low) / 2})
    return wide


def cmd_derive(args) -> int:
    import nbformat

    from tests.nbval_numbers import derive_tolerances, measure_spread

    names = args.names or sorted(p.name for p in RUNS.iterdir() if p.is_dir())
    spread, findings, glued = {}, [], {}
    for nb_path in notebooks_of([]):
        stem = Path(nb_path).stem
        stored = text_outputs(nbformat.read(ROOT / nb_path, as_version=4))
        runs = {}
        for name in names:
            file = RUNS / name / f"{stem}.json"
            if file.exists():
                runs[name] = json.loads(file.read_text())["cells"]
        if not runs:
            continue
        spread[Path(nb_path).name], found = measure_spread(stored, runs)
        findings += [f"{Path(nb_path).name}: {f}" for f in found]
        glued.update(glue_spread(nbformat.read(ROOT / nb_path, as_version=4), spread[Path(nb_path).name]))
    wide = interval_check(glued) + [w for nb, cells in spread.items() for w in printed_intervals(cells, nb)]
    for cells in spread.values():  # the skeletons served the interval check; the file keeps the numbers
        for fields in cells.values():
            for entry in fields.values():
                entry.pop("skeleton", None)
    SPREAD.write_text(json.dumps({"runs": {n: PERTURBATIONS.get(n, ({}, None))[0] for n in names},
                                  "glue": glued, "spread_beyond_half_interval": wide,
                                  "notebooks": spread, "text_differences": findings}, indent=1) + "\n")
    TOLERANCES.write_text(json.dumps(derive_tolerances(spread), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SPREAD.relative_to(ROOT)} and {TOLERANCES.relative_to(ROOT)}")
    for f in findings:
        print("text differs:", f)
    for w in wide:
        print("spread beyond the reported half-interval:", w)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("name")
    run.add_argument("notebooks", nargs="*")
    run.add_argument("--env", action="append", default=[], metavar="K=V")
    run.add_argument("--cpus", default=None, help="taskset CPU list (default: the perturbation's)")
    run.add_argument("--cache", default=None, help="cache folder name under .cache/ (default: spread-NAME)")
    run.add_argument("--keep-cache", action="store_true",
                     help="start from the run's existing cache (to redo one notebook after a full run)")
    one = sub.add_parser("one")
    one.add_argument("notebook")
    one.add_argument("out")
    derive = sub.add_parser("derive")
    derive.add_argument("names", nargs="*")
    args = parser.parse_args()
    if args.cmd == "one":
        run_one(args.notebook, args.out)
        return 0
    return cmd_run(args) if args.cmd == "run" else cmd_derive(args)


if __name__ == "__main__":
    sys.exit(main())
