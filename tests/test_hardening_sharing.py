"""Hardening of saved folders: nothing written outside, interruptions at every write, same bytes twice.

A tiny two-task model is saved with ``ragmtl.sharing``; faults are injected at each write step (every
file write, every rename, every hard link or copy) by raising ``KeyboardInterrupt`` at the n-th
step, and after each the folder must be byte for byte the old complete save or the new one.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from ragmtl.sharing import (ChecksumError, ModelCardInfo, UnsafePathError, load_pretrained, read_manifest,
                            save_pretrained, update_manifest, verify_manifest, write_model_card)
from ragmtl.sharing import files as files_mod
from ragmtl.sharing.errors import CorruptFileError
from ragmtl.sharing.weights import canonical_safetensors, read_shapes, write_safetensors


@dataclass(frozen=True)
class Tiny:
    d: int = 3


class TinyNet(nn.Module):
    def __init__(self, config: Tiny) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(config.d, 2), nn.Linear(2, 2)


def _model(seed: int) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(Tiny())


def _card(name: str) -> ModelCardInfo:
    return ModelCardInfo(name=name, description="d", intended_use="u", out_of_scope_use="o",
                         datasets=("banking77",), results={"t": {"accuracy": 0.5}}, limitations="l")


def snapshot(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---- nothing read from or written to outside the folder ------------------------------------------------------

def test_symlinked_card_is_refused_and_its_target_untouched(tmp_path):
    root = tmp_path / "m"
    save_pretrained(root, _model(0), Tiny(), card=_card("first"))
    outside = tmp_path / "precious.txt"
    outside.write_text("not yours")
    (root / "README.md").unlink()
    (root / "README.md").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="README.md is a symbolic link"):
        write_model_card(root, _card("second"))
    assert outside.read_text() == "not yours"
    with pytest.raises(UnsafePathError, match="symbolic link"):
        verify_manifest(root)


def test_symlinked_weights_are_not_read(tmp_path):
    root = tmp_path / "m"
    save_pretrained(root, _model(0), Tiny())
    copy = tmp_path / "elsewhere.safetensors"
    copy.write_bytes((root / "model.safetensors").read_bytes())  # same bytes: the sha256 would pass
    (root / "model.safetensors").unlink()
    (root / "model.safetensors").symlink_to(copy)
    with pytest.raises(UnsafePathError, match="model.safetensors is a symbolic link"):
        load_pretrained(root, TinyNet, Tiny)


def test_symlinked_subfolder_is_refused(tmp_path):
    root = tmp_path / "m"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.json").write_text("{}")
    save_pretrained(root, _model(0), Tiny(), extra_files={"indexes/t": outside})
    (root / "indexes" / "t").rename(tmp_path / "moved")
    (root / "indexes" / "t").symlink_to(tmp_path / "moved")
    with pytest.raises(UnsafePathError, match="indexes/t is a symbolic link"):
        verify_manifest(root)


def test_absolute_path_task_name_writes_nothing(tmp_path):
    from ragmtl.models import save_ragmtl

    target = tmp_path / "evil"
    fake = SimpleNamespace(tasks=[str(target)])  # the name check comes before any use of the model
    with pytest.raises(UnsafePathError, match="not a plain name"):
        save_ragmtl(tmp_path / "m", fake, indexes={str(target): (None, ["a"])})
    assert not target.exists() and not (tmp_path / "m").exists()


@pytest.mark.parametrize("name", ["/etc/x", "../up", "a/b", "", ".hidden", "a..b", "x" * 101, 5])
def test_plain_names(name):
    with pytest.raises(UnsafePathError):
        files_mod.check_plain_name(name, "task name")


def test_plain_names_accepted():
    for name in ("trec", "clinc150", "squad2", "my-task_1.v2"):
        assert files_mod.check_plain_name(name, "task name") == name


def test_a_folder_of_other_files_is_not_replaced(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="not a saved model"):
        save_pretrained(tmp_path / "mine", _model(0), Tiny())
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "years of work"


# ---- overwrite: a fresh folder, no stale files -----------------------------------------------------------------

def test_overwrite_keeps_no_stale_file(tmp_path):
    root, extra = tmp_path / "m", tmp_path / "extra.json"
    extra.write_text("{}")
    save_pretrained(root, _model(0), Tiny(), extra_files={"stale.json": extra}, card=_card("old"))
    save_pretrained(root, _model(1), Tiny())
    assert sorted(snapshot(root)) == ["config.json", "manifest.json", "model.safetensors"]
    assert sorted(read_manifest(root)) == ["config.json", "model.safetensors"]
    loaded, _ = load_pretrained(root, TinyNet, Tiny)
    assert torch.equal(loaded.a.weight, _model(1).a.weight)


# ---- interruptions at every write step -------------------------------------------------------------------------

class Interrupt:
    """Raise KeyboardInterrupt at the ``at``-th write step (file write, rename, link, copy)."""

    def __init__(self, monkeypatch, at: int) -> None:
        self.at, self.count = at, 0
        real_replace, real_link, real_exchange = os.replace, os.link, files_mod._exchange
        real_write = files_mod.atomic_write
        import shutil

        real_copyfile, real_copytree = shutil.copyfile, shutil.copytree

        def counted(fn):
            def wrapper(*args, **kwargs):
                self.count += 1
                if self.count == self.at:
                    raise KeyboardInterrupt
                return fn(*args, **kwargs)
            return wrapper

        monkeypatch.setattr(files_mod.os, "replace", counted(real_replace))
        monkeypatch.setattr(files_mod.os, "link", counted(real_link))
        monkeypatch.setattr(files_mod, "_exchange", counted(real_exchange))
        for module in ("manifest", "pretrained", "card", "weights", "indexes"):
            mod = __import__(f"ragmtl.sharing.{module}", fromlist=["x"])
            if hasattr(mod, "atomic_write"):
                monkeypatch.setattr(mod, "atomic_write", counted(real_write))
        monkeypatch.setattr(shutil, "copyfile", counted(real_copyfile))
        monkeypatch.setattr(shutil, "copytree", counted(real_copytree))


def _interrupt_everywhere(monkeypatch, tmp_path, make_old, operation):
    """Run ``operation(root)`` with a fault at step 1, 2, ...; after each the folder must be the old or
    the new complete save. Returns how many fault points were exercised."""
    ref = tmp_path / "reference"
    make_old(ref)
    old = snapshot(ref)
    operation(ref)
    new = snapshot(ref)
    assert new != old
    at = 1
    while True:
        root = tmp_path / f"run{at}"
        make_old(root)
        with monkeypatch.context() as mp:
            fault = Interrupt(mp, at)
            try:
                operation(root)
                interrupted = False
            except KeyboardInterrupt:
                interrupted = True
        state = snapshot(root)
        assert state in (old, new), f"fault at write step {at} left a mix: {sorted(state)}"
        verify_manifest(root)
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(f".run{at}.")]
        assert leftovers == [], f"fault at step {at} left {leftovers}"
        if not interrupted:
            assert state == new and fault.count < at
            return at - 1
        at += 1


def test_interrupted_save_over_an_old_save(monkeypatch, tmp_path):
    points = _interrupt_everywhere(monkeypatch, tmp_path,
                                   lambda root: save_pretrained(root, _model(0), Tiny(), card=_card("old")),
                                   lambda root: save_pretrained(root, _model(1), Tiny(), card=_card("new")))
    assert points >= 8  # weights, config, manifest, card, manifest again: a write and a rename each, and the swap


def test_interrupted_card(monkeypatch, tmp_path):
    points = _interrupt_everywhere(monkeypatch, tmp_path,
                                   lambda root: save_pretrained(root, _model(0), Tiny(), card=_card("old")),
                                   lambda root: write_model_card(root, _card("new")))
    assert points >= 5  # hard links of the kept files, card, manifest, swap


def test_interrupted_index_save(monkeypatch, tmp_path):
    import numpy as np

    from ragmtl.retrieval import DenseRetriever
    from ragmtl.sharing import save_index

    def index(scale):
        return DenseRetriever().index_vectors(scale * np.eye(3, 4, dtype=np.float32))
    points = _interrupt_everywhere(monkeypatch, tmp_path, lambda root: save_index(root, index(1.0)),
                                   lambda root: save_index(root, index(2.0)))
    assert points >= 4  # retriever.json, manifest (a write and a rename each), the swap


def test_interrupted_first_save_leaves_nothing(monkeypatch, tmp_path):
    for at in range(1, 4):
        root = tmp_path / f"fresh{at}"
        with monkeypatch.context() as mp:
            Interrupt(mp, at)
            with pytest.raises(KeyboardInterrupt):
                save_pretrained(root, _model(0), Tiny())
        assert not root.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(f".fresh{at}.")] == []


def test_atomic_write_replaces_a_link_and_leaves_no_temp_file(tmp_path, monkeypatch):
    target, link = tmp_path / "target.txt", tmp_path / "link.txt"
    target.write_text("kept")
    link.symlink_to(target)
    files_mod.atomic_write(link, "new")
    assert target.read_text() == "kept" and not link.is_symlink() and link.read_text() == "new"
    monkeypatch.setattr(files_mod.os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        files_mod.atomic_write(tmp_path / "other.txt", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "target.txt"]


# ---- deterministic bytes ---------------------------------------------------------------------------------------

def test_two_saves_give_identical_bytes(tmp_path):
    for name in ("one", "two"):
        save_pretrained(tmp_path / name, _model(0), Tiny(), card=_card("same"))
    one, two = snapshot(tmp_path / "one"), snapshot(tmp_path / "two")
    assert one == two
    save_pretrained(tmp_path / "three", _model(1), Tiny(), card=_card("same"))
    assert snapshot(tmp_path / "three")["model.safetensors"] != one["model.safetensors"]


def test_safetensors_metadata_order_does_not_change_the_bytes(tmp_path):
    from safetensors.torch import load_file, save

    state = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2)}
    metas = [{k: k.upper() for k in keys} for keys in (list("abcdefgh"), list("hgfedcba"), list("dhbfaceg"))]
    raw = {save(state, metadata=m) for m in metas * 3}
    written = set()
    for i, m in enumerate(metas):
        write_safetensors(tmp_path / f"{i}.st", state, m)
        written.add((tmp_path / f"{i}.st").read_bytes())
        loaded = load_file(str(tmp_path / f"{i}.st"))
        assert all(torch.equal(loaded[n], state[n]) for n in state)
    assert len(written) == 1
    assert written == {canonical_safetensors(r) for r in raw}
    header = json.loads(next(iter(written))[8:8 + int.from_bytes(next(iter(written))[:8], "little")])
    assert list(header["__metadata__"]) == sorted(header["__metadata__"])


# ---- corrupt files named ---------------------------------------------------------------------------------------

def _rehash(root, name):
    update_manifest(root, [name])  # as a hostile user would: the checksum no longer protects


def test_corrupt_safetensors_header_is_named(tmp_path):
    root = tmp_path / "m"
    save_pretrained(root, _model(0), Tiny())
    (root / "model.safetensors").write_bytes(b"\xff" * 8 + b"garbage")
    with pytest.raises(ChecksumError):
        load_pretrained(root, TinyNet, Tiny)
    _rehash(root, "model.safetensors")
    with pytest.raises(CorruptFileError, match="model.safetensors is not a valid safetensors file"):
        load_pretrained(root, TinyNet, Tiny)
    with pytest.raises(CorruptFileError, match="model.safetensors"):
        read_shapes(root / "model.safetensors")


@pytest.mark.parametrize("content, message", [
    (b"{not json", "config.json is not valid JSON"),
    (b"\xff\xfe{}", "config.json is not UTF-8"),
    (b"[]", "config.json has no 'config' object"),
    (b'{"format_version": 1, "config_class": "Tiny"}', "config.json has no 'config' object"),
])
def test_bad_config_files_are_named(tmp_path, content, message):
    root = tmp_path / "m"
    save_pretrained(root, _model(0), Tiny())
    (root / "config.json").write_bytes(content)
    _rehash(root, "config.json")
    with pytest.raises(CorruptFileError, match=message):
        load_pretrained(root, TinyNet, Tiny)


def test_bad_manifest_is_named(tmp_path):
    root = tmp_path / "m"
    save_pretrained(root, _model(0), Tiny())
    (root / "manifest.json").write_text('{"format_version": 1, "files": {"config.json": {"sha256": 1}}}')
    with pytest.raises(CorruptFileError, match="manifest.json: entry 'config.json' needs"):
        read_manifest(root)
    (root / "manifest.json").write_text('{"format_version": 1, "files": {"../../etc/passwd": {"sha256": "0", '
                                        '"bytes": 1}}}')
    with pytest.raises(UnsafePathError, match="manifest.json: manifest path '../../etc/passwd' is not a plain"):
        verify_manifest(root)
    (root / "manifest.json").write_bytes(b"\x00\xff")
    with pytest.raises(CorruptFileError, match="manifest.json is not UTF-8"):
        read_manifest(root)
