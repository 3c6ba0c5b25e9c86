"""Downloads have a total deadline, show progress on stderr, and leave no temporary file behind.

A local HTTP server on 127.0.0.1 serves a file whole (``/good``) or trickles it one byte every 50 ms
(``/trickle``, which a per-read timeout alone would never stop); every loop is bounded.
"""
from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ragmtl.data import store

CONTENT = bytes(range(256)) * 8  # 2 KiB


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the http.server name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(CONTENT)))
        self.end_headers()
        if self.path == "/good":
            self.wfile.write(CONTENT)
            return
        for i in range(len(CONTENT)):  # at most ~100 s, but the client hangs up long before
            try:
                self.wfile.write(CONTENT[i:i + 1])
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.05)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _entry(url: str) -> store.ManifestEntry:
    return store.ManifestEntry("toy", "toy.bin", hashlib.sha256(CONTENT).hexdigest(), len(CONTENT), url, "CC0")


def test_trickling_server_hits_the_deadline(server, tmp_path):
    start = time.monotonic()
    with pytest.raises(store.DownloadTimeoutError, match=r"took more than 0.5 s \(\d+ of 2048 bytes\)"):
        store._download(_entry(server + "/trickle"), tmp_path / "toy" / "toy.bin", timeout=5.0, deadline=0.5)
    assert time.monotonic() - start < 3.0  # the per-read timeout (5 s) never fired; the deadline did
    assert list((tmp_path / "toy").iterdir()) == []


def test_deadline_from_the_environment(server, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGMTL_DATA", str(tmp_path))
    monkeypatch.setenv(store.DEADLINE_ENV, "0.4")
    monkeypatch.setattr(store, "manifest", lambda: (_entry(server + "/trickle"),))
    with pytest.raises(store.DataFileMissingError, match="took more than 0.4 s"):
        store.fetch("toy", download=True)
    assert list((tmp_path / "toy").iterdir()) == []


@pytest.mark.parametrize("text", ["abc", "0", "-3", "inf", "nan"])
def test_bad_deadline_setting(monkeypatch, text):
    monkeypatch.setenv(store.DEADLINE_ENV, text)
    with pytest.raises(ValueError, match="expected a positive number of seconds"):
        store.download_deadline()


def test_default_deadline(monkeypatch):
    monkeypatch.delenv(store.DEADLINE_ENV, raising=False)
    assert store.download_deadline() == store.DEFAULT_DEADLINE


def test_good_download_shows_progress_on_stderr(server, tmp_path, capsys):
    target = tmp_path / "toy" / "toy.bin"
    store._download(_entry(server + "/good"), target, deadline=10.0)
    assert target.read_bytes() == CONTENT
    err = capsys.readouterr().err
    assert "toy.bin" in err and "100%" in err
    assert sorted(p.name for p in target.parent.iterdir()) == ["toy.bin"]


def test_interrupted_download_leaves_no_temp_file(server, tmp_path, monkeypatch):
    def interrupted(path):
        assert path.name.startswith(".toy.bin.") and path.stat().st_size == len(CONTENT)  # fully read, not yet moved
        raise KeyboardInterrupt
    monkeypatch.setattr(store, "sha256_of", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store._download(_entry(server + "/good"), tmp_path / "toy" / "toy.bin", deadline=10.0)
    assert list((tmp_path / "toy").iterdir()) == []
