"""Small helpers every chapter uses: seeding, device choice, a timer and progress bars."""
from __future__ import annotations

import os
import random
import re
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np

__all__ = ["seed_everything", "get_device", "cpu_has_bf16", "bf16_autocast", "warmup_linear_decay", "Timer", "progress",
           "FIXED_WIDTH_BAR", "terminal_text",
           "coalesce_streams"]

T = TypeVar("T")


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; with ``deterministic``, ask torch for deterministic kernels.

    On a CPU with a fixed thread count this makes training runs repeat exactly on one machine.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import torch

    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def get_device(prefer: str = "auto"):
    """Return a ``torch.device``: ``"auto"`` picks CUDA when present, else the CPU.

    ``prefer`` may also be ``"cpu"`` or ``"cuda"``; asking for CUDA without one is an error.
    """
    import torch

    if prefer == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if prefer == "cpu":
        return torch.device("cpu")
    if prefer == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA device")
        return torch.device("cuda")
    raise ValueError(f"unknown device {prefer!r}; expected 'auto', 'cpu' or 'cuda'")


BF16_ENV = "RAGMTL_BF16"  # "0": never bf16 by default (as on a CPU without it); "1": always


def cpu_has_bf16() -> bool:
    """True when this CPU does bfloat16 arithmetic natively (AVX512-BF16 or AMX), so that
    ``torch.autocast("cpu", dtype=torch.bfloat16)`` is faster rather than slower.

    ``RAGMTL_BF16=0`` answers False and ``RAGMTL_BF16=1`` True whatever the CPU: every "auto"
    precision in the library follows this, so a run can stand in for a machine with or without it.
    """
    forced = os.environ.get(BF16_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if forced:
        raise ValueError(f"{BF16_ENV} must be 0 or 1 (or unset: detect from the CPU), got {forced!r}")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def bf16_autocast(enabled: bool | None = None):
    """``torch.autocast`` to bfloat16 on the CPU; ``enabled=None`` turns it on where :func:`cpu_has_bf16`."""
    import torch

    enabled = cpu_has_bf16() if enabled is None else enabled
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled)


def warmup_linear_decay(optimizer, warmup_steps: int, total_steps: int):
    """LambdaLR: learning rate rising linearly over ``warmup_steps``, then decaying linearly to 0 at
    ``total_steps`` (factor ``min(1, (k + 1) / warmup) * (total - k) / total`` at step k)."""
    import torch

    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    warm = max(1, warmup_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda k: min(1.0, (k + 1) / warm) * max(0.0, (total_steps - k) / total_steps))


class Timer:
    """Wall-clock timer: ``with Timer() as t: ...`` then ``t.elapsed`` (seconds)."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.elapsed: float = 0.0

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.elapsed = time.perf_counter() - self.start


# Every field of fixed width, the line exactly 80 characters: tqdm would otherwise size the bar to
# what the varying rate text leaves of the line and pad shorter lines with spaces, so two runs of a
# notebook could end on lines that nbval cannot match even with the timings masked.
FIXED_WIDTH_BAR = ("{desc:<20.20}: {percentage:3.0f}%|{bar:10}| {n_fmt:>6}/{total_fmt:<6} "
                   "[{elapsed:>5}<{remaining:>5}, {rate_fmt:>12}]")


def progress(iterable: Iterable[T], total: int | None = None, desc: str | None = None,
             disable: bool = False) -> Iterator[T]:
    """A text progress bar on stderr (not a notebook widget) with a fixed-width line, so notebook
    outputs stay plain text that nbval can compare once the timings are masked."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc or "", disable=disable, file=sys.stderr,
                ncols=80, ascii=True, mininterval=1.0, bar_format=FIXED_WIDTH_BAR)


def terminal_text(text: str) -> str:
    """What a terminal shows after printing ``text``: each backspace erases the character before it
    and a carriage return restarts its line, so a progress bar's refreshes leave its final line only.

    Used wherever notebook outputs are stored or rendered (``make refresh`` and the book's HTML), so
    both show the same text. A carriage return with nothing after it on its line is kept.
    """
    while True:
        shorter = re.sub(r"[^\n]\x08", "", text)
        if shorter == text:
            break
        text = shorter
    return re.sub(r"^.*\r(?=[^\n])", "", text, flags=re.M)


def coalesce_streams(outputs: list) -> list:
    """Merge a notebook cell's stream outputs by name (stdout, stderr), then apply
    :func:`terminal_text`, as a terminal (and nbval's comparison) would: a progress bar is kept as
    its final line only. Other outputs keep their place; the list is changed in place and returned."""
    merged, streams = [], {}
    for out in outputs:
        if out["output_type"] == "stream" and out["name"] in streams:
            streams[out["name"]]["text"] += out["text"]
        else:
            merged.append(out)
            if out["output_type"] == "stream":
                streams[out["name"]] = out
    for out in streams.values():
        out["text"] = terminal_text(out["text"])
    return merged
