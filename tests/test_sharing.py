import hashlib
import json
import pickle
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pytest
import torch
from torch import nn

from ragmtl.adapters import AdapterConfig, inject_adapters, is_adapter_parameter, load_adapters, set_task
from ragmtl.retrieval import BM25, BM25Config, DenseConfig, DenseRetriever, HybridRetriever, TfidfRetriever
from ragmtl.sharing import (CORPUS_BUILDERS, ChecksumError, ConfigMismatchError, FormatVersionError,
                            MissingFileError, ModelCardInfo, WeightsMismatchError, check_round_trip, check_shapes,
                            config_from_dict, hash_files, load_index, load_pretrained, load_weights, model_card,
                            read_manifest, results_table, save_index, save_pretrained, select_state,
                            texts_sha256, trainable_keys, verify_manifest, write_manifest)


@dataclass(frozen=True)
class TinyConfig:
    d_in: int = 4
    d_hidden: int = 8
    tasks: tuple[str, ...] = ("sst2", "trec")
    n_classes: tuple[int, ...] = (2, 6)


@dataclass(frozen=True)
class OtherConfig:
    d_in: int = 4


class TinyMTL(nn.Module):
    """A shared encoder, one head per task and a buffer: the shape of the later chapter's model."""

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.encoder = nn.Linear(config.d_in, config.d_hidden)
        self.heads = nn.ModuleDict({t: nn.Linear(config.d_hidden, c) for t, c in zip(config.tasks, config.n_classes)})
        self.register_buffer("scale", torch.tensor(1.0))

    def forward(self, x, task):
        return self.heads[task](torch.tanh(self.encoder(x)) * self.scale)


def build(config):
    return TinyMTL(config)


def _saved(tmp_path, seed=0, **kwargs):
    torch.manual_seed(seed)
    model = TinyMTL(TinyConfig())
    model.scale.fill_(0.5)
    save_pretrained(tmp_path / "m", model, TinyConfig(), **kwargs)
    return model, tmp_path / "m"


def _rewrite_json(path, edit):
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


# ---- manifest, config and shape checks on hand-made cases -------------------------------------------------------

def test_manifest_hashes_by_hand(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"abc")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_bytes(b"")
    entries = write_manifest(tmp_path, ["a.txt", "sub"])
    assert list(entries) == ["a.txt", "sub/b.txt"]
    assert entries["a.txt"].sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert entries["sub/b.txt"].sha256 == hashlib.sha256(b"").hexdigest() and entries["a.txt"].bytes == 3
    assert verify_manifest(tmp_path) == read_manifest(tmp_path) == entries
    with pytest.raises(MissingFileError, match="nope"):
        hash_files(tmp_path, ["nope"])
    with pytest.raises(ValueError, match="plain relative path"):
        hash_files(tmp_path, ["../a.txt"])
    _rewrite_json(tmp_path / "manifest.json", lambda d: d["files"].update({"../../etc/passwd": d["files"]["a.txt"]}))
    with pytest.raises(ValueError, match="etc/passwd"):
        verify_manifest(tmp_path)


@dataclass(frozen=True)
class Inner:
    names: frozenset[str] = frozenset({"b", "a"})


@dataclass(frozen=True)
class Outer:
    sizes: tuple[int, ...] = (1, 2)
    pair: tuple[str, float] = ("x", 0.5)
    inner: Inner = field(default_factory=Inner)
    maybe: Optional[Inner] = None
    mapping: dict[str, tuple[int, ...]] = field(default_factory=lambda: {"k": (3,)})


def test_config_json_round_trip_restores_types():
    config = Outer(maybe=Inner(frozenset({"z"})))
    data = check_round_trip(config)
    assert data == {"sizes": [1, 2], "pair": ["x", 0.5], "inner": {"names": ["a", "b"]}, "maybe": {"names": ["z"]},
                    "mapping": {"k": [3]}}
    back = config_from_dict(Outer, json.loads(json.dumps(data)))
    assert back == config and isinstance(back.sizes, tuple) and isinstance(back.inner.names, frozenset)
    with pytest.raises(ConfigMismatchError, match=r"does not have \['extra'\].*lacks \['mapping'\]"):
        config_from_dict(Outer, {**{k: v for k, v in data.items() if k != "mapping"}, "extra": 1})
    with pytest.raises(ValueError, match="Tensor, which JSON cannot hold"):
        check_round_trip(Outer(sizes=torch.zeros(2)))
    with pytest.raises(ValueError, match="come back different"):
        check_round_trip(Outer(sizes=[1, 2]))  # a list in a tuple field would come back as a tuple
    with pytest.raises(TypeError, match="dataclass instance"):
        check_round_trip({"d_in": 4})


def test_check_shapes_lists_each_kind_of_difference():
    model = {"a": (2, 3), "b": (4,), "c": (1,)}
    check_shapes({"a": (2, 3)}, model, strict=False)  # a part of the model: fine when not strict
    with pytest.raises(WeightsMismatchError, match=r"missing 2 \[b, c\].*strict=False"):
        check_shapes({"a": (2, 3)}, model)
    with pytest.raises(WeightsMismatchError, match=r"unexpected 1 \[z\]; shape-mismatched 1 \[a: saved \(3, 2\) vs "
                                                   r"model \(2, 3\)\]"):
        check_shapes({"a": (3, 2), "z": (1,)}, model, strict=False)
    many = {f"w{i}": (1,) for i in range(8)}
    with pytest.raises(WeightsMismatchError, match=r"unexpected 8 \[w0, w1, w2, w3, w4, \.\.\. 3 more\]"):
        check_shapes(many, {})


def test_select_state_errors():
    state = TinyMTL(TinyConfig()).state_dict()
    assert list(state)[:2] == ["scale", "encoder.weight"]  # own buffers before children's tensors
    assert list(select_state(state, ["encoder.bias", "scale"])) == ["scale", "encoder.bias"]  # state order
    with pytest.raises(ValueError, match="does not have.*encoder.wieght"):
        select_state(state, ["encoder.wieght"])
    with pytest.raises(ValueError, match="selects no tensor"):
        select_state(state, lambda n: False)


# ---- save_pretrained / load_pretrained --------------------------------------------------------------------------

def test_round_trip_gives_identical_outputs(tmp_path, one_thread):
    model, path = _saved(tmp_path)
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "manifest.json", "model.safetensors"]
    loaded, config = load_pretrained(path, build, TinyConfig)
    assert config == TinyConfig() and loaded.scale.item() == 0.5
    x = torch.randn(5, 4)
    for task in config.tasks:
        assert torch.equal(loaded(x, task), model(x, task))
    header = json.loads((path / "config.json").read_text())
    assert header["config_class"] == "TinyConfig" and header["weights"]["partial"] is False


def test_loading_never_unpickles(tmp_path, monkeypatch):
    model, path = _saved(tmp_path)
    retriever = DenseRetriever().index_vectors(np.eye(3, 4, dtype=np.float32))
    save_index(tmp_path / "idx", retriever)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for target, name in [(torch, "load"), (torch.serialization, "load"), (pickle, "load"), (pickle, "loads"),
                         (pickle, "Unpickler"), (np, "load")]:
        monkeypatch.setattr(target, name, refuse)
    loaded, _ = load_pretrained(path, build, TinyConfig)
    assert torch.equal(loaded.encoder.weight, model.encoder.weight)
    assert load_index(tmp_path / "idx").search(np.eye(1, 4, dtype=np.float32), 1)[1].tolist() == [[0]]


def test_missing_and_tampered_files_are_named(tmp_path):
    _, path = _saved(tmp_path)
    data = bytearray((path / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF  # same size, one byte of a weight changed
    (path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="model.safetensors .*found sha256"):
        load_pretrained(path, build, TinyConfig)
    (path / "model.safetensors").unlink()
    with pytest.raises(MissingFileError, match="model.safetensors is listed .* but missing"):
        load_pretrained(path, build, TinyConfig)
    (path / "config.json").write_text((path / "config.json").read_text() + " ")  # checked first: sorted names
    with pytest.raises(ChecksumError, match="config.json .*found 4\\d+ bytes"):
        load_pretrained(path, build, TinyConfig)
    (path / "manifest.json").unlink()
    with pytest.raises(MissingFileError, match="manifest.json does not exist"):
        load_pretrained(path, build, TinyConfig)


def test_config_that_does_not_fit_the_weights(tmp_path):
    _, path = _saved(tmp_path)
    # A consistent folder (re-hashed) whose config describes another model: wider encoder, a third task.
    _rewrite_json(path / "config.json", lambda d: d["config"].update(
        d_hidden=16, tasks=["sst2", "trec", "mr"], n_classes=[2, 6, 2]))
    write_manifest(path, ["model.safetensors", "config.json"])
    with pytest.raises(WeightsMismatchError) as err:
        load_pretrained(path, build, TinyConfig)
    msg = str(err.value)
    assert "missing 2 [heads.mr.weight, heads.mr.bias]" in msg
    assert "encoder.weight: saved (8, 4) vs model (16, 4)" in msg and "different config" in msg


def test_wrong_config_class_and_unknown_versions(tmp_path):
    _, path = _saved(tmp_path)
    with pytest.raises(ConfigMismatchError, match="saved with config class 'TinyConfig'.*not 'OtherConfig'"):
        load_pretrained(path, lambda c: nn.Linear(c.d_in, 1), OtherConfig)
    _rewrite_json(path / "config.json", lambda d: d.update(format_version=99))
    with pytest.raises(ChecksumError):  # an edited file is caught by its checksum first ...
        load_pretrained(path, build, TinyConfig)
    write_manifest(path, ["model.safetensors", "config.json"])  # ... a consistent newer folder by its version
    with pytest.raises(FormatVersionError, match="config.json has format_version 99"):
        load_pretrained(path, build, TinyConfig)
    _rewrite_json(path / "manifest.json", lambda d: d.update(format_version=2))
    with pytest.raises(FormatVersionError, match="manifest.json has format_version 2"):
        load_pretrained(path, build, TinyConfig)


def test_config_that_cannot_be_saved_writes_nothing(tmp_path):
    bad = Outer(sizes=torch.zeros(2))
    with pytest.raises(ValueError, match="JSON cannot hold"):
        save_pretrained(tmp_path / "m", TinyMTL(TinyConfig()), bad)
    assert not (tmp_path / "m").exists()
    with pytest.raises(WeightsMismatchError, match="unexpected 1 \\[other\\]"):
        save_pretrained(tmp_path / "m", TinyMTL(TinyConfig()), TinyConfig(), state_dict={"other": torch.zeros(1)})


def _base_with_adapters(config, seed=0):
    """The 'pretrained' base (fixed by its seed) with LoRA adapters on the encoder for every task."""
    torch.manual_seed(seed)
    model = TinyMTL(config)
    inject_adapters(model, AdapterConfig("lora", targets=("encoder",), tasks=config.tasks, r=2))
    return model


def test_adapter_only_checkpoint_onto_a_base_model(tmp_path, one_thread):
    config = TinyConfig()
    model = _base_with_adapters(config)
    with torch.no_grad():  # "trained" adapters: B is zero at init, which would make the test blind
        for n, p in model.named_parameters():
            if is_adapter_parameter(n):
                p.normal_()
    entries = save_pretrained(tmp_path / "a", model, config, keys=is_adapter_parameter)
    header = json.loads((tmp_path / "a" / "config.json").read_text())
    assert header["weights"]["partial"] is True and header["weights"]["n_tensors"] == 4  # 2 tasks x (A, B)
    assert entries["model.safetensors"].bytes < 1000

    with pytest.raises(WeightsMismatchError, match="missing 7 .*strict=False"):
        load_pretrained(tmp_path / "a", _base_with_adapters, TinyConfig)
    loaded, _ = load_pretrained(tmp_path / "a", _base_with_adapters, TinyConfig, strict=False)
    fresh = _base_with_adapters(config, seed=1)  # another base: the adapters load, the base stays its own
    load_weights(tmp_path / "a", fresh, strict=False)
    x = torch.randn(3, 4)
    for task in config.tasks:
        set_task(model, task), set_task(loaded, task), set_task(fresh, task)
        assert torch.equal(loaded(x, task), model(x, task))
        assert not torch.allclose(fresh(x, task), model(x, task))
    assert torch.equal(fresh.encoder.lora_B["trec"], model.encoder.lora_B["trec"])

    # The file is the same format as ragmtl.adapters.save_adapters: load_adapters reads it as it is.
    other = _base_with_adapters(config, seed=2)
    load_adapters(other, tmp_path / "a" / "model.safetensors")
    assert torch.equal(other.encoder.lora_A["sst2"], model.encoder.lora_A["sst2"])
    # trainable_keys picks the same tensors once the backbone is frozen
    for n, p in model.named_parameters():
        p.requires_grad_(is_adapter_parameter(n))
    assert trainable_keys(model) == set(select_state(model.state_dict(), is_adapter_parameter))


def test_tied_weights_round_trip(tmp_path):
    class Tied(nn.Module):
        def __init__(self, _config):
            super().__init__()
            self.embed = nn.Embedding(5, 3)
            self.out = nn.Linear(3, 5, bias=False)
            self.out.weight = self.embed.weight

    model = Tied(None)
    save_pretrained(tmp_path / "t", model, OtherConfig())
    loaded, _ = load_pretrained(tmp_path / "t", Tied, OtherConfig)
    assert torch.equal(loaded.out.weight, model.embed.weight) and loaded.out.weight is loaded.embed.weight


def test_extra_files_are_checked_too(tmp_path):
    model = TinyMTL(TinyConfig())
    index_dir = tmp_path / "m" / "indexes" / "sst2"
    save_index(index_dir, DenseRetriever().index_vectors(np.eye(2, 4, dtype=np.float32)))
    entries = save_pretrained(tmp_path / "m", model, TinyConfig(), extra_files={"indexes/sst2": index_dir})
    assert {"indexes/sst2/index.faiss", "indexes/sst2/retriever.json", "indexes/sst2/manifest.json"} <= set(entries)
    (index_dir / "retriever.json").write_text("{}")
    with pytest.raises(ChecksumError, match="indexes/sst2/retriever.json"):
        load_pretrained(tmp_path / "m", build, TinyConfig)
    with pytest.raises(ValueError, match="reserved"):
        save_pretrained(tmp_path / "m", model, TinyConfig(), extra_files={"config.json": index_dir / "manifest.json"})


# ---- indexes --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivf"])
def test_faiss_index_round_trip(tmp_path, index_type):
    rng = np.random.default_rng(0)
    docs = rng.normal(size=(200, 16)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    queries = docs[:7] + 0.1 * rng.normal(size=(7, 16)).astype(np.float32)
    retriever = DenseRetriever(config=DenseConfig(index_type=index_type, ivf_nlist=8, ivf_nprobe=2))
    retriever.index_vectors(docs)
    save_index(tmp_path / "i", retriever)
    loaded = load_index(tmp_path / "i")
    assert loaded.config == retriever.config and (loaded.n_docs, loaded.dim) == (200, 16)
    for got, want in zip(loaded.search(queries, 10), retriever.search(queries, 10)):
        np.testing.assert_array_equal(got, want)


def test_faiss_index_by_hand_and_tampered(tmp_path):
    docs = np.eye(2, 8, dtype=np.float32)  # e1, e2
    save_index(tmp_path / "i", DenseRetriever().index_vectors(docs))
    query = np.array([[0.6, 0.8] + [0.0] * 6], dtype=np.float32)
    scores, ids = load_index(tmp_path / "i").search(query, 2)
    assert ids.tolist() == [[1, 0]] and np.allclose(scores, [[0.8, 0.6]])
    data = bytearray((tmp_path / "i" / "index.faiss").read_bytes())
    data[-4:] = b"\x00\x00\x80\x3f"  # the last stored float becomes 1.0
    (tmp_path / "i" / "index.faiss").write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="index.faiss"):
        load_index(tmp_path / "i")


CORPUS = ["the cat sat on the mat", "dogs chase cats in the park", "a cat and a dog are friends",
          "stock markets fell sharply today", "the park was full of dogs and their owners"]
QUERIES = ["cat on a mat", "dogs in parks", "markets", "owners of cats and dogs"]


@pytest.mark.parametrize("make", [lambda: BM25(BM25Config(k1=1.2, b=0.75, idf="okapi")), TfidfRetriever])
def test_sparse_recipe_rebuilds_identical_scores(tmp_path, make):
    original = make().index(CORPUS)
    save_index(tmp_path / "r", original, texts=CORPUS)
    assert sorted(read_manifest(tmp_path / "r")) == ["retriever.json"]
    recipe = json.loads((tmp_path / "r" / "retriever.json").read_text())
    assert recipe["corpus"]["texts_sha256"] == texts_sha256(CORPUS) and recipe["corpus"]["n_docs"] == 5
    rebuilt = load_index(tmp_path / "r", texts=CORPUS)
    assert type(rebuilt) is type(original) and rebuilt.config == original.config
    np.testing.assert_array_equal(rebuilt.score(QUERIES), original.score(QUERIES))
    assert (rebuilt.score(QUERIES) > 0).any()
    with pytest.raises(ValueError, match="pass the 5 texts"):
        load_index(tmp_path / "r")
    with pytest.raises(ValueError, match="not the recipe's corpus"):
        load_index(tmp_path / "r", texts=CORPUS[::-1])


def test_sparse_recipe_refuses_what_it_cannot_rebuild(tmp_path):
    bm25 = BM25().index(CORPUS)
    with pytest.raises(ValueError, match="not indexed on these 4 texts"):
        save_index(tmp_path / "r", bm25, texts=CORPUS[:4])
    with pytest.raises(ValueError, match="keeps no copy of its texts"):
        save_index(tmp_path / "r", bm25)
    with pytest.raises(ValueError, match="unknown corpus 'scifcat'.*scifact/title\\+text"):
        save_index(tmp_path / "r", bm25, corpus="scifcat")
    with pytest.raises(TypeError, match="cannot save a HybridRetriever"):
        save_index(tmp_path / "r", HybridRetriever([bm25, BM25().index(CORPUS)]))
    with pytest.raises(ValueError, match="no index yet"):
        save_index(tmp_path / "r", BM25(), texts=CORPUS)
    save_index(tmp_path / "r", bm25, texts=CORPUS)
    _rewrite_json(tmp_path / "r" / "retriever.json", lambda d: d["analyzer"].update(stem=False))
    write_manifest(tmp_path / "r", ["retriever.json"])  # a consistent recipe whose analyzer changed
    with pytest.raises(ValueError, match="other terms"):
        load_index(tmp_path / "r", texts=CORPUS)


@pytest.mark.slow
def test_bm25_recipe_of_named_scifact_corpus(tmp_path, shared_data):
    texts = CORPUS_BUILDERS["scifact/title+text"].build()
    bm25 = BM25().index(texts)
    save_index(tmp_path / "r", bm25, corpus="scifact/title+text")
    corpus = json.loads((tmp_path / "r" / "retriever.json").read_text())["corpus"]
    assert corpus["dataset"] == "scifact" and corpus["n_docs"] == 5183
    assert corpus["files"]["scifact.zip"] == "a798a7046af0f6fa04476448459ce7cafeea5bd90d4d99c53a0e27dc5e1a4673"
    rebuilt = load_index(tmp_path / "r")
    queries = ["0-dimensional biomaterials show inductive properties.", "ALDH1 expression is associated with "
               "poorer prognosis for breast cancer primary tumors."]
    np.testing.assert_array_equal(rebuilt.score(queries), bm25.score(queries))


# ---- model card -----------------------------------------------------------------------------------------------

def _card(**kwargs):
    info = dict(name="tiny-mtl", description="A shared encoder with per-task heads.",
                intended_use="Teaching.", out_of_scope_use="Any decision about people.",
                datasets=("sentclf", "banking77"),
                results={"sst2": {"accuracy": 0.8123456, "macro_f1": 0.8}, "banking77": {"accuracy": 0.9}},
                limitations="English only; small data.")
    return ModelCardInfo(**{**info, **kwargs})


def test_results_table_by_hand():
    assert results_table({"a": {"acc": 0.5}, "b|c": {"f1": 1.0, "acc": 0.25}}) == (
        "| task | acc | f1 |\n|---|---|---|\n| a | 0.5 | — |\n| b\\|c | 0.25 | 1 |")
    with pytest.raises(ValueError, match="a/acc is nan"):
        results_table({"a": {"acc": float("nan")}})
    with pytest.raises(ValueError, match="results is empty"):
        results_table({})


def test_model_card_written_with_licences_metrics_and_files(tmp_path):
    _, path = _saved(tmp_path, card=_card())
    text = (path / "README.md").read_text()
    for section in ("Model description", "Intended use", "Out-of-scope use", "Training data", "Evaluation results",
                    "Limitations and biases", "How to load", "Files"):
        assert f"## {section}\n" in text
    assert "CC BY 4.0 (Casanueva et al. 2020)" in text  # banking77's licence, from the data manifest
    assert "as distributed with Kim (2014)" in text and "TREC.train.all" in text  # sentclf's licence and files
    assert "| task | accuracy | macro_f1 |" in text and "| sst2 | 0.8123 | 0.8 |" in text
    assert "| banking77 | 0.9 | — |" in text
    entries = verify_manifest(path)  # the card is in the manifest, and every sha256 still holds
    assert "README.md" in entries and f"`{entries['model.safetensors'].sha256}`" in text
    assert "load_pretrained(\"path/to/this/folder\", build, TinyConfig)" in text


def test_model_card_errors():
    with pytest.raises(ValueError, match="dataset 'imagenet' is not in ragmtl's data manifest; known datasets"):
        model_card(_card(datasets=("scifact", "imagenet")))
    with pytest.raises(ValueError, match="limitations must be a non-empty str"):
        _card(limitations=" ")
    with pytest.raises(ValueError, match="datasets must be a non-empty tuple"):
        _card(datasets="scifact")
    assert "Not saved yet" in model_card(_card(how_to_load="x = 1"))
