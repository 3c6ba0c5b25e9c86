"""The file manifest of a shared folder: every file with its sha256 and size, checked before use.

A saved model or index folder holds ``manifest.json``::

    {"format_version": 1, "files": {"model.safetensors": {"sha256": "9f2c...", "bytes": 90868376}, ...}}

Paths are relative, POSIX-style, and may name files in subfolders (``indexes/scifact/index.faiss``).
Loading reads only files listed here, and only after :func:`verify_manifest` has checked that each
one exists and has the recorded size and sha256; files in the folder that the manifest does not
list are ignored. A listed file that is a symbolic link (or lies under one) is refused: it could
point outside the folder. The manifest is written atomically (:func:`ragmtl.sharing.files.atomic_write`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable

from ..data.store import sha256_of
from .errors import ChecksumError, CorruptFileError, FormatVersionError, MissingFileError, UnsafePathError
from .files import atomic_write, check_inside, read_json

__all__ = ["MANIFEST_NAME", "MANIFEST_VERSION", "FileEntry", "hash_files", "write_manifest", "read_manifest",
           "verify_manifest", "update_manifest"]

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class FileEntry:
    """One listed file: its hex sha256 and its size in bytes."""

    sha256: str
    bytes: int


def _check_name(name: str) -> str:
    """A manifest path must stay inside the folder: relative, no ``..``, not the manifest itself."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name or str(path) != name:
        raise UnsafePathError(f"manifest path {name!r} is not a plain relative path inside the folder "
                              "(expected e.g. 'model.safetensors' or 'indexes/scifact/index.faiss')")
    if name == MANIFEST_NAME:
        raise UnsafePathError(f"{MANIFEST_NAME} cannot list itself")
    return name


def hash_files(directory: str | Path, names: Iterable[str]) -> dict[str, FileEntry]:
    """sha256 and size of each named file or folder (folders expanded to all their files, sorted).

    Raises :class:`MissingFileError` for a name that is neither a file nor a folder in ``directory``.
    """
    root = Path(directory)
    entries: dict[str, FileEntry] = {}
    for name in names:
        path = check_inside(root, _check_name(name))
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files = [path]
        else:
            raise MissingFileError(f"cannot list {name!r} in the manifest: there is no such file or folder in {root}")
        for file in files:
            rel = file.relative_to(root).as_posix()
            check_inside(root, rel)
            if rel != MANIFEST_NAME:
                entries[rel] = FileEntry(sha256_of(file), file.stat().st_size)
    return dict(sorted(entries.items()))


def _write(directory: Path, entries: dict[str, FileEntry]) -> None:
    files = {name: {"sha256": e.sha256, "bytes": e.bytes} for name, e in sorted(entries.items())}
    text = json.dumps({"format_version": MANIFEST_VERSION, "files": files}, indent=2)
    atomic_write(check_inside(directory, MANIFEST_NAME), text + "\n")


def write_manifest(directory: str | Path, names: Iterable[str]) -> dict[str, FileEntry]:
    """Hash the named files/folders of ``directory`` and write ``manifest.json``; return the entries."""
    entries = hash_files(directory, names)
    if not entries:
        raise ValueError(f"nothing to list: the names given hold no files in {directory}")
    _write(Path(directory), entries)
    return entries


def update_manifest(directory: str | Path, names: Iterable[str]) -> dict[str, FileEntry]:
    """Add (or re-hash) the named files in an existing manifest, keeping the other entries as they are."""
    entries = read_manifest(directory)
    entries.update(hash_files(directory, names))
    _write(Path(directory), entries)
    return entries


def read_manifest(directory: str | Path) -> dict[str, FileEntry]:
    """The entries of ``directory/manifest.json`` {path: FileEntry}, without checking the files.

    Raises :class:`MissingFileError` when there is no manifest, :class:`FormatVersionError` for a
    version this library does not know, ``ValueError`` for a malformed manifest or an unsafe path.
    """
    path = check_inside(Path(directory), MANIFEST_NAME)
    if not path.is_file():
        raise MissingFileError(f"{path} does not exist: not a folder written by ragmtl.sharing "
                               f"(expected {MANIFEST_NAME} next to the saved files)")
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise CorruptFileError(f"{path} is malformed: expected an object with 'format_version' and 'files'")
    version = data.get("format_version")
    if version != MANIFEST_VERSION:
        raise FormatVersionError(f"{path} has format_version {version!r}; this ragmtl reads version "
                                 f"{MANIFEST_VERSION} only (was it written by a newer ragmtl?)")
    entries = {}
    for name, entry in data["files"].items():
        try:
            if not isinstance(entry["sha256"], str) or type(entry["bytes"]) is not int:
                raise TypeError
            entries[_check_name(name)] = FileEntry(entry["sha256"], entry["bytes"])
        except (KeyError, TypeError):
            raise CorruptFileError(f"{path}: entry {name!r} needs 'sha256' (a str) and 'bytes' (an int), "
                                   f"got {entry!r}") from None
        except UnsafePathError as err:
            raise UnsafePathError(f"{path}: {err}") from None
    return entries


def verify_manifest(directory: str | Path, required: Iterable[str] = ()) -> dict[str, FileEntry]:
    """Check every listed file exists with its recorded size and sha256; return the entries.

    ``required`` names files that must be listed (e.g. ``model.safetensors``). Raises
    :class:`MissingFileError` naming a required file the manifest does not list or a listed file
    that is absent, and :class:`ChecksumError` naming a file whose size or sha256 differs.
    """
    root = Path(directory)
    entries = read_manifest(root)
    unlisted = [name for name in required if name not in entries]
    if unlisted:
        raise MissingFileError(f"{root}/{MANIFEST_NAME} does not list {unlisted}; it lists {sorted(entries)}")
    for name, entry in entries.items():
        path = check_inside(root, name)
        if not path.is_file():
            raise MissingFileError(f"{name} is listed in {root}/{MANIFEST_NAME} but missing from {root}")
        size = path.stat().st_size
        digest = sha256_of(path) if size == entry.bytes else None
        if digest != entry.sha256:
            found = f"sha256 {digest}" if digest else f"{size} bytes"
            raise ChecksumError(f"{name} in {root} does not match its manifest entry: found {found}, expected "
                                f"sha256 {entry.sha256} ({entry.bytes} bytes). The file was changed or "
                                "corrupted after saving; it was not loaded.")
    return entries
