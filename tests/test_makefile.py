"""The Makefile hands the notebooks absolute data and cache folders (they run from book/)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def make_env(**env) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("RAGMTL_DATA", "RAGMTL_CACHE", "MAKEFLAGS")}
    done = subprocess.run(["make", "-s", "env"], cwd=ROOT, env={**base, **env}, capture_output=True, text=True,
                          check=True)
    return dict(line.split("=", 1) for line in done.stdout.splitlines())


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_relative_folders_become_absolute():
    got = make_env(RAGMTL_DATA="../shared/data", RAGMTL_CACHE="some/cache")
    assert got["RAGMTL_DATA"] == str(ROOT.parent / "shared" / "data")  # as .ci/run's neighbour, normalised
    assert got["RAGMTL_CACHE"] == str(ROOT / "some" / "cache")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_defaults():
    got = make_env()
    assert got["RAGMTL_DATA"] == ""  # unset: the library's per-user folder, downloads on a miss
    assert got["RAGMTL_CACHE"] == str(ROOT / ".cache" / "ragmtl")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_notebook_comparison_is_tolerant_by_default_and_exact_with_strict():
    """`make notebooks` loads the tolerant comparison, from an empty cache of its own; STRICT=1 asks for exact."""
    def dry(*args):
        return subprocess.run(["make", "-n", "notebooks", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout

    default, strict = dry(), dry("STRICT=1")
    assert "-p tests.nbval_numbers" in default and "--nbval-strict" not in default
    assert "--nbval-strict" in strict
    assert "rm -rf " + str(ROOT / ".cache" / "nbval") in default
    assert "RAGMTL_CACHE=" + str(ROOT / ".cache" / "nbval") in default
