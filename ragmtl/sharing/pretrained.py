"""Save a model with its config to a folder, and load it back only after checking every file.

A saved folder holds::

    model.safetensors   the weights (all of the state dict, or the part chosen with ``keys``)
    config.json         {"format_version", "config_class", "config": {...dataclass fields...}, "weights": {...}}
    manifest.json       every file with its sha256 and size (see :mod:`ragmtl.sharing.manifest`)
    README.md           the model card, when one is given (see :mod:`ragmtl.sharing.card`)

plus any ``extra_files`` (e.g. per-task index folders). The model is rebuilt from its config by a
``build(config) -> nn.Module`` function the caller supplies, then the weights are checked against
it name by name and shape by shape. Nothing is unpickled: weights come from safetensors, the config
from JSON (type-checked against the dataclass's field types).

Saving builds the whole folder next to its target and swaps it in (:func:`ragmtl.sharing.files.staged_folder`,
the manifest written last), so an interruption leaves the old complete folder or the new one, and
a save over an earlier save keeps none of its files. A folder that holds other files is not replaced.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from torch import nn

from .config_io import check_round_trip, config_from_dict
from .errors import ConfigMismatchError, CorruptFileError, FormatVersionError
from .files import atomic_write, read_json, staged_folder
from .manifest import MANIFEST_NAME, FileEntry, verify_manifest, write_manifest
from .weights import KeyFilter, check_shapes, load_safetensors_into, select_state, write_safetensors

__all__ = ["WEIGHTS_NAME", "CONFIG_NAME", "CONFIG_VERSION", "save_pretrained", "read_config", "load_pretrained",
           "load_weights"]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CONFIG_VERSION = 1
_RESERVED = {WEIGHTS_NAME, CONFIG_NAME, MANIFEST_NAME, "README.md"}
C = TypeVar("C")


def _versions() -> dict[str, str]:
    import safetensors
    import torch

    import ragmtl

    return {"ragmtl": ragmtl.__version__, "torch": torch.__version__, "safetensors": safetensors.__version__}


def _check_extra(root: Path, extra_files: Mapping[str, str | Path]) -> None:
    """Reserved names and missing sources are refused before anything is written; so is replacing a
    folder that holds files other than an earlier save's (a manifest) or the extra files' own sources."""
    from .manifest import _check_name

    in_place = set()
    for name, source in extra_files.items():
        _check_name(name)
        if name in _RESERVED:
            raise ValueError(f"extra file name {name!r} is reserved; reserved names: {sorted(_RESERVED)}")
        if not Path(source).exists():
            raise FileNotFoundError(f"extra file {name!r}: source {source} does not exist")
        if os.path.abspath(source) == os.path.abspath(root / name):
            in_place.add(name.split("/")[0])  # already saved there, e.g. save_index(directory / "indexes" / task)
    if root.is_dir() and not (root / MANIFEST_NAME).is_file():
        others = sorted(p.name for p in root.iterdir() if p.name not in in_place)
        if others:
            raise FileExistsError(f"{root} holds files that are not a saved model ({others[:5]}): saving would "
                                  "replace them; choose a new or empty folder")


def _copy_extra(tmp: Path, extra_files: Mapping[str, str | Path]) -> list[str]:
    for name, source in extra_files.items():
        source, target = Path(source), tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target, follow_symlinks=False)
    return list(extra_files)


def save_pretrained(directory: str | Path, model: nn.Module, config: Any, *, keys: KeyFilter | None = None,
                    state_dict: Mapping[str, Any] | None = None,
                    extra_files: Mapping[str, str | Path] | None = None, card=None) -> dict[str, FileEntry]:
    """Write ``model``'s weights, its dataclass ``config`` and a manifest to ``directory``; return the manifest.

    ``keys`` (a predicate on names, or a collection of names) saves part of the state dict, e.g.
    ``keys=is_adapter_parameter`` or ``keys=trainable_keys(model)``; ``state_dict`` saves those
    tensors instead of ``model.state_dict()`` (their names and shapes must be the model's).
    ``extra_files`` maps a relative name in ``directory`` to a file or folder copied there and listed
    in the manifest (a source already at that place is copied as it is). ``card``, a
    :class:`~ragmtl.sharing.card.ModelCardInfo`, is written as ``README.md``. The folder is written
    whole and swapped in (an earlier save there is replaced, none of its files kept). Raises
    ``FileExistsError`` for a folder holding other files, ``ValueError``
    for a config that does not survive JSON, an empty selection, or a ``state_dict`` that does not
    fit the model; ``TypeError`` for a config that is not a dataclass instance.
    """
    config_data = check_round_trip(config)
    model_shapes = {n: tuple(t.shape) for n, t in model.state_dict().items()}
    tensors = select_state(model.state_dict() if state_dict is None else state_dict, keys)
    check_shapes({n: tuple(t.shape) for n, t in tensors.items()}, model_shapes, strict=False)
    root = Path(directory)
    _check_extra(root, extra_files or {})
    cls = type(config)
    header = {
        "format_version": CONFIG_VERSION, "config_class": cls.__qualname__, "config_module": cls.__module__,
        "config": config_data,
        "weights": {"file": WEIGHTS_NAME, "n_tensors": len(tensors), "n_model_tensors": len(model_shapes),
                    "partial": set(tensors) != set(model_shapes)},
        "saved_with": _versions(),
    }
    with staged_folder(root) as tmp:
        write_safetensors(tmp / WEIGHTS_NAME, tensors, {"format": "pt", "config_class": cls.__qualname__})
        atomic_write(tmp / CONFIG_NAME, json.dumps(header, indent=2, allow_nan=False) + "\n")
        names = [WEIGHTS_NAME, CONFIG_NAME, *_copy_extra(tmp, extra_files or {})]
        entries = write_manifest(tmp, names)
        if card is not None:
            from .card import write_card_into

            entries = write_card_into(tmp, card)
    return entries


def _read_config(root: Path, config_cls: type[C]) -> C:
    path = root / CONFIG_NAME
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise CorruptFileError(f"{path} has no 'config' object: expected {{\"format_version\", \"config_class\", "
                               "\"config\": {...}} as save_pretrained writes it")
    version = data.get("format_version")
    if version != CONFIG_VERSION:
        raise FormatVersionError(f"{root / CONFIG_NAME} has format_version {version!r}; this ragmtl reads "
                                 f"version {CONFIG_VERSION} only (was it written by a newer ragmtl?)")
    saved_cls = data.get("config_class")
    if saved_cls != config_cls.__qualname__:
        raise ConfigMismatchError(f"{root} was saved with config class {saved_cls!r} "
                                  f"(module {data.get('config_module')!r}), not {config_cls.__qualname__!r}")
    try:
        return config_from_dict(config_cls, data["config"])
    except ConfigMismatchError as err:
        raise type(err)(f"{path}: {err}") from None


def read_config(directory: str | Path, config_cls: type[C]) -> C:
    """The config saved in ``directory``, after :func:`verify_manifest`; errors as :func:`load_pretrained`."""
    root = Path(directory)
    verify_manifest(root, required=[CONFIG_NAME])
    return _read_config(root, config_cls)


def load_weights(directory: str | Path, model: nn.Module, *, strict: bool = True) -> nn.Module:
    """Verify ``directory``'s manifest and copy its weights into ``model`` (in place); return ``model``.

    ``strict=True``: the file must hold exactly the model's state dict (every name, every shape).
    ``strict=False``: the file may hold a part of it (an adapter-only checkpoint onto a base model):
    tensors it lacks keep their current values, but a tensor the model lacks or a shape difference
    is still an error. Raises :class:`MissingFileError` / :class:`ChecksumError` (manifest) and
    :class:`WeightsMismatchError` (names or shapes).
    """
    root = Path(directory)
    verify_manifest(root, required=[WEIGHTS_NAME])
    load_safetensors_into(model, root / WEIGHTS_NAME, strict=strict)
    return model


def load_pretrained(directory: str | Path, build: Callable[[C], nn.Module], config_cls: type[C], *,
                    strict: bool = True) -> tuple[nn.Module, C]:
    """Rebuild a model saved by :func:`save_pretrained`: ``(build(config) with the saved weights, config)``.

    Checks, in order: the manifest (every listed file present with its sha256: :class:`MissingFileError`,
    :class:`ChecksumError`), ``config.json``'s ``format_version`` (:class:`FormatVersionError`) and
    class name (:class:`ConfigMismatchError`), then the weights' names and shapes against
    ``build(config).state_dict()`` (:class:`WeightsMismatchError`, listing a few missing, unexpected
    and mismatched names). ``strict`` as in :func:`load_weights`: a partial checkpoint needs
    ``strict=False`` and a ``build`` that returns the base model (e.g. loads pretrained weights,
    then injects adapters), whose other tensors are kept.
    """
    root = Path(directory)
    verify_manifest(root, required=[WEIGHTS_NAME, CONFIG_NAME])
    config = _read_config(root, config_cls)
    model = build(config)
    if not isinstance(model, nn.Module):
        raise TypeError(f"build(config) must return an nn.Module, got {type(model).__name__}")
    load_safetensors_into(model, root / WEIGHTS_NAME, strict=strict)
    return model, config
