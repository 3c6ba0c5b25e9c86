"""Where the data files live, and how they are checked and fetched.

Every file the book reads is listed in ``manifest.tsv`` (shipped with the package) with its
sha256, size, a pinned public URL and its licence. :func:`fetch` returns the folder of one
dataset after checking every file against the manifest; a missing file is downloaded from its
URL when the network allows, and a file whose checksum does not match is never parsed nor
overwritten.
"""
from __future__ import annotations

import csv
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = [
    "ManifestEntry", "DataFileMissingError", "DataChecksumError", "manifest", "datasets",
    "data_dir", "fetch", "sha256_of",
]

DATA_ENV = "RAGMTL_DATA"
OFFLINE_ENV = "RAGMTL_OFFLINE"


@dataclass(frozen=True)
class ManifestEntry:
    """One row of the manifest: a file of a dataset, its checksum, size, source and licence."""

    dataset: str
    file: str
    sha256: str
    bytes: int
    url: str
    licence: str


class DataFileMissingError(FileNotFoundError):
    """A manifest file is not in the data folder and could not be downloaded."""


class DataChecksumError(ValueError):
    """A data file exists but its sha256 differs from the manifest (corrupt or replaced)."""


@lru_cache(maxsize=1)
def manifest() -> tuple[ManifestEntry, ...]:
    """All manifest rows, in file order."""
    text = resources.files("ragmtl.data").joinpath("manifest.tsv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    return tuple(
        ManifestEntry(r["dataset"], r["file"], r["sha256"], int(r["bytes"]), r["url"], r["licence"])
        for r in rows
    )


def datasets() -> list[str]:
    """Names of the datasets in the manifest, in manifest order."""
    return list(dict.fromkeys(e.dataset for e in manifest()))


def _entries(dataset: str) -> list[ManifestEntry]:
    entries = [e for e in manifest() if e.dataset == dataset]
    if not entries:
        raise ValueError(f"dataset {dataset!r} is not in the manifest; known datasets: {datasets()}")
    return entries


def data_dir() -> Path:
    """The data folder: ``$RAGMTL_DATA`` if set, else a per-user cache folder.

    The cache folder is ``$XDG_CACHE_HOME/ragmtl/data`` (``~/.cache/ragmtl/data`` by default).
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "ragmtl" / "data"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# Files already verified in this process, keyed by (path, size, mtime): checking ~15 MB of
# data costs little, but loaders are called many times in a chapter.
_verified: set[tuple[str, int, int]] = set()


def _verify(entry: ManifestEntry, path: Path) -> None:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return
    digest = sha256_of(path)
    if digest != entry.sha256:
        raise DataChecksumError(
            f"{entry.dataset}/{entry.file} is corrupt or not the expected file: its sha256 is "
            f"{digest}, the manifest expects {entry.sha256} ({entry.bytes} bytes; found "
            f"{stat.st_size}). The file was left untouched at {path}. Delete it to download it "
            f"again from {entry.url}, or point {DATA_ENV} at a folder holding the right copy."
        )
    _verified.add(key)


def _download(entry: ManifestEntry, target: Path, timeout: float = 30.0) -> None:
    """Download one file to ``target`` through a temporary file, checking its sha256 first."""
    from tqdm import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.file}.", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(entry.url, timeout=timeout) as r:
            total = int(r.headers.get("Content-Length") or entry.bytes)
            with tqdm(total=total, unit="B", unit_scale=True, desc=entry.file, file=sys.stderr, ascii=True) as bar:
                while block := r.read(1 << 16):
                    out.write(block)
                    bar.update(len(block))
        digest = sha256_of(tmp)
        if digest != entry.sha256:
            raise DataChecksumError(
                f"downloaded {entry.url} but its sha256 is {digest}, not {entry.sha256}; "
                "nothing was saved. The URL may have changed: report it."
            )
        shutil.move(str(tmp), target)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(dataset: str, download: bool | None = None) -> Path:
    """Return the folder holding ``dataset``'s files, each checked against the manifest.

    A missing file is downloaded from its manifest URL (with a progress bar) unless ``download``
    is False or ``$RAGMTL_OFFLINE`` is set; when that is not possible, a
    :class:`DataFileMissingError` names the dataset, the file, the folder, the URL and the fix.
    A file whose sha256 differs raises :class:`DataChecksumError` and is left as it is.
    """
    entries = _entries(dataset)
    root = data_dir() / dataset
    if download is None:
        download = not os.environ.get(OFFLINE_ENV)
    for entry in entries:
        path = root / entry.file
        if not path.exists():
            reason = "downloads are switched off" if not download else None
            if download:
                try:
                    _download(entry, path)
                except (urllib.error.URLError, OSError, TimeoutError) as err:
                    reason = f"the download failed: {err}"
            if reason is not None:
                raise DataFileMissingError(
                    f"dataset {dataset!r}: file {entry.file!r} is not in {root} and {reason}.\n"
                    f"  source: {entry.url}\n"
                    f"  fix: download it there by hand (sha256 {entry.sha256}), or set "
                    f"{DATA_ENV} to a folder that holds {dataset}/{entry.file} "
                    f"(data folder now: {data_dir()})."
                )
        _verify(entry, path)
    return root
