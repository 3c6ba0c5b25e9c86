"""Writing and reading a shared folder safely: atomic files, whole-folder swaps, plain names, no symlinks.

Every file is written to a temporary name in its own folder and renamed into place
(:func:`atomic_write`), so a reader sees the old file or the new one, never half of one. A whole
saved folder is built next to its target and swapped in (:func:`staged_folder`): an interruption at
any point leaves the old complete folder or the new complete one. Names that become paths (task
names, index names) must be plain names (:func:`check_plain_name`), and a symbolic link inside a
saved folder is refused (:func:`check_inside`), so nothing is read from or written to outside it.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator

from .errors import CorruptFileError, UnsafePathError

__all__ = ["PLAIN_NAME", "check_plain_name", "check_inside", "atomic_write", "read_json", "staged_folder"]

#: A plain name: letters, digits, '.', '_', '-', starting with a letter or digit, at most 100 characters.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_plain_name(name: Any, what: str) -> str:
    """Return ``name`` when it is a plain name (see :data:`PLAIN_NAME`; no '/', no '..'); raise
    :class:`UnsafePathError` naming ``what`` otherwise (e.g. an absolute path given as a task name)."""
    if not isinstance(name, str) or not PLAIN_NAME.fullmatch(name) or ".." in name:
        raise UnsafePathError(f"{what} {name!r} is not a plain name: expected letters, digits, '.', '_' or '-' "
                              "(starting with a letter or digit, no '..', at most 100 characters)")
    return name


def check_inside(root: Path, name: str) -> Path:
    """``root / name`` after checking that no part of ``name`` is a symbolic link; raises
    :class:`UnsafePathError` otherwise (a link could point outside the folder)."""
    path = Path(root)
    for part in PurePosixPath(name).parts:
        path = path / part
        if path.is_symlink():
            raise UnsafePathError(f"{path} is a symbolic link: a saved folder must hold its own files "
                                  "(a link could point outside it); replace it by the file itself")
    return path


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder renamed into place.

    The rename replaces ``path`` itself: a symbolic link at ``path`` is replaced, never followed.
    On any failure or interruption the temporary file is removed and ``path`` is unchanged.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: str | Path) -> Any:
    """The JSON value in ``path``; raises :class:`CorruptFileError` naming the file for bad UTF-8 or JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise CorruptFileError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start}): expected a JSON "
                               "file written by ragmtl") from None
    except json.JSONDecodeError as err:
        raise CorruptFileError(f"{path} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}): "
                               "expected a JSON file written by ragmtl") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def _link_tree(source: Path, target: Path, skip: set[str]) -> None:
    """Hard-link (or copy) every file of ``source`` into ``target`` except the relative paths in ``skip``."""
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if path.is_symlink():
            check_inside(source, rel)
        if path.is_dir():
            (target / rel).mkdir(exist_ok=True)
        elif rel not in skip:
            try:
                os.link(path, target / rel, follow_symlinks=False)
            except OSError:
                shutil.copy2(path, target / rel)


@contextlib.contextmanager
def staged_folder(target: str | Path, *, keep_existing: bool = False, skip: Iterable[str] = ()) -> Iterator[Path]:
    """A fresh folder next to ``target``, swapped in place of ``target`` when the block succeeds.

    ``keep_existing`` starts the new folder with ``target``'s files (hard links, so the old files are
    never modified), except the relative paths in ``skip`` (the files the block rewrites). On any
    exception or interruption the new folder is removed and ``target`` is left as it was. Raises
    ``FileExistsError`` when ``target`` is a file and :class:`UnsafePathError` for a symbolic link
    inside ``target`` when its files are kept.
    """
    target = Path(os.path.abspath(target))
    if target.is_symlink():  # the folder itself may be a link: write where it points
        target = target.resolve()
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target} is a file, not a folder: expected a folder to save into")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        if keep_existing and target.is_dir():
            _link_tree(target, tmp, set(skip))
        yield tmp
        if not target.exists() or not any(target.iterdir()):
            os.replace(tmp, target)  # POSIX: a directory replaces an empty one in one step
        elif not _exchange(tmp, target):
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / "folder")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the failed new folder, or the old one after an exchange
