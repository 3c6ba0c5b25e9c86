"""The command-line interface ``python -m ragmtl``: help, retrieval, a tiny train/evaluate/card run, exit codes.

Everything but one test runs in-process through ``main([...])``; one subprocess proves the module
entry point. The end-to-end model is trained once per module (TREC, 2 steps, 64 training and 32 test
examples), with the embedding cache in a temporary folder.
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys

import pytest

from ragmtl.cli import ADAPTER_NAMES, BOOK_TASK_NAMES, WEIGHTING_NAMES, main
from ragmtl.cli.common import SCORE_DECIMALS

TRAIN_ARGS = ["--tasks", "trec", "--steps", "2", "--max-train", "64", "--max-test", "32"]


@pytest.fixture(scope="module", autouse=True)
def isolated_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAGMTL_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data):
    """(folder, scores printed by train, README.md as train wrote it)."""
    out = tmp_path_factory.mktemp("cli") / "model"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["train", "--out", str(out), *TRAIN_ARGS])
    assert code == 0, stderr.getvalue()
    assert "100%|" in stderr.getvalue() and "trec" in stderr.getvalue()  # the progress bar (labelled with
    # the tasks trained together) went to stderr ...
    return out, json.loads(stdout.getvalue()), (out / "README.md").read_text(encoding="utf-8")  # ... stdout is JSON


@pytest.fixture
def docs(tmp_path):
    """Five documents, a blank line before the last: ids count non-blank lines."""
    path = tmp_path / "docs.txt"
    path.write_text("the cat sat on the mat\n"
                    "dogs chase the ball in the park\n"
                    "stock markets fell sharply on monday\n"
                    "the weather is cold and rainy today\n"
                    "\n"
                    "a recipe for lemon cake with sugar and butter\n", encoding="utf-8")
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def runtime_error(capsys, *argv) -> str:
    """Run a command that must fail at run time: exit 1, one line ``ragmtl: error: ...``, no traceback."""
    code, out, err = run(capsys, *argv)
    assert code == 1, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ragmtl: error: "), err
    return lines[0]


# ------------------------------------------------------------------------------------------- help
def test_top_level_help(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for word in ("retrieve", "train", "evaluate", "card", "--debug", "examples:", "exit codes"):
        assert word in out


@pytest.mark.parametrize("command, options", [
    ("retrieve", ["--method", "--corpus", "--texts", "-k", "QUERY", "bm25", "tfidf", "dense"]),
    ("train", ["--out", "--tasks", "--steps", "--weighting", "--adapter", "--freeze-shared", "--max-train",
               "--max-test", "--seed", "--no-generation", *WEIGHTING_NAMES, *ADAPTER_NAMES]),
    ("evaluate", ["DIR", "--tasks", "--max-test", "--no-generation"]),
    ("card", ["DIR", "--name", "--print"]),
])
def test_subcommand_help(capsys, command, options):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert f"python -m ragmtl {command}" in out and "examples:" in out
    for option in options:
        assert option in out, option


def test_help_names_match_the_library():
    """The parser lists names without importing torch; they must be the library's."""
    from ragmtl.models import TASK_LOADERS, RAGMTLConfig, book_tasks
    from ragmtl.mtl.weighting import WEIGHTINGS

    assert BOOK_TASK_NAMES == tuple(t.name for t in book_tasks())
    assert set(BOOK_TASK_NAMES) == set(TASK_LOADERS)
    assert set(WEIGHTING_NAMES) == set(WEIGHTINGS)
    for adapter in ADAPTER_NAMES:
        RAGMTLConfig(book_tasks()[:1], adapter=None if adapter == "none" else adapter)


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "ragmtl", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m ragmtl") and "evaluate" in proc.stdout


# -------------------------------------------------------------------------------------- retrieve
@pytest.mark.parametrize("method", ["bm25", "tfidf"])
def test_retrieve_sparse_finds_the_hand_expected_document(capsys, docs, method):
    code, out, _ = run(capsys, "retrieve", "--method", method, "--texts", str(docs), "-k", "2",
                       "lemon cake recipe", "stock markets")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["query"] for r in lines] == ["lemon cake recipe", "stock markets"]
    cake, stocks = lines
    assert cake["results"][0]["id"] == 4  # the fifth non-blank line: the blank line is not counted
    assert cake["results"][0]["text"] == "a recipe for lemon cake with sugar and butter"
    assert stocks["results"][0]["id"] == 2
    for r in lines:
        assert [x["rank"] for x in r["results"]] == [1, 2]
        assert r["results"][0]["score"] > r["results"][1]["score"]  # only one document matches each query


def test_retrieve_truncates_text(capsys, tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("zebra " * 100 + "\nshort line\n", encoding="utf-8")
    code, out, _ = run(capsys, "retrieve", "--method", "bm25", "--texts", str(path), "-k", "1", "zebra")
    assert code == 0
    (result,) = json.loads(out)["results"]
    assert result["id"] == 0 and result["text"] == ("zebra " * 100)[:200]


def test_retrieve_dense(capsys, tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("Interest rates rose at the central bank.\nThe cat sleeps on the sofa.\n"
                    "The football match ended in a draw.\n", encoding="utf-8")
    code, out, _ = run(capsys, "retrieve", "--method", "dense", "--texts", str(path), "-k", "3",
                       "a kitten napping on the couch")
    assert code == 0
    results = json.loads(out)["results"]
    assert [r["id"] for r in results][0] == 1
    assert sorted(r["id"] for r in results) == [0, 1, 2]
    assert all(-1.0 <= r["score"] <= 1.0001 for r in results)  # cosines of unit vectors


# --------------------------------------------------------------------------------- usage errors
@pytest.mark.parametrize("argv, message", [
    ([], "required"),
    (["retrieve", "--method", "bm25", "query"], "--corpus"),
    (["retrieve", "--method", "magic", "--texts", "DOCS", "query"], "invalid choice"),
    (["retrieve", "--method", "bm25", "--texts", "DOCS"], "QUERY"),
    (["retrieve", "--method", "bm25", "--texts", "DOCS", "-k", "0", "query"], "positive integer"),
    (["retrieve", "--method", "bm25", "--corpus", "no/such", "query"], "scifact/title+text"),
    (["train"], "--out"),
    (["train", "--out", "OUT", "--tasks", "trec,sst2"], "known tasks: ['trec', 'clinc150', 'squad2']"),
    (["train", "--out", "OUT", "--weighting", "best"], "invalid choice"),
    (["train", "--out", "OUT", "--freeze-shared"], "nothing in the encoder would train"),
    (["train", "--out", "OUT", "--steps", "0"], "positive integer"),
    (["train", "--out", "OUT", "--seed", "-1"], "non-negative integer"),
    (["train", "--out", "OUT", "--weighting", "gradnorm", "--adapter", "lora", "--freeze-shared"], "gradnorm"),
    (["evaluate"], "DIR"),
])
def test_usage_errors_exit_2(capsys, docs, tmp_path, argv, message):
    argv = [str(docs) if a == "DOCS" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == "" and "usage: python -m ragmtl" in err and message in err
    assert not (tmp_path / "out").exists()  # rejected before any work


def test_evaluate_unknown_task_is_a_usage_error(capsys, trained):
    code, _, err = run(capsys, "evaluate", str(trained[0]), "--tasks", "squad2")
    assert code == 2 and "this model's tasks: ['trec']" in err


# ------------------------------------------------------------------------------- runtime errors
def test_evaluate_missing_folder(capsys, tmp_path):
    line = runtime_error(capsys, "evaluate", str(tmp_path / "nowhere"))
    assert "nowhere is not a folder" in line


def test_debug_reraises(tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["--debug", "evaluate", str(tmp_path / "nowhere")])


def test_retrieve_missing_texts_file(capsys, tmp_path):
    line = runtime_error(capsys, "retrieve", "--method", "bm25", "--texts", str(tmp_path / "none.txt"), "q")
    assert "none.txt" in line


def test_retrieve_empty_texts_file(capsys, tmp_path):
    (tmp_path / "empty.txt").write_text("\n  \n", encoding="utf-8")
    line = runtime_error(capsys, "retrieve", "--method", "tfidf", "--texts", str(tmp_path / "empty.txt"), "q")
    assert "empty corpus" in line


def test_evaluate_tampered_weights(capsys, trained, tmp_path):
    folder = shutil.copytree(trained[0], tmp_path / "copy")
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # same size, one bit changed
    weights.write_bytes(bytes(data))
    line = runtime_error(capsys, "evaluate", str(folder), "--max-test", "32")
    assert "model.safetensors" in line and "does not match its manifest entry" in line


def test_card_without_metrics(capsys, tmp_path):
    from ragmtl.models import RAGMTLConfig, book_tasks, build_model, save_ragmtl

    save_ragmtl(tmp_path / "bare", build_model(RAGMTLConfig(book_tasks()[:1])))
    line = runtime_error(capsys, "card", str(tmp_path / "bare"))
    assert "metrics.json" in line
    assert not (tmp_path / "bare" / "README.md").exists()


def test_train_refuses_a_folder_in_use(capsys, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("keep me\n")
    line = runtime_error(capsys, "train", "--out", str(tmp_path / "used"), *TRAIN_ARGS)
    assert "--overwrite" in line


def test_changed_knowledge_source_is_an_error(trained):
    from ragmtl.cli import _check_knowledge_source

    with pytest.raises(ValueError, match="rebuilt knowledge source .* is not the saved one"):
        _check_knowledge_source(trained[0], "trec", ["not", "the", "training", "set"])


# ------------------------------------------------------------------------------------ end to end
def test_train_prints_and_saves_scores(trained):
    folder, scores, _ = trained
    assert set(scores) == {"trec"} and set(scores["trec"]) == {"accuracy", "macro_f1"}
    assert 0 <= scores["trec"]["accuracy"] <= 100
    saved = json.loads((folder / "metrics.json").read_text())  # full precision; printed rounded
    assert {t: {m: round(v, SCORE_DECIMALS) for m, v in ms.items()} for t, ms in saved.items()} == scores
    config = json.loads((folder / "config.json").read_text())["config"]
    assert config["tasks"][0]["max_train"] == 64
    assert (folder / "indexes" / "trec" / "index.faiss").is_file()


def test_evaluate_reproduces_train_scores(capsys, trained):
    folder, scores, _ = trained
    code, out, _ = run(capsys, "evaluate", str(folder), "--max-test", "32")
    assert code == 0
    assert json.loads(out) == scores  # exactly: same test subsample, same weights


def test_card_names_the_data_licence(capsys, trained):
    from ragmtl.sharing import dataset_sources, verify_manifest

    folder, scores, written_by_train = trained
    code, out, _ = run(capsys, "card", str(folder), "--name", "My TREC model", "--print")
    assert code == 0 and out.startswith("# My TREC model\n")
    assert (folder / "README.md").read_text(encoding="utf-8") == out

    code, out, _ = run(capsys, "card", str(folder))
    assert code == 0 and out.strip() == str(folder / "README.md")
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert card == written_by_train  # the card comes from the saved config and scores only
    assert f"**Licence:** {dataset_sources('sentclf')[0].licence}" in card
    assert f"| trec | {scores['trec']['accuracy']:.4g} |" in card
    verify_manifest(folder)  # the rewritten card is listed with its new checksum


def test_training_settings_are_saved_listed_and_on_the_card(trained):
    from ragmtl.models import read_training
    from ragmtl.sharing import read_manifest

    folder, _, card = trained
    training = read_training(folder)
    assert "training.json" in read_manifest(folder)
    assert training["steps"] == 2 and training["seed"] == 0 and training["weighting"] == "equal"
    assert training["train_examples"] == {"trec": 64} and training["max_test"] == 32
    assert training["batch_size"] == {"classification": 16, "extractive_qa": 12}
    assert "## Training procedure" in card and "| steps | `2` |" in card and "| train_examples | `{\"trec\": 64}` |" in card


def test_card_lists_only_the_data_files_used(trained):
    folder, _, card = trained
    assert "TREC.train.all" in card and "TREC.test.all" in card
    for unused in ("stsa.binary.train", "rt-polarity.all", "subj.all", "mpqa.all"):
        assert unused not in card  # other files of the sentclf dataset, which TREC does not read


def test_interrupted_card_leaves_the_model_loadable(capsys, trained, tmp_path, monkeypatch):
    from ragmtl.sharing import files, verify_manifest

    folder = tmp_path / "copy"
    shutil.copytree(trained[0], folder)
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(files, "_exchange", interrupted)  # Ctrl-C just before the new folder is swapped in
    code, out, err = run(capsys, "card", str(folder), "--name", "Renamed")
    assert code == 130 and err == "ragmtl: interrupted\n"
    assert {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    verify_manifest(folder)
    assert [p.name for p in tmp_path.iterdir()] == ["copy"]  # the half-built folder was removed


def test_train_overwrite_replaces_the_whole_folder(capsys, trained, tmp_path):
    from ragmtl.sharing import read_manifest

    folder = tmp_path / "again"
    shutil.copytree(trained[0], folder)
    (folder / "notes.txt").write_text("stale")  # a file the new save does not write
    code, out, err = run(capsys, "train", "--out", str(folder), "--overwrite", *TRAIN_ARGS)
    assert code == 0, err
    assert not (folder / "notes.txt").exists() and "notes.txt" not in read_manifest(folder)
    # the same run twice writes the same bytes: weights, manifest and card included
    for name in ("model.safetensors", "manifest.json", "README.md", "training.json", "config.json"):
        assert (folder / name).read_bytes() == (trained[0] / name).read_bytes(), name


def test_retrieve_corpus_results_carry_the_datasets_document_ids(capsys):
    from ragmtl.data import load_scifact

    code, out, _ = run(capsys, "retrieve", "--method", "bm25", "--corpus", "scifact/title+text", "-k", "3",
                       "vitamin D and bone density")
    assert code == 0
    results = json.loads(out)["results"]
    corpus = load_scifact().corpus
    for r in results:
        assert isinstance(r["id"], str) and r["id"] == corpus[r["row"]].doc_id
        assert r["text"] == (corpus[r["row"]].title + " " + corpus[r["row"]].text)[:200]
    assert [r["row"] for r in results] != [r["rank"] - 1 for r in results]  # ids are not ranks or rows


def test_corpus_option_lists_its_choices(capsys):
    from ragmtl.data.corpora import CORPORA

    code, out, _ = run(capsys, "retrieve", "--help")
    assert code == 0
    flat = " ".join(out.split())
    for name, builder in CORPORA.items():
        assert name in flat and " ".join(builder.description.split()) in flat
    code, _, err = run(capsys, "retrieve", "--method", "bm25", "--corpus", "wikipedia", "x")
    assert code == 2 and "invalid choice: 'wikipedia'" in err and "scifact/title+text" in err


def test_missing_dependency_is_one_clear_line():
    from ragmtl.cli import error_line

    line = error_line(ModuleNotFoundError("No module named 'torch'", name="torch"))
    assert "missing dependency 'torch'" in line and "make install" in line and ".venv/bin/ragmtl" in line
    assert "\n" not in line


def test_console_script_is_declared():
    from importlib.metadata import entry_points

    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    assert scripts.get("ragmtl") == "ragmtl.cli:main"


def test_scores_print_rounded():
    from ragmtl.cli.common import scores_json

    out = json.loads(scores_json({"trec": {"accuracy": 100 * 0.906, "macro_f1": 87.3975029776337}}))
    assert out == {"trec": {"accuracy": 90.6, "macro_f1": 87.3975}}
