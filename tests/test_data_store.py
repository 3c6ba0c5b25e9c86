import io
import shutil
import urllib.error

import pytest

from ragmtl.data import (DataChecksumError, DataFileMissingError, data_dir, datasets, fetch,
                         load_clinc150, manifest, sha256_of)
from ragmtl.data import store


def test_manifest_matches_columns_and_datasets():
    rows = manifest()
    assert {r.dataset for r in rows} == {"scifact", "squad2", "clinc150", "sentclf", "uci_sentiment", "banking77"}
    assert datasets()[0] == "scifact"
    for r in rows:
        assert len(r.sha256) == 64 and int(r.sha256, 16) >= 0
        assert r.url.startswith("https://") and r.bytes > 0 and r.licence


def test_every_shared_file_verifies(shared_data):
    for name in datasets():
        assert fetch(name, download=False) == shared_data / name


def test_data_dir_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGMTL_DATA", str(tmp_path))
    assert data_dir() == tmp_path.resolve()
    monkeypatch.delenv("RAGMTL_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "ragmtl" / "data"


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(ValueError, match="known datasets: .*scifact"):
        fetch("imagenet")


def _fail_download(entry, target, timeout=30.0):
    raise urllib.error.URLError("Name or service not known")


@pytest.mark.parametrize("download", [True, False])
def test_missing_file_gives_one_clear_error(monkeypatch, tmp_path, download):
    monkeypatch.setenv("RAGMTL_DATA", str(tmp_path))
    monkeypatch.setattr(store, "_download", _fail_download)
    with pytest.raises(DataFileMissingError) as info:
        fetch("clinc150", download=download)
    msg = str(info.value)
    entry = next(e for e in manifest() if e.dataset == "clinc150")
    for part in ("clinc150", entry.file, str(tmp_path / "clinc150"), entry.url, "RAGMTL_DATA"):
        assert part in msg
    assert ("download failed" in msg) == download
    assert not (tmp_path / "clinc150" / entry.file).exists()


def test_corrupt_file_is_never_parsed_nor_overwritten(monkeypatch, tmp_path, shared_data):
    shutil.copytree(shared_data / "clinc150", tmp_path / "clinc150")
    target = tmp_path / "clinc150" / "domains.json"
    target.chmod(0o644)
    target.write_text("{ this is not json")  # parsing it would raise JSONDecodeError
    before = target.read_bytes()
    monkeypatch.setenv("RAGMTL_DATA", str(tmp_path))
    monkeypatch.setattr(store, "_download", _fail_download)
    with pytest.raises(DataChecksumError, match="domains.json.*sha256") as info:
        load_clinc150()
    assert str(target) in str(info.value)
    assert target.read_bytes() == before


class _Response(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_download_on_miss_checks_sha256(monkeypatch, tmp_path, shared_data):
    monkeypatch.setenv("RAGMTL_DATA", str(tmp_path))
    files = {e.url: (shared_data / e.dataset / e.file).read_bytes() for e in manifest() if e.dataset == "banking77"}
    monkeypatch.setattr(store.urllib.request, "urlopen", lambda url, timeout: _Response(files[url]))
    folder = fetch("banking77")
    for e in manifest():
        if e.dataset == "banking77":
            assert sha256_of(folder / e.file) == e.sha256


def test_bad_download_saves_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGMTL_DATA", str(tmp_path))
    monkeypatch.setattr(store.urllib.request, "urlopen", lambda url, timeout: _Response(b"<html>moved</html>"))
    with pytest.raises(DataChecksumError, match="nothing was saved"):
        fetch("uci_sentiment")
    assert list((tmp_path / "uci_sentiment").iterdir()) == []
