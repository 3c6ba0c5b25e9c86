"""Execute each notebook in a fresh process and record its wall time and peak memory.

Usage: python benchmarks/notebook_costs.py [--inplace] [book/x.ipynb ...]   (default: every notebook)
Writes benchmarks/results/notebook_costs.json as {notebook path: {"wall_s": ..., "peak_mb": ...}},
merging with entries already there. Peak memory is the largest resident set of the executing
process and the kernel it starts (getrusage). With --inplace the executed notebooks are saved
(a fresh Restart & Run All, as `make refresh` does); otherwise stored outputs are not modified.
book/costs.ipynb, which shows this file, always runs last and is not itself recorded (its table
would otherwise be out of date the moment it was saved).
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from ragmtl.utils import coalesce_streams

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "notebook_costs.json"
# Budgets (the book's, on a 2-core CPU): 5 minutes per notebook, 8 for the RAG chapter and the
# capstone (each trains a reader); under 3 GB of memory each; 30 minutes for the whole book.
TARGET_WALL_S, TARGET_PEAK_MB = 300, 3072
WALL_BUDGETS_S = {"book/rag.ipynb": 480, "book/ragmtl.ipynb": 480}
BOOK_BUDGET_S = 1800


def run_one(path: str, inplace: bool = False) -> None:
    """Child mode: execute one notebook with nbclient (kernel in the notebook's folder), print stats."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=1800, kernel_name="python3",
                   resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    wall = time.perf_counter() - start
    if inplace:
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = coalesce_streams(cell.outputs)
        nbformat.write(nb, path)
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"wall_s": round(wall, 1), "peak_mb": round(peak_kb / 1024, 1)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--inplace", action="store_true", help="save the executed notebooks")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one, args.inplace)
        return 0
    notebooks = args.notebooks or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").rglob("*.ipynb")
                                         if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts)
    notebooks.sort(key=lambda nb: Path(nb).name == "costs.ipynb")  # the page showing the costs goes last
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.pop("book/costs.ipynb", None)
    over = []
    for nb in notebooks:
        key = str(Path(nb).resolve().relative_to(ROOT))
        if Path(nb).name == "costs.ipynb":  # it displays the file: write what was measured first
            RESULTS.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
        cmd = [sys.executable, __file__, "--one", key] + (["--inplace"] if args.inplace else [])
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            print(f"{key}: execution failed", file=sys.stderr)
            return 1
        stats = json.loads(out.stdout.strip().splitlines()[-1])
        if Path(nb).name != "costs.ipynb":
            results[key] = stats
        budget = WALL_BUDGETS_S.get(key, TARGET_WALL_S)
        flag = "" if stats["wall_s"] <= budget and stats["peak_mb"] <= TARGET_PEAK_MB else "  OVER TARGET"
        over += [key] if flag else []
        print(f"{key:32s} {stats['wall_s']:8.1f} s {stats['peak_mb']:9.1f} MB{flag}", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
