"""Where the data files live, and how they are checked and fetched.

Every file the book reads is listed in ``manifest.tsv`` (shipped with the package) with its
sha256, size, a pinned public URL and its licence. :func:`fetch` returns the folder of one
dataset after checking every file against the manifest; a missing file is downloaded from its
URL when the network allows, and a file whose checksum does not match is never parsed nor
overwritten. A download has a total deadline per file (``$RAGMTL_DOWNLOAD_DEADLINE`` seconds, 600 by
default) besides the per-read timeout, so a server that trickles bytes cannot keep a command running;
it shows its progress on stderr and goes through a temporary file in the data folder that is removed
on any failure or interruption.
"""
from __future__ import annotations

import csv
import hashlib
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = [
    "ManifestEntry", "DataFileMissingError", "DataChecksumError", "DownloadTimeoutError", "manifest", "datasets",
    "data_dir", "download_deadline", "fetch", "sha256_of",
]

DATA_ENV = "RAGMTL_DATA"
OFFLINE_ENV = "RAGMTL_OFFLINE"
DEADLINE_ENV = "RAGMTL_DOWNLOAD_DEADLINE"
DEFAULT_DEADLINE = 600.0  # seconds per file, all reads together


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


class DownloadTimeoutError(TimeoutError):
    """A download did not finish within its total deadline (see :func:`download_deadline`)."""


def download_deadline() -> float:
    """Seconds one file's download may take in all: ``$RAGMTL_DOWNLOAD_DEADLINE``, else 600.
    Raises ``ValueError`` when the variable is not a positive number."""
    text = os.environ.get(DEADLINE_ENV)
    if not text:
        return DEFAULT_DEADLINE
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{DEADLINE_ENV}={text!r}: expected a positive number of seconds")
    return value


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


def _set_read_timeout(response, seconds: float) -> None:
    """Bound the next socket read of an ``http.client`` response (where its socket is reachable)."""
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.01))


def _download(entry: ManifestEntry, target: Path, timeout: float = 30.0, deadline: float | None = None) -> None:
    """Download one file to ``target`` through a temporary file, checking its sha256 first.

    ``timeout`` bounds each read, ``deadline`` (default :func:`download_deadline`) the whole file:
    :class:`DownloadTimeoutError` when it passes. The temporary file is removed on any failure or
    interruption (Ctrl-C included); ``target`` appears only complete and verified.
    """
    from tqdm import tqdm

    deadline = download_deadline() if deadline is None else deadline
    start = time.monotonic()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.file}.", suffix=".part", dir=target.parent)
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(entry.url, timeout=min(timeout, deadline)) as r:
            total = int(r.headers.get("Content-Length") or entry.bytes)
            with tqdm(total=total, unit="B", unit_scale=True, desc=entry.file, file=sys.stderr, ascii=True) as bar:
                while True:
                    left = deadline - (time.monotonic() - start)
                    if left <= 0:
                        raise DownloadTimeoutError(
                            f"downloading {entry.url} took more than {deadline:g} s ({bar.n} of {total} bytes); "
                            f"set {DEADLINE_ENV} to allow longer")
                    _set_read_timeout(r, min(timeout, left))
                    try:
                        block = r.read1(1 << 16)
                    except TimeoutError:
                        if left < timeout:
                            continue  # the deadline, not the read timeout, cut this read: said above
                        raise TimeoutError(f"no data from {entry.url} for {timeout:g} s") from None
                    if not block:
                        break
                    out.write(block)
                    bar.update(len(block))
        digest = sha256_of(tmp)
        if digest != entry.sha256:
            raise DataChecksumError(
                f"downloaded {entry.url} but its sha256 is {digest}, not {entry.sha256}; "
                "nothing was saved. The URL may have changed: report it."
            )
        os.replace(tmp, target)
    finally:
        if tmp is not None:
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
