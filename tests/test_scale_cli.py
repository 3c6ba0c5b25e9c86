"""``ragmtl train --nproc N``: a 2-process data-parallel run trains, scores and saves a model that
loads; a weighting data-parallel training cannot apply identically is a usage error."""
import json
import os
import subprocess
import sys

import pytest

from ragmtl.cli import main
from ragmtl.sharing import verify_manifest


def test_nproc_refuses_a_gradient_based_weighting(tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path / "m"), "--tasks", "trec", "--nproc", "2", "--weighting", "pcgrad"])
    assert code == 2
    assert "--nproc 2: PCGrad looks at per-task gradients" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_two_process_train_saves_a_loadable_model(tmp_path, shared_data):
    out = tmp_path / "ddp"
    proc = subprocess.run([sys.executable, "-m", "ragmtl", "train", "--nproc", "2", "--out", str(out), "--tasks",
                           "trec", "--steps", "2", "--max-train", "64", "--max-test", "16", "--no-generation"],
                          capture_output=True, text=True, env={**os.environ, "RAGMTL_DATA": str(shared_data)},
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    scores = json.loads(proc.stdout)
    assert set(scores) == {"trec"} and 0 <= scores["trec"]["accuracy"] <= 100
    verify_manifest(out, required=["model.safetensors", "config.json"])
    training = json.loads((out / "training.json").read_text())
    assert training["data_parallel"] == {"backend": "gloo", "nproc": 2}
    assert json.loads((out / "metrics.json").read_text())["trec"]["accuracy"] == pytest.approx(
        scores["trec"]["accuracy"], abs=1e-3)
