"""Tensors to and from a safetensors file, all of a model's state or a chosen part of it.

safetensors stores raw tensor bytes and a JSON header of names, dtypes and shapes, so reading a
file runs no code from it (unlike ``torch.load``, which unpickles). The shapes are read from the
header first and compared with the model's own state dict (:func:`check_shapes`); only when every
name and shape fits are the tensors read and copied in. The file is written with its JSON header
in sorted order, so the same tensors and metadata always give the same bytes (and sha256), and
atomically (a temporary file renamed into place).
"""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Callable, Collection, Mapping

import torch
from torch import nn

from .errors import CorruptFileError, WeightsMismatchError
from .files import atomic_write

__all__ = ["KeyFilter", "select_state", "trainable_keys", "check_shapes", "canonical_safetensors",
           "write_safetensors", "read_shapes", "load_safetensors_into"]

#: Which tensors to save: a predicate on the name, or a collection of names.
KeyFilter = Callable[[str], bool] | Collection[str]


def _few(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return f"[{shown}{f', ... {len(names) - limit} more' if len(names) > limit else ''}]"


def select_state(state: Mapping[str, torch.Tensor], keys: KeyFilter | None = None) -> dict[str, torch.Tensor]:
    """The entries of ``state`` that ``keys`` picks (all when ``keys`` is None), in state order.

    Raises ``ValueError`` when ``keys`` names tensors ``state`` lacks, when it picks nothing, and
    ``TypeError`` when a picked value is not a tensor (e.g. a module's extra state).
    """
    if keys is None:
        chosen = dict(state)
    elif callable(keys):
        chosen = {n: t for n, t in state.items() if keys(n)}
    else:
        if isinstance(keys, str):
            raise TypeError("keys is one str: pass a collection of names, e.g. [name], or a predicate")
        unknown = sorted(set(keys) - set(state))
        if unknown:
            raise ValueError(f"keys names tensors the state dict does not have: {_few(unknown)}; "
                             f"it has {_few(list(state))}")
        chosen = {n: t for n, t in state.items() if n in keys}
    if not chosen:
        raise ValueError("keys selects no tensor: nothing to save")
    bad = [n for n, t in chosen.items() if not isinstance(t, torch.Tensor)]
    if bad:
        raise TypeError(f"state entries {_few(bad)} are not tensors; safetensors stores tensors only")
    return chosen


def trainable_keys(model: nn.Module) -> set[str]:
    """Names of the parameters with ``requires_grad`` (e.g. adapters and heads after freezing)."""
    return {n for n, p in model.named_parameters() if p.requires_grad}


def check_shapes(saved: Mapping[str, tuple[int, ...]], expected: Mapping[str, tuple[int, ...]],
                 strict: bool = True) -> None:
    """Compare saved tensor shapes {name: shape} with a model's; raise when they do not fit.

    Names in ``saved`` that ``expected`` lacks (unexpected) and shape differences are always errors.
    Names in ``expected`` that ``saved`` lacks (missing) are errors only when ``strict``. Raises
    :class:`WeightsMismatchError` listing a few of each kind.
    """
    missing = [n for n in expected if n not in saved] if strict else []
    unexpected = [n for n in saved if n not in expected]
    mismatched = [f"{n}: saved {tuple(saved[n])} vs model {tuple(expected[n])}"
                  for n in saved if n in expected and tuple(saved[n]) != tuple(expected[n])]
    if missing or unexpected or mismatched:
        parts = [f"{label} {len(items)} {_few(items)}" for label, items in
                 (("missing", missing), ("unexpected", unexpected), ("shape-mismatched", mismatched)) if items]
        hint = (" The checkpoint saves part of the model: load it with strict=False onto a base model."
                if missing and not unexpected and not mismatched else
                " Was the model built from a different config than the one saved with these weights?")
        raise WeightsMismatchError("saved weights do not fit the model: " + "; ".join(parts) + "." + hint)


def canonical_safetensors(data: bytes) -> bytes:
    """The same safetensors file with its JSON header's keys sorted (metadata included) and the
    header padded with spaces to a multiple of 8 bytes, so equal contents give equal bytes."""
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + size:]


def write_safetensors(path: str | Path, state: Mapping[str, torch.Tensor],
                      metadata: Mapping[str, str] | None = None) -> None:
    """Write tensors to ``path`` (moved to the CPU, made contiguous; tied tensors stored once each name),
    atomically and byte-for-byte reproducibly (:func:`canonical_safetensors`)."""
    from safetensors.torch import save

    tensors, seen = {}, set()
    for name, t in state.items():
        t = t.detach().to("cpu").contiguous()
        ptr = t.untyped_storage().data_ptr()
        tensors[name] = t.clone() if ptr in seen else t  # safetensors refuses shared storage
        seen.add(ptr)
    atomic_write(path, canonical_safetensors(save(tensors, metadata=dict(metadata or {}))))


def read_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """{name: shape} from a safetensors header, without reading the tensor data; raises
    :class:`CorruptFileError` naming the file when its header is not a valid safetensors header."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {n: tuple(f.get_slice(n).get_shape()) for n in f.keys()}
    except SafetensorError as err:
        raise CorruptFileError(f"{path} is not a valid safetensors file ({err}): expected weights written by "
                               "ragmtl.sharing") from None


def load_safetensors_into(model: nn.Module, path: str | Path, strict: bool = True) -> list[str]:
    """Copy the tensors of ``path`` into ``model``'s state; return the names the file did not cover.

    Shapes are checked first (:func:`check_shapes`); values are cast to each model tensor's dtype and
    device. With ``strict=False`` the model's other tensors keep their values. Raises
    :class:`WeightsMismatchError` when names or shapes do not fit.
    """
    from safetensors.torch import load_file

    state = model.state_dict()
    check_shapes(read_shapes(path), {n: tuple(t.shape) for n, t in state.items()}, strict)
    try:
        tensors = load_file(str(path))
    except Exception as err:  # safetensors raises SafetensorError or a bare Exception on bad data
        raise CorruptFileError(f"{path}: its tensors cannot be read ({err}); expected weights written by "
                               "ragmtl.sharing") from None
    model.load_state_dict(tensors, strict=strict)
    return [n for n in state if n not in tensors]
