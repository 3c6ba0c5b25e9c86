"""Encoding a large corpus in shards, each checkpointed on disk, so an interrupted run resumes.

The corpus (N texts) is cut into ``n_shards = ceil(N / shard_size)`` contiguous shards. Shard i is
encoded (``encode(texts) -> float32 [n_i, d]``) and written as ``shard-{i:05d}.npy`` (``np.save``
format, no pickle) and then ``shard-{i:05d}.json`` (its row count, dimension, the sha256 of the
vectors file and of its texts), both atomically. A shard is finished when its JSON exists and
its file's sha256 matches: a rerun skips finished shards and re-encodes any other (never written,
interrupted, or changed on disk). ``plan.json`` fixes N, the shard size and the corpus's sha256,
so resuming with another corpus or shard size is refused instead of mixing vectors.

The engine is ``torch.distributed``'s launcher: rank r of W encodes shards r, r + W, r + 2W, ...
(:func:`encode_corpus` with ``rank``/``world_size``, e.g. from ``torchrun --nproc-per-node W``
setting ``RANK`` and ``WORLD_SIZE``). The shards are independent, so no collective is needed, and
torch is already what the book trains with; Ray Data's ``map_batches`` with actors would add a
cluster runtime for the same static split. Shapes: :func:`load_encoded` returns [N, d] float32.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..sharing import ChecksumError, MissingFileError, atomic_write, read_json
from ..sharing.recipes import texts_sha256

__all__ = ["PLAN_NAME", "ShardPlan", "shard_plan", "encode_corpus", "load_encoded", "finished_shards"]

PLAN_NAME = "plan.json"


@dataclass(frozen=True)
class ShardPlan:
    """How a corpus is cut: ``n_texts`` texts in shards of ``shard_size`` (the last one shorter)."""

    n_texts: int
    shard_size: int
    corpus_sha256: str

    @property
    def n_shards(self) -> int:
        return math.ceil(self.n_texts / self.shard_size)

    def bounds(self, shard: int) -> tuple[int, int]:
        return shard * self.shard_size, min((shard + 1) * self.shard_size, self.n_texts)


def shard_plan(texts: Sequence[str], shard_size: int) -> ShardPlan:
    """The plan for ``texts``; raises ``ValueError`` for an empty corpus or ``shard_size < 1``."""
    if len(texts) == 0 or shard_size < 1:
        raise ValueError(f"need at least one text and shard_size >= 1, got {len(texts)} texts, shard_size {shard_size}")
    return ShardPlan(len(texts), int(shard_size), texts_sha256(texts))


def _names(shard: int) -> tuple[str, str]:
    return f"shard-{shard:05d}.npy", f"shard-{shard:05d}.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_plan(root: Path, plan: ShardPlan) -> None:
    path = root / PLAN_NAME
    wanted = {"n_texts": plan.n_texts, "shard_size": plan.shard_size, "corpus_sha256": plan.corpus_sha256}
    if path.is_file():
        found = read_json(path)
        if found != wanted:
            raise ValueError(f"{path} describes another run ({found}); this one is {wanted}: choose a new folder "
                             "or the same corpus and shard size")
    else:
        atomic_write(path, json.dumps(wanted, indent=2) + "\n")


def _is_finished(root: Path, shard: int, texts_hash: str) -> bool:
    vectors, meta = (root / n for n in _names(shard))
    if not meta.is_file() or not vectors.is_file():
        return False
    info = read_json(meta)
    return info.get("texts_sha256") == texts_hash and info.get("sha256") == _sha256(vectors)


def finished_shards(directory: str | Path, texts: Sequence[str], shard_size: int) -> list[int]:
    """The shards of ``texts`` already encoded (and intact) in ``directory``."""
    root, plan = Path(directory), shard_plan(texts, shard_size)
    return [i for i in range(plan.n_shards) if _is_finished(root, i, texts_sha256(texts[slice(*plan.bounds(i))]))]


def encode_corpus(texts: Sequence[str], encode: Callable[[list[str]], np.ndarray], directory: str | Path,
                  shard_size: int = 10_000, rank: int = 0, world_size: int = 1) -> list[int]:
    """Encode rank ``rank``'s unfinished shards of ``texts`` into ``directory``; return the shards encoded now.

    ``encode(list of n texts)`` must return float32 [n, d]. Raises ``ValueError`` for a folder
    holding another plan, an ``encode`` that returns the wrong shape or non-finite values, or a bad
    ``rank`` / ``world_size``.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank {rank}, world_size {world_size}")
    root, plan = Path(directory), shard_plan(texts, shard_size)
    root.mkdir(parents=True, exist_ok=True)
    _check_plan(root, plan)
    done = []
    for shard in range(rank, plan.n_shards, world_size):
        chunk = list(texts[slice(*plan.bounds(shard))])
        texts_hash = texts_sha256(chunk)
        if _is_finished(root, shard, texts_hash):
            continue
        vectors = np.asarray(encode(chunk))
        if vectors.ndim != 2 or len(vectors) != len(chunk) or not np.isfinite(vectors).all():
            raise ValueError(f"encode returned {vectors.shape} for shard {shard} of {len(chunk)} texts: "
                             "expected finite [n_texts, d] vectors")
        buf = io.BytesIO()
        np.save(buf, vectors.astype(np.float32), allow_pickle=False)
        vec_name, meta_name = _names(shard)
        atomic_write(root / vec_name, buf.getvalue())
        meta = {"shard": shard, "rows": len(chunk), "dim": int(vectors.shape[1]), "texts_sha256": texts_hash,
                "sha256": hashlib.sha256(buf.getvalue()).hexdigest()}
        atomic_write(root / meta_name, json.dumps(meta, indent=2) + "\n")  # written last: marks the shard done
        done.append(shard)
    return done


def load_encoded(directory: str | Path, texts: Sequence[str], shard_size: int) -> np.ndarray:
    """All vectors [N, d] float32 of a finished run, every shard checked against its sha256.

    Raises :class:`~ragmtl.sharing.MissingFileError` naming an unfinished shard and
    :class:`~ragmtl.sharing.ChecksumError` naming a shard that changed after it was written.
    """
    root, plan = Path(directory), shard_plan(texts, shard_size)
    _check_plan(root, plan)
    parts = []
    for shard in range(plan.n_shards):
        vec_name, meta_name = _names(shard)
        if not (root / meta_name).is_file() or not (root / vec_name).is_file():
            raise MissingFileError(f"shard {shard} of {plan.n_shards} is not finished in {root}: run encode_corpus again")
        info = read_json(root / meta_name)
        if info.get("sha256") != _sha256(root / vec_name):
            raise ChecksumError(f"{root / vec_name} differs from the sha256 in {meta_name}: re-encode it "
                                "(delete both files and run encode_corpus again)")
        parts.append(np.load(root / vec_name, allow_pickle=False))
    return np.concatenate(parts)
