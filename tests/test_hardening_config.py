"""Saved configs of the wrong type or shape: one clear error naming the file and the field, never a silent
default; and the command line turns each into one line on stderr with exit code 1.

The folders hold a RAGMTLConfig saved with a stand-in module (no MiniLM needed): loading stops at the
config, before any model is built. Each edit is re-hashed into the manifest, as a hostile user would.
"""
from __future__ import annotations

import json

import pytest
from torch import nn

from ragmtl.cli import error_line, main
from ragmtl.models import RAGMTLConfig, TaskSpec, book_tasks
from ragmtl.sharing import (ConfigMismatchError, ConfigTypeError, config_from_dict, config_to_dict, read_config,
                            save_pretrained, update_manifest)


@pytest.fixture
def saved(tmp_path):
    root, metrics = tmp_path / "m", tmp_path / "metrics.json"
    metrics.write_text('{"trec": {"accuracy": 50.0}}')
    save_pretrained(root, nn.Linear(1, 1), RAGMTLConfig(book_tasks()), extra_files={"metrics.json": metrics})
    return root


def _edit(root, edit) -> None:
    data = json.loads((root / "config.json").read_text())
    edit(data["config"])
    (root / "config.json").write_text(json.dumps(data))
    update_manifest(root, ["config.json"])


WRONG_MODEL_FIELDS = [
    ("n_lower", "4", "int"), ("n_lower", 4.0, "int"), ("n_lower", True, "int"), ("n_lower", None, "int"),
    ("train_shared", "no", "bool"), ("train_shared", 0, "bool"),
    ("adapter", 3, "str | None"), ("adapter", ["lora"], "str | None"),
    ("adapter_r", 8.5, "int"), ("adapter_alpha", "16", "float"), ("adapter_alpha", False, "float"),
    ("adapter_bottleneck", "32", "int"), ("attention_init", None, "float"), ("vote_init", [5.0], "float"),
    ("base_model", 5, "str"), ("tasks", {}, "tuple"), ("tasks", "trec", "tuple"), ("tasks", [1, 2], "tuple"),
]


@pytest.mark.parametrize("field, value, expected", WRONG_MODEL_FIELDS)
def test_wrong_typed_model_field_is_named(saved, field, value, expected):
    _edit(saved, lambda c: c.__setitem__(field, value))
    with pytest.raises(ConfigTypeError, match=rf"config.json: config field RAGMTLConfig.{field} is .*expected "
                                              rf"{expected.replace('|', '[|]')}"):
        read_config(saved, RAGMTLConfig)


WRONG_TASK_FIELDS = [("name", 5), ("kind", 1), ("dataset", None), ("num_classes", "6"), ("num_classes", 6.0),
                     ("k", 1.5), ("fusion", True), ("max_length", "64"), ("max_train", "all"), ("data_seed", None)]


@pytest.mark.parametrize("field, value", WRONG_TASK_FIELDS)
def test_wrong_typed_task_field_is_named(saved, field, value):
    _edit(saved, lambda c: c["tasks"][0].__setitem__(field, value))
    with pytest.raises(ConfigTypeError, match=rf"config field TaskSpec.{field} is"):
        read_config(saved, RAGMTLConfig)


def test_values_of_the_right_type_still_load(saved):
    _edit(saved, lambda c: c.update(adapter_alpha=16, adapter="lora"))  # an int where a float is asked: fine
    config = read_config(saved, RAGMTLConfig)
    assert config.adapter_alpha == 16.0 and isinstance(config.adapter_alpha, float) and config.adapter == "lora"


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(tasks=[]), "RAGMTLConfig needs at least one task"),
    (lambda c: c.update(adapter="prefix"), "adapter must be None"),
    (lambda c: c["tasks"][0].update(name="/tmp/x"), "not a plain name"),
    (lambda c: c.pop("n_lower"), r"fields the file lacks \['n_lower'\]"),
    (lambda c: c.update(colour="red"), r"fields the class does not have \['colour'\]"),
])
def test_invalid_values_are_named(saved, edit, message):
    _edit(saved, edit)
    with pytest.raises(ConfigMismatchError, match=message) as info:
        read_config(saved, RAGMTLConfig)
    assert "config.json" in str(info.value)


def test_config_round_trip_is_exact_and_not_a_nested_dict():
    config = RAGMTLConfig(book_tasks(), adapter="lora")
    back = config_from_dict(RAGMTLConfig, json.loads(json.dumps(config_to_dict(config))))
    assert back == config and isinstance(back.tasks, tuple) and isinstance(back.tasks[0], TaskSpec)
    with pytest.raises(ConfigTypeError, match="must be a JSON object"):
        config_from_dict(RAGMTLConfig, [1, 2])


# ---- the command line: one line, exit code 1 ------------------------------------------------------------------

def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("edit, words", [
    (lambda c: c.__setitem__("n_lower", "4"), "RAGMTLConfig.n_lower is '4' (str): expected int"),
    (lambda c: c.__setitem__("train_shared", "no"), "RAGMTLConfig.train_shared is 'no' (str): expected bool"),
    (lambda c: c.__setitem__("tasks", {}), "RAGMTLConfig.tasks is {} (dict)"),
    (lambda c: c["tasks"][0].__setitem__("name", "../../etc"), "not a plain name"),
])
def test_cli_prints_one_line_for_a_bad_config(capsys, saved, edit, words):
    _edit(saved, edit)
    for command in ("evaluate", "card"):
        code, out, err = _cli(capsys, command, str(saved))
        assert code == 1 and out == ""
        assert err.count("\n") == 1 and err.startswith("ragmtl: error: ") and "Traceback" not in err
        assert words in err and "config.json" in err


def test_cli_bad_json_and_missing_config_section(capsys, saved):
    (saved / "config.json").write_text("{oops")
    update_manifest(saved, ["config.json"])
    code, _, err = _cli(capsys, "evaluate", str(saved))
    assert code == 1 and err.count("\n") == 1 and "config.json is not valid JSON" in err
    (saved / "config.json").write_text('{"format_version": 1}')
    update_manifest(saved, ["config.json"])
    code, _, err = _cli(capsys, "evaluate", str(saved))
    assert code == 1 and err.count("\n") == 1 and "has no 'config' object" in err


def test_cli_debug_keeps_the_traceback(saved):
    _edit(saved, lambda c: c.__setitem__("n_lower", "4"))
    with pytest.raises(ConfigTypeError):
        main(["--debug", "evaluate", str(saved)])


def test_cli_unwritable_out_is_one_line_before_training(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, _, err = _cli(capsys, "train", "--out", str(blocker / "model"), "--tasks", "trec", "--steps", "1")
    assert code == 1 and err.count("\n") == 1 and str(blocker) in err
    code, _, err = _cli(capsys, "train", "--out", str(blocker), "--tasks", "trec", "--steps", "1")
    assert code == 1 and "is a file" in err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    code, _, err = _cli(capsys, "train", "--out", str(tmp_path / "mine"), "--overwrite", "--tasks", "trec")
    assert code == 1 and "not a saved model" in err and (tmp_path / "mine" / "thesis.tex").is_file()


def test_cli_interrupt_is_exit_130(capsys, monkeypatch, saved):
    import ragmtl.cli.evaluate as evaluate

    def interrupted(root):
        raise KeyboardInterrupt
    monkeypatch.setattr(evaluate, "saved_folder", interrupted)
    code, out, err = _cli(capsys, "evaluate", str(saved))
    assert code == 130 and out == "" and err == "ragmtl: interrupted\n"


def test_error_line_names_unexpected_types():
    assert error_line(ValueError("a\n  b")) == "a b"
    assert error_line(KeyError("tasks")).startswith("KeyError: 'tasks'")
    assert "--debug" in error_line(TypeError("x"))
    assert error_line(OSError()) == "OSError"


def test_build_model_refuses_an_unavailable_base_model():
    from dataclasses import replace

    from ragmtl.models import build_model

    with pytest.raises(ValueError, match="base_model 'bert-base-uncased' is not available offline"):
        build_model(replace(RAGMTLConfig(book_tasks()), base_model="bert-base-uncased"))


@pytest.mark.parametrize("stage", ["task_data", "fit", "save_ragmtl"])
def test_cli_train_interrupted_at_each_stage_writes_nothing(capsys, monkeypatch, tmp_path, stage):
    import ragmtl.cli.train as train
    import ragmtl.models as models

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    fake_data = {"trec": type("D", (), {"train": type("T", (), {"trainable_rows": [0, 1]})(), "evals": {"test": None},
                                        "retriever": None, "corpus": []})()}
    monkeypatch.setattr(train, "task_data", interrupted if stage == "task_data" else lambda *a: fake_data)
    monkeypatch.setattr(models, "fit", interrupted if stage == "fit" else
                        lambda *a, **k: type("R", (), {"scores": {"trec": {"accuracy": 1.0}}, "model": None})())
    monkeypatch.setattr(models, "save_ragmtl", interrupted)
    out = tmp_path / "run"
    code, stdout, err = _cli(capsys, "train", "--out", str(out), "--tasks", "trec", "--steps", "1")
    assert code == 130 and stdout == "" and err == "ragmtl: interrupted\n"
    assert not out.exists() and list(tmp_path.iterdir()) == []  # not even the writability probe is left
