"""Compressed FAISS indexes from 10^4 to 10^6 vectors: memory, build time, latency, recall@10 vs exact.

Vectors: the book's MiniLM vectors of the 5,183 SciFact abstracts (from benchmarks/scale_scifact.py)
extended to N by the stated synthetic rule: vector i < 5,183 is the real one; beyond, a real vector
b drawn uniformly (seed 0) plus Gaussian noise, ``normalize(b + sigma * g)``, ``g ~ N(0, I_384)``,
``sigma = 0.04`` per dimension (noise norm about 0.78, cosine to its base about 0.79): a
near-duplicate-heavy corpus, harder for PQ than real text (neighbours are close together).
Queries: the 300 real SciFact test claims. ``--source gaussian`` uses a 1,000-centre Gaussian
mixture instead (no MiniLM needed). FAISS runs on one thread (``--threads``).

Usage (repository root, RAGMTL_CACHE exported):

    nice -n 19 .venv/bin/python benchmarks/scale_ann.py --sizes 10000 100000 [--threads 1]

Appends one record list per size to benchmarks/results/scale_ann.json (rewritten after each size).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ragmtl.scale import AnnSpec, sweep_ann

RESULTS = Path(__file__).resolve().parent / "results" / "scale_ann.json"
SIGMA = 0.04


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def corpus(n: int, source: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if source == "gaussian":
        centres = rng.standard_normal((1000, 384))
        return (unit(centres[rng.integers(1000, size=n)] + 1.0 * rng.standard_normal((n, 384))),
                unit(centres[rng.integers(1000, size=300)] + 1.0 * rng.standard_normal((300, 384))))
    from ragmtl.encoders import cache_dir

    data = np.load(cache_dir() / "scale_scifact_vectors.npz")
    real, queries = data["docs"].astype(np.float32), data["queries"].astype(np.float32)
    if n <= len(real):
        return real[:n], queries
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    out[:len(real)] = real
    for start in range(len(real), n, 100_000):  # in blocks: bounded temporary memory
        stop = min(start + 100_000, n)
        base = real[rng.integers(len(real), size=stop - start)]
        out[start:stop] = unit(base + SIGMA * rng.standard_normal(base.shape, dtype=np.float32))
    return out, queries


def specs(n: int, train_size: int, k_factor: int = 10) -> list[AnnSpec]:
    nlist = 256 if n < 50_000 else 1024
    pq = [AnnSpec(f"IVF{nlist},PQ48", train_size), AnnSpec(f"IVF{nlist},PQ96", train_size),
          AnnSpec(f"OPQ48,IVF{nlist},PQ48", train_size)]
    return [AnnSpec(f"IVF{nlist},Flat", train_size), *pq, *(replace(s, refine="flat", k_factor=k_factor) for s in pq[:1]),
            replace(pq[0], refine="fp16", k_factor=k_factor), AnnSpec("HNSW32,Flat")]


def main() -> None:
    import faiss

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--source", choices=["minilm", "gaussian"], default="minilm")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-hnsw", action="store_true", help="skip HNSW (its one-thread build is slow at 1e6)")
    parser.add_argument("--train-size", type=int, default=65_536, help="quantizer training sample")
    parser.add_argument("--k-factor", type=int, default=10, help="re-ranking: candidates per result")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="measure only the specs with these names (AnnSpec.name), e.g. IVF1024,PQ48")
    parser.add_argument("--no-opq", action="store_true", help="skip OPQ (its rotation's training is slow)")
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"runs": []}
    for n in args.sizes:
        t = time.perf_counter()
        x, q = corpus(n, args.source)
        chosen = [s for s in specs(n, args.train_size, args.k_factor) if not (args.no_hnsw and s.factory.startswith("HNSW"))
                  and not (args.no_opq and s.factory.startswith("OPQ")) and (not args.only or s.name in args.only)]
        points = sweep_ann(x, q, chosen, {"nprobe": [4, 16, 64], "efSearch": [32, 128]}, k=10, repeats=2)
        run = {"n_docs": n, "source": args.source, "sigma": SIGMA, "threads": args.threads, "nice": os.nice(0),
               "n_queries": len(q), "train_size": min(args.train_size, n), "k_factor": args.k_factor, "wall_s": time.perf_counter() - t, "points": [p.as_dict() for p in points]}
        names = sorted({p["index"] for p in run["points"]})
        results["runs"] = [r for r in results["runs"] if (r["n_docs"], r["source"], sorted({p["index"] for p in r["points"]}))
                           != (n, args.source, names)] + [run]  # a rerun of the same indexes replaces its record
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        for p in points:
            print(f"{n:>8} {p.index:<34} {p.knob:>8}={p.value:<4} build {p.build_s:7.1f} s  {p.bytes_per_vector:7.1f} B/vec"
                  f"  {p.ms_per_query:8.3f} ms/q  x{p.speedup_vs_flat:6.1f}  recall@10 {p.recall:.3f}", flush=True)


if __name__ == "__main__":
    main()
