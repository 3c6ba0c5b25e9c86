"""`make lab`: JupyterLab serving the chapters, driven through its REST and kernel APIs.

The server is started headless on 127.0.0.1 by the make target a reader uses, lists the chapters,
runs a short notebook in a kernel it started (which sees the data and cache folders and the OpenMP
setting that `make book` gives the notebooks), and shuts down cleanly on request.
"""
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "book" / "runs.ipynb"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("make") is None, reason="needs make")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base: str, token: str, path: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{base}{path}", data=data, method=method,
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read().decode()
        return resp.status, (json.loads(text) if text else None)


async def _execute(ws_url: str, cells: list[str]) -> list[str]:
    """Run each code string in the kernel behind ``ws_url``; return the stdout of each."""
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(ws_url)
    session, outputs = uuid.uuid4().hex, []
    try:
        for code in cells:
            msg_id = uuid.uuid4().hex
            conn.write_message(json.dumps({
                "header": {"msg_id": msg_id, "username": "test", "session": session, "msg_type": "execute_request",
                           "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            stdout, reply, idle = [], None, False
            while reply is None or not idle:  # iopub output may arrive after the shell reply
                raw = await asyncio.wait_for(conn.read_message(), timeout=120)
                assert raw is not None, "the kernel's websocket closed"
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                    stdout.append(msg["content"]["text"])
                if msg["msg_type"] == "error":
                    raise AssertionError(f"cell raised {msg['content']['ename']}: {msg['content']['evalue']}")
                if msg["channel"] == "shell" and msg["msg_type"] == "execute_reply":
                    reply = msg["content"]
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
            assert reply["status"] == "ok", reply
            outputs.append("".join(stdout))
    finally:
        conn.close()
    return outputs


def test_make_lab_lists_runs_and_stops(tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "OMP_WAIT_POLICY")}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "config")
    args = f"--no-browser --ServerApp.token={token} --ServerApp.open_browser=False"
    proc = subprocess.Popen(["make", "-s", "lab", f"LAB_PORT={port}", f"LAB_ARGS={args}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _api(base, token, "/api/status")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, f"the server exited: {proc.stdout.read()[-2000:]}"
            assert time.monotonic() < deadline, "the server did not answer within 90 s"
            time.sleep(0.5)

        _, listing = _api(base, token, "/api/contents/")
        names = {item["name"] for item in listing["content"]}
        assert {"retrieval.ipynb", "rag.ipynb", "mtl.ipynb", "ragmtl.ipynb"} <= names, names

        # A session for a chapter, as opening it in the Lab does: its kernel runs in book/.
        status, session = _api(base, token, "/api/sessions", "POST",
                               {"path": "data.ipynb", "name": "data.ipynb", "type": "notebook",
                                "kernel": {"name": "python3"}})
        assert status == 201
        kernel = session["kernel"]
        notebook = json.loads(FIXTURE.read_text())
        cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
        cells.append("import os\nprint(os.getcwd()); print(os.environ['RAGMTL_CACHE']); "
                     "print(os.environ['OMP_WAIT_POLICY'])")
        ws = f"ws://127.0.0.1:{port}/api/kernels/{kernel['id']}/channels?token={token}"
        outputs = asyncio.run(_execute(ws, cells))
        assert outputs[0].strip() == "trained"
        cwd, cache, omp = outputs[-1].split()
        assert Path(cwd) == ROOT / "book"
        assert Path(cache).is_absolute() and omp == "PASSIVE"

        assert _api(base, token, f"/api/sessions/{session['id']}", "DELETE")[0] == 204
        assert _api(base, token, "/api/kernels")[1] == []
        _api(base, token, "/api/shutdown", "POST")
        assert proc.wait(timeout=60) == 0, proc.stdout.read()[-2000:]
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
