"""The RAG-MTL model (ragmtl.models): configs, heads, routing, data, training, evaluation, sharing.

Most tests run a tiny BERT (hidden 32, 3 layers) on synthetic cached states, checked against hand
computations or the modules it is composed from; the sharing tests use the real MiniLM, because
``build_model`` / ``load_ragmtl`` rebuild it from its local files.
"""
import json
import math
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ragmtl.adapters import (LoRALinear, TaskAdapterLinear, BottleneckLinear, adapter_modules,
                             is_adapter_parameter, lower_states)
from ragmtl.models import (ClassificationSplit, NeighbourClassifierHead, QASplit, RAGMTLConfig, RAGMTLModel,
                           SpanHead, TaskSpec, TrainConfig, book_tasks, build_model, classification_splits,
                           collate_states, evaluate, load_ragmtl, load_task_index, neighbour_ids, predict,
                           qa_split, read_metrics, save_ragmtl, score, subsample_indices, train_ragmtl)
from ragmtl.rag.qa import best_answers
from ragmtl.rag.reader import NEG
from ragmtl.sharing import (ChecksumError, ConfigMismatchError, MissingFileError, WeightsMismatchError,
                            check_round_trip, config_from_dict, read_config, read_manifest, read_shapes,
                            write_manifest)

H = 32  # hidden size of the tiny backbone


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """Every test here runs tiny networks: one thread is fastest (two threads on two busy cores can be 100x slower)."""
    yield


def tiny_backbone(seed: int = 0, layers: int = 3):
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=64, hidden_size=H, num_hidden_layers=layers, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    return BertModel(config).eval()


def two_tasks(**kwargs) -> RAGMTLConfig:
    tasks = (TaskSpec("a", "classification", "toy", num_classes=3, k=2),
             TaskSpec("b", "classification", "toy", num_classes=2, k=2, fusion="mean"))
    defaults = dict(n_lower=1, adapter="lora", train_shared=True, adapter_r=4, adapter_bottleneck=8,
                    attention_init=5.0)
    return RAGMTLConfig(tasks=tasks, **{**defaults, **kwargs})


def synthetic_classification(task: str, n: int, num_classes: int, k: int, seed: int, memory=None,
                             noise: float = 0.7) -> ClassificationSplit:
    """Cached states around a class centre, and labelled neighbours retrieved by cosine similarity.

    The centres depend only on ``num_classes`` (train and test splits share them). Without
    ``memory`` the split is its own labelled memory (leave-one-out); otherwise ``memory`` is a
    training split whose memory is searched.
    """
    centres = torch.randn(num_classes, H, generator=torch.Generator().manual_seed(100 + num_classes))
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    states = [(centres[y] + noise * torch.randn(3 + i % 4, H, generator=g)).to(torch.bfloat16)
              for i, y in enumerate(labels.tolist())]
    vectors = F.normalize(centres[labels] + noise * torch.randn(n, H, generator=g), dim=-1)
    if memory is None:
        mem_vectors, mem_labels, exclude = vectors, labels, True
    else:
        mem_vectors, mem_labels, exclude = memory.memory_vectors, memory.memory_labels, False
    scores = vectors @ mem_vectors.T
    order = torch.argsort(scores, dim=1, descending=True)[:, : k + 1].numpy()
    ids = neighbour_ids((None, order), k, exclude_self=exclude)
    return ClassificationSplit(task, [f"{task} {i}" for i in range(n)], states, labels, ids, mem_vectors, mem_labels)


def synthetic_qa(task: str, n: int, seed: int) -> QASplit:
    """One passage per question: tokens ``[CLS] [Q] p_0 .. p_m [SEP]``, passage "a b c ...", gold span tokens 2..3."""
    g = torch.Generator().manual_seed(seed)
    states, context, offsets, passages = [], [], [], []
    for i in range(n):
        m = 4 + i % 3
        states.append(torch.randn(m + 3, H, generator=g).to(torch.bfloat16))
        context.append([0, 0] + [1] * m + [0])
        offsets.append([None, None] + [(2 * j, 2 * j + 1) for j in range(m)] + [None])
        passages.append(" ".join("abcdefgh"[:m]))
    return QASplit(task, [f"q{i}" for i in range(n)], [("a b",)] * n, [[i] for i in range(n)], np.zeros((n, 1)),
                   passages, states, context, offsets, [(2, 3)] * n)


# ---- configs ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="regression"), "kind must be one of"),
    (dict(fusion="max"), "fusion must be one of"),
    (dict(num_classes=1), "num_classes >= 2"),
    (dict(k=0), "k must be >= 1"),
    (dict(max_length=4), "max_length >= 8"),
    (dict(max_train=0), "max_train must be None or >= 1"),
    (dict(name=""), "not a plain name"),
    (dict(name="/tmp/evil"), "not a plain name"),
    (dict(name="../up"), "not a plain name"),
    (dict(name=3), "not a plain name"),
])
def test_task_spec_rejects_bad_fields(kwargs, message):
    fields = dict(name="t", kind="classification", dataset="toy", num_classes=3) | kwargs
    with pytest.raises(ValueError, match=message):
        TaskSpec(**fields)


def test_task_spec_kinds():
    assert TaskSpec("q", "extractive_qa", "squad2").num_classes == 0  # QA needs no classes
    assert TaskSpec("q", "extractive_qa", "squad2", fusion="none").retrieves  # QA always reads passages
    assert not TaskSpec("c", "classification", "toy", num_classes=2, fusion="none").retrieves
    assert TaskSpec("c", "classification", "toy", num_classes=2, fusion="mean").retrieves


def test_ragmtl_config_rejects_bad_fields():
    a = TaskSpec("a", "classification", "toy", num_classes=2)
    with pytest.raises(ValueError, match="at least one task"):
        RAGMTLConfig(tasks=())
    with pytest.raises(ValueError, match="distinct"):
        RAGMTLConfig(tasks=(a, TaskSpec("a", "extractive_qa", "squad2")))
    with pytest.raises(ValueError, match="adapter must be"):
        RAGMTLConfig(tasks=(a,), adapter="prefix")
    with pytest.raises(ValueError, match="nothing in the encoder would train"):
        RAGMTLConfig(tasks=(a,), adapter=None, train_shared=False)
    with pytest.raises(ValueError, match="n_lower must be >= 0"):
        RAGMTLConfig(tasks=(a,), n_lower=-1)
    RAGMTLConfig(tasks=(a,), adapter="task", train_shared=False)  # adapters alone are enough to train


def test_with_tasks_and_task_lookup():
    config = RAGMTLConfig(tasks=book_tasks(), n_lower=3, adapter="lora")
    single = config.with_tasks(["squad2"])
    assert single.task_names == ["squad2"] and single.task("squad2") == config.tasks[2]
    assert (single.n_lower, single.adapter) == (3, "lora")
    assert config.with_tasks(["squad2", "trec"]).task_names == ["squad2", "trec"]
    known = r"\['trec', 'clinc150', 'squad2'\]"
    with pytest.raises(ValueError, match=rf"task 'sst2' is not in this model; its tasks: {known}"):
        config.task("sst2")
    with pytest.raises(ValueError, match="'sst2' is not in this model"):
        config.with_tasks(["trec", "sst2"])


@pytest.mark.parametrize("config", [
    RAGMTLConfig(tasks=book_tasks()),
    RAGMTLConfig(tasks=book_tasks()[:1], adapter="bottleneck", train_shared=False, n_lower=0, attention_init=2.5,
                 vote_init=1.5),
    RAGMTLConfig(tasks=(TaskSpec("x", "classification", "toy", num_classes=7, fusion="none", max_train=11,
                                 data_seed=3),), adapter=None),
])
def test_config_json_round_trip(config):
    data = check_round_trip(config)
    back = config_from_dict(RAGMTLConfig, json.loads(json.dumps(data)))
    assert back == config
    assert isinstance(back.tasks, tuple) and all(isinstance(t, TaskSpec) for t in back.tasks)
    assert data["tasks"][0]["name"] == config.tasks[0].name and data["adapter"] == config.adapter
    assert data["vote_init"] == config.vote_init


# ---- heads -----------------------------------------------------------------------------------------------------

def _head_inputs(seed=0, unit_docs=False):
    g = torch.Generator().manual_seed(seed)
    states = torch.randn(2, 3, 4, generator=g)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    docs = torch.randn(2, 3, 4, generator=g)
    if unit_docs:
        docs = F.normalize(docs, dim=-1)
    labels = torch.tensor([[0, 2, 0], [1, 1, 2]])  # k = 3 neighbours, 3 classes
    return states, {"mask": mask, "neighbour_vectors": docs, "neighbour_labels": labels}


def _by_hand(head, states, batch, attention):
    """Logits W h + b + s * sum_i alpha_i onehot(y_i) per example, with the loops written out."""
    rows, C = [], head.num_classes
    for b in range(states.shape[0]):
        n = int(batch["mask"][b].sum())
        h = states[b, :n].mean(0)
        alpha = attention(h, batch["neighbour_vectors"][b])
        vote = torch.zeros(C)
        for i, y in enumerate(batch["neighbour_labels"][b].tolist()):
            vote[y] += alpha[i]
        rows.append(head.out.weight @ h + head.out.bias + head.vote_scale * vote)
    return torch.stack(rows)


def _pooled(states):
    return torch.stack([states[0, :2].mean(0), states[1].mean(0)])  # the masks of _head_inputs


def test_bilinear_head_by_hand():
    torch.manual_seed(0)
    head = NeighbourClassifierHead(4, 3, fusion="bilinear", attention_init=5.0, vote_init=3.0)
    assert head.out.weight.shape == (3, 4) and head.vote_scale.item() == 3.0
    with torch.no_grad():
        head.attention.W_a.copy_(torch.randn(4, 4))  # a general W_a, not the identity it starts from
        head.vote_scale.fill_(2.5)
    states, batch = _head_inputs()
    out = head(states, batch)
    W_a = head.attention.W_a

    def attention(h, docs):
        q = h / h.norm()
        return torch.softmax(torch.stack([q @ W_a @ d for d in docs]), dim=0)

    assert out["logits"].dtype == out["alpha"].dtype == torch.float32
    torch.testing.assert_close(out["logits"], _by_hand(head, states, batch, attention), atol=1e-5, rtol=1e-5)
    docs = batch["neighbour_vectors"]
    pooled = _pooled(states)
    alpha = torch.stack([attention(pooled[0], docs[0]), attention(pooled[1], docs[1])])
    torch.testing.assert_close(out["alpha"], alpha)
    # the vote part, written with the labels of _head_inputs: row 0 has classes 0, 2, 0, row 1 has 1, 1, 2
    vote = torch.stack([torch.stack([alpha[0, 0] + alpha[0, 2], torch.tensor(0.0), alpha[0, 1]]),
                        torch.stack([torch.tensor(0.0), alpha[1, 0] + alpha[1, 1], alpha[1, 2]])])
    expected = pooled @ head.out.weight.T + head.out.bias + 2.5 * vote
    torch.testing.assert_close(out["logits"], expected, atol=1e-5, rtol=1e-5)


def test_bilinear_head_starts_as_scaled_cosine_softmax():
    head = NeighbourClassifierHead(4, 3, fusion="bilinear", attention_init=5.0)
    torch.testing.assert_close(head.attention.W_a.detach(), 5.0 * torch.eye(4))
    assert head.vote_scale.item() == 5.0  # the default vote_init
    states, batch = _head_inputs(seed=1, unit_docs=True)
    cosine = F.cosine_similarity(_pooled(states).unsqueeze(1), batch["neighbour_vectors"], dim=-1)
    torch.testing.assert_close(head(states, batch)["alpha"], torch.softmax(5.0 * cosine, dim=-1))


def test_head_starts_as_a_soft_knn_classifier():
    """With ``out`` zeroed, the logits are vote_init times the attention-weighted vote, and the
    prediction is the vote's argmax: in row 0 one neighbour of class 0 close to the query outweighs
    two of class 1 far from it (a majority vote would say 1); row 1 is the mirror image (class 2)."""
    head = NeighbourClassifierHead(4, 3, fusion="bilinear", attention_init=20.0, vote_init=5.0)
    with torch.no_grad():
        head.out.weight.zero_()
        head.out.bias.zero_()
    e = torch.eye(4)
    states = torch.stack([e[0].expand(3, 4), e[1].expand(3, 4)]) * 2.0  # pooled h = 2 e_0, 2 e_1
    docs = torch.stack([torch.stack([e[0], e[2], e[3]]), torch.stack([e[1], e[0], e[3]])])
    batch = {"mask": torch.ones(2, 3, dtype=torch.long), "neighbour_vectors": docs,
             "neighbour_labels": torch.tensor([[0, 1, 1], [2, 1, 1]])}
    out = head(states, batch)
    near, far = math.exp(20) / (math.exp(20) + 2), 1 / (math.exp(20) + 2)  # softmax(20 * [1, 0, 0])
    torch.testing.assert_close(out["alpha"], torch.tensor([[near, far, far]] * 2))
    vote = torch.tensor([[near, 2 * far, 0.0], [0.0, 2 * far, near]])
    torch.testing.assert_close(out["logits"], 5.0 * vote)
    assert out["logits"].argmax(-1).tolist() == [0, 2]
    # the same on neighbours retrieved by cosine similarity from synthetic data (k = 2, no ties)
    split = synthetic_classification("a", 12, 3, 2, seed=4)
    batch = split.batch(list(range(12)))
    knn = NeighbourClassifierHead(H, 3, attention_init=20.0)
    with torch.no_grad():
        knn.out.weight.zero_()
        knn.out.bias.zero_()
        got = knn(batch["hidden"], batch)
    pooled = F.normalize(torch.stack([s.float().mean(0) for s in split.states]), dim=-1)
    alpha = torch.softmax(20.0 * (pooled.unsqueeze(1) * batch["neighbour_vectors"]).sum(-1), dim=-1)
    vote = torch.zeros(12, 3).scatter_add_(1, batch["neighbour_labels"], alpha)
    torch.testing.assert_close(got["logits"], 5.0 * vote, atol=1e-5, rtol=1e-5)
    assert got["logits"].argmax(-1).tolist() == vote.argmax(-1).tolist()


@pytest.mark.parametrize("fusion", ["bilinear", "mean"])
def test_vote_scale_gets_a_gradient(fusion):
    """d loss / d s = mean_b (softmax(logits_b) - onehot(y_b)) . v_b for the cross-entropy loss."""
    torch.manual_seed(0)
    head = NeighbourClassifierHead(4, 3, fusion=fusion, attention_init=5.0)
    states, batch = _head_inputs()
    labels = torch.tensor([1, 0])
    out = head(states, batch)
    head.loss(out, {"labels": labels}).backward()
    assert head.vote_scale.requires_grad and head.vote_scale.grad is not None
    with torch.no_grad():
        vote = torch.zeros(2, 3).scatter_add_(1, batch["neighbour_labels"], out["alpha"])  # sum_i alpha_i onehot(y_i)
        expected = ((torch.softmax(out["logits"], -1) - F.one_hot(labels, 3)) * vote).sum(-1).mean()
    assert abs(expected) > 1e-3
    torch.testing.assert_close(head.vote_scale.grad, expected)
    assert head.out.weight.grad is not None
    if fusion == "bilinear":
        assert head.attention.W_a.grad.abs().max() > 0  # the vote's weights train too


def test_mean_head_is_the_majority_vote_fraction():
    torch.manual_seed(0)
    head = NeighbourClassifierHead(4, 3, fusion="mean", vote_init=2.0)
    assert not hasattr(head, "attention")
    assert {n for n, _ in head.named_parameters()} == {"out.weight", "out.bias", "vote_scale"}
    states, batch = _head_inputs()
    out = head(states, batch)
    assert torch.equal(out["alpha"], torch.full((2, 3), 1 / 3))
    # labels (0, 2, 0) and (1, 1, 2): the fraction of the k = 3 neighbours in each class
    fractions = torch.tensor([[2 / 3, 0, 1 / 3], [0, 2 / 3, 1 / 3]])
    expected = _pooled(states) @ head.out.weight.T + head.out.bias + 2.0 * fractions
    torch.testing.assert_close(out["logits"], expected, atol=1e-5, rtol=1e-5)
    by_hand = _by_hand(head, states, batch, lambda h, docs: torch.full((len(docs),), 1.0 / len(docs)))
    torch.testing.assert_close(out["logits"], by_hand, atol=1e-5, rtol=1e-5)
    moved = dict(batch, neighbour_vectors=torch.randn(2, 3, 4))  # the mean ignores the vectors, not the labels
    torch.testing.assert_close(head(states, moved)["logits"], out["logits"])
    reordered = dict(batch, neighbour_labels=torch.tensor([[2, 0, 0], [1, 2, 1]]))  # same counts
    torch.testing.assert_close(head(states, reordered)["logits"], out["logits"])
    relabelled = dict(batch, neighbour_labels=torch.tensor([[0, 2, 2], [1, 1, 2]]))
    diff = head(states, relabelled)["logits"] - out["logits"]
    torch.testing.assert_close(diff, torch.tensor([[-2 / 3, 0, 2 / 3], [0, 0, 0]]), atol=1e-6, rtol=0)


def test_none_head_ignores_neighbours():
    torch.manual_seed(0)
    head = NeighbourClassifierHead(4, 3, fusion="none", vote_init=7.0)
    assert not hasattr(head, "vote_scale") and not hasattr(head, "attention")
    assert {n for n, _ in head.named_parameters()} == {"out.weight", "out.bias"}
    states, batch = _head_inputs()
    out = head(states, {"mask": batch["mask"]})  # no neighbour fields needed
    assert set(out) == {"logits"} and out["logits"].dtype == torch.float32
    torch.testing.assert_close(out["logits"], _pooled(states) @ head.out.weight.T + head.out.bias)
    torch.testing.assert_close(head(states, batch)["logits"], out["logits"])
    relabelled = dict(batch, neighbour_labels=torch.tensor([[1, 1, 1], [0, 0, 0]]))
    torch.testing.assert_close(head(states, relabelled)["logits"], out["logits"])
    labels = torch.tensor([2, 0])
    expected = -(torch.log_softmax(out["logits"], -1)[torch.arange(2), labels]).mean()
    torch.testing.assert_close(head.loss(out, {"labels": labels}), expected)


def test_span_head_masks_non_context_tokens():
    torch.manual_seed(0)
    head = SpanHead(4)
    states = torch.randn(2, 5, 4)
    context = torch.tensor([[0, 1, 1, 0, 0], [0, 0, 1, 1, 1]], dtype=torch.bool)
    out = head(states, {"context_mask": context})
    raw = states @ head.qa.weight.T + head.qa.bias
    for i, key in enumerate(("start", "end")):
        assert torch.all(out[key][~context] == NEG)
        torch.testing.assert_close(out[key][context], raw[..., i][context])
    start, end = torch.tensor([1, 4]), torch.tensor([2, 4])
    loss = head.loss(out, {"start": start, "end": end})
    by_hand = -(torch.log_softmax(out["start"], -1)[torch.arange(2), start]
                + torch.log_softmax(out["end"], -1)[torch.arange(2), end]).mean() / 2
    torch.testing.assert_close(loss, by_hand)


# ---- the model -------------------------------------------------------------------------------------------------

def _batch(seed=0):
    split = synthetic_classification("a", 6, 3, 2, seed)
    batch = split.batch([0, 1, 2, 3, 4, 5])
    batch["neighbour_labels"] = batch["neighbour_labels"] % 2  # valid for both tasks (3 and 2 classes)
    return batch


@pytest.mark.parametrize("kind", ["lora", "task", "bottleneck"])
def test_zero_initialised_adapters_leave_the_model_unchanged(kind):
    plain = RAGMTLModel(tiny_backbone(), two_tasks(adapter=None))
    adapted = RAGMTLModel(tiny_backbone(), two_tasks(adapter=kind))
    assert adapter_modules(adapted.backbone) and not adapter_modules(plain.backbone)
    adapted.heads.load_state_dict(plain.heads.state_dict())
    batch = _batch()
    with torch.no_grad():
        for task in ("a", "b"):
            torch.testing.assert_close(adapted(task, batch)["logits"], plain(task, batch)["logits"],
                                       atol=1e-6, rtol=0)


def _perturb_task_adapters(model, task, scale=0.5):
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for m in adapter_modules(model.backbone).values():
            if isinstance(m, LoRALinear):
                m.lora_B[task].add_(scale * torch.randn(m.lora_B[task].shape, generator=g))
            elif isinstance(m, TaskAdapterLinear):
                i = m.task_index(task)
                m.adapters[i].add_(scale * torch.randn(m.adapters[i].shape, generator=g))
            elif isinstance(m, BottleneckLinear):
                m.adapters[task].up.weight.add_(scale * torch.randn(m.adapters[task].up.weight.shape, generator=g))


@pytest.mark.parametrize("kind", ["lora", "task", "bottleneck"])
def test_each_task_runs_through_its_own_adapters(kind):
    model = RAGMTLModel(tiny_backbone(), two_tasks(adapter=kind))
    batch = _batch()
    with torch.no_grad():
        before = {t: model(t, batch)["logits"] for t in ("a", "b")}
        _perturb_task_adapters(model, "b")
        after = {t: model(t, batch)["logits"] for t in ("a", "b")}
        torch.testing.assert_close(after["a"], before["a"], atol=1e-6, rtol=0)
        assert (after["b"] - before["b"]).abs().max() > 1e-3
        # task a after task b (the active adapter is switched back, not left on b)
        torch.testing.assert_close(model("a", batch)["logits"], before["a"], atol=1e-6, rtol=0)


def test_forward_equals_upper_layers_then_head():
    """model(task, batch) = head(layers n_lower.. of the backbone on the cached states) (no adapters)."""
    model = RAGMTLModel(tiny_backbone(), two_tasks(adapter=None, n_lower=1))
    batch = _batch()
    reference = tiny_backbone()  # same seed: same weights
    with torch.no_grad():
        ids = torch.randint(0, 64, (2, 5), generator=torch.Generator().manual_seed(0))
        full = reference(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        hidden = lower_states(model.backbone, {"input_ids": ids, "attention_mask": torch.ones_like(ids)}, 1)
        mask = torch.ones_like(ids)
        b = {"hidden": hidden, "mask": mask, "neighbour_vectors": batch["neighbour_vectors"][:2],
             "neighbour_labels": batch["neighbour_labels"][:2]}
        torch.testing.assert_close(model("a", b)["logits"], model.heads["a"](full, b)["logits"], atol=1e-5, rtol=1e-5)
        model.train()  # dropout is switched off: training mode computes the same function
        torch.testing.assert_close(model("a", b)["logits"], model.heads["a"](full, b)["logits"], atol=1e-5, rtol=1e-5)


def test_losses_are_float32_under_bf16_autocast():
    """Training runs the model under bf16 autocast and computes the loss outside it, so each head's
    output must come back in float32 (as SpanHead's does) for the cross-entropy to be computed in float32."""
    from ragmtl.utils import bf16_autocast

    config = RAGMTLConfig(tasks=two_tasks().tasks + (TaskSpec("q", "extractive_qa", "toy"),), n_lower=1)
    model = RAGMTLModel(tiny_backbone(), config)
    batches = {"a": _batch(), "b": dict(_batch(), labels=_batch()["labels"] % 2),
               "q": synthetic_qa("q", 3, seed=0).batch([0, 1, 2])}
    for task, batch in batches.items():
        with bf16_autocast(True):
            out = model(task, batch)
        loss = model.loss(task, out, batch)
        with torch.no_grad():
            reference = model.loss(task, {k: v.float() for k, v in out.items()}, batch)
        assert loss.dtype == torch.float32, (task, loss.dtype)
        assert all(v.dtype == torch.float32 for v in out.values()), (task, {k: v.dtype for k, v in out.items()})
        torch.testing.assert_close(loss, reference, atol=1e-6, rtol=0)


@pytest.mark.parametrize("adapter", ["lora", "task"])
@pytest.mark.parametrize("train_shared", [True, False])
def test_trainable_parameters(adapter, train_shared):
    model = RAGMTLModel(tiny_backbone(), two_tasks(adapter=adapter, train_shared=train_shared, n_lower=1))
    params = dict(model.named_parameters())
    for name, p in params.items():
        assert p.requires_grad == model.is_trainable(name), name
        if name.startswith(("backbone.embeddings.", "backbone.encoder.layer.0.", "backbone.pooler.")):
            assert not p.requires_grad, name
        elif name.startswith("heads.") or is_adapter_parameter(name):
            assert p.requires_grad, name
        else:
            assert name.startswith(("backbone.encoder.layer.1.", "backbone.encoder.layer.2.")), name
            assert p.requires_grad == train_shared, name
    assert params["backbone.encoder.layer.2.attention.self.query.base.weight"].requires_grad == train_shared
    assert params["backbone.encoder.layer.1.output.LayerNorm.weight"].requires_grad == train_shared
    assert not params["backbone.encoder.layer.0.attention.self.query.weight"].requires_grad  # no adapter below
    # a checkpoint holds exactly what can train; shared_parameters are its non-adapter backbone part
    keys = model.saved_keys()
    assert set(keys) == {n for n, p in params.items() if p.requires_grad}
    assert {"heads.a.vote_scale", "heads.a.attention.W_a", "heads.b.vote_scale"} <= set(keys)
    assert not any(k.startswith("heads.b.attention.") for k in keys)  # task b fuses by the mean
    assert not any(k.startswith(("backbone.embeddings.", "backbone.encoder.layer.0.")) for k in keys)
    if not train_shared:
        assert not any(k.endswith(("base.weight", "base.bias", "LayerNorm.weight")) for k in keys)
        assert model.shared_parameters() == []
    else:
        n_shared = sum(1 for n in keys if n.startswith("backbone.") and not is_adapter_parameter(n))
        assert len(model.shared_parameters()) == n_shared > 0


def test_model_errors():
    model = RAGMTLModel(tiny_backbone(), two_tasks())
    with pytest.raises(ValueError, match=r"task 'c' is not in this model; its tasks: \['a', 'b'\]"):
        model("c", _batch())
    for n_lower in (3, 4):
        with pytest.raises(ValueError, match=r"n_lower must be in \[0, 2\]"):
            RAGMTLModel(tiny_backbone(), two_tasks(n_lower=n_lower))
    assert RAGMTLModel(tiny_backbone(), two_tasks(n_lower=2)).config.n_lower == 2
    assert RAGMTLModel(tiny_backbone(), two_tasks(n_lower=0)).config.n_lower == 0


def test_model_passes_head_settings():
    tasks = two_tasks().tasks + (TaskSpec("c", "classification", "toy", num_classes=4, fusion="none"),)
    model = RAGMTLModel(tiny_backbone(), RAGMTLConfig(tasks=tasks, n_lower=1, attention_init=3.0, vote_init=1.25))
    a, b, c = (model.heads[t] for t in ("a", "b", "c"))
    assert a.vote_scale.item() == b.vote_scale.item() == 1.25
    torch.testing.assert_close(a.attention.W_a.detach(), 3.0 * torch.eye(H))
    assert not hasattr(b, "attention") and not hasattr(c, "vote_scale")
    assert [h.out.weight.shape for h in (a, b, c)] == [(3, H), (2, H), (4, H)]
    assert RAGMTLModel(tiny_backbone(), two_tasks()).heads["a"].vote_scale.item() == 5.0  # the default


# ---- data ------------------------------------------------------------------------------------------------------

def test_neighbour_ids_leave_one_out_by_hand():
    ids = np.array([[0, 2, 1], [2, 1, 0], [-1, 2, 0]])
    assert neighbour_ids((None, ids[:2]), 2, exclude_self=True).tolist() == [[2, 1], [2, 0]]
    assert neighbour_ids((None, ids[:2]), 2, exclude_self=False).tolist() == [[0, 2], [2, 1]]
    # row 2: FAISS pads with -1, and the query itself (id 2) is dropped: only id 0 is left
    with pytest.raises(ValueError, match="query 2 has only 1 neighbours, 2 needed"):
        neighbour_ids((None, ids), 2, exclude_self=True)
    one = neighbour_ids((None, ids), 1, exclude_self=True)
    assert one.tolist() == [[2], [2], [0]] and one.dtype == np.int64


def test_subsample_indices():
    assert subsample_indices(5, None, 0).tolist() == subsample_indices(5, 9, 0).tolist() == [0, 1, 2, 3, 4]
    drawn = subsample_indices(100, 10, seed=3)
    assert len(set(drawn.tolist())) == 10 and drawn.tolist() == sorted(drawn.tolist()) and drawn.max() < 100
    assert np.array_equal(drawn, subsample_indices(100, 10, seed=3))
    assert not np.array_equal(drawn, subsample_indices(100, 10, seed=4))


def test_collate_states_pads():
    states = [torch.full((2, 3), 1.0), torch.full((4, 3), 2.0, dtype=torch.bfloat16), torch.full((1, 3), 3.0)]
    hidden, mask = collate_states(states, [2, 1])
    assert hidden.dtype == torch.float32 and hidden.shape == (2, 4, 3)
    assert mask.tolist() == [[1, 0, 0, 0], [1, 1, 1, 1]]
    assert torch.equal(hidden[0, 0], torch.full((3,), 3.0)) and torch.all(hidden[0, 1:] == 0)
    assert torch.equal(hidden[1], torch.full((4, 3), 2.0))


def test_classification_batch_gathers_neighbours():
    memory_vectors = torch.arange(12.0).reshape(4, 3)
    memory_labels = torch.tensor([5, 6, 7, 8])
    split = ClassificationSplit("t", ["x", "y", "z"], [torch.ones(2, 3), torch.ones(3, 3), torch.ones(1, 3)],
                                torch.tensor([1, 0, 1]), np.array([[3, 1], [0, 2], [2, 2]]), memory_vectors,
                                memory_labels)
    batch = split.batch([2, 0])
    assert batch["labels"].tolist() == [1, 1]
    assert batch["neighbour_labels"].tolist() == [[7, 7], [8, 6]]
    assert torch.equal(batch["neighbour_vectors"], torch.stack([memory_vectors[[2, 2]], memory_vectors[[3, 1]]]))
    assert batch["mask"].tolist() == [[1, 0], [1, 1]]
    assert split.trainable_rows.tolist() == [0, 1, 2]


@pytest.fixture(scope="module")
def minilm():
    from ragmtl.encoders import load_minilm

    return load_minilm()


PASSAGES = ["The Eiffel Tower is in Paris, the capital of France.",
            "Mount Fuji is the highest mountain in Japan.",
            "The Danube flows through Vienna and Budapest.",
            "Canberra is the capital city of Australia."]
QUESTIONS = ["Where is the Eiffel Tower?", "What is the highest mountain in Japan?",
             "Which river flows through Vienna?", "What is the capital of Australia?"]
ANSWERS = [("Paris",), ("Mount Fuji", "Fuji"), ("The Danube", "Danube"), ("Canberra",)]
GOLD = [(q, PASSAGES[q].index(a[0]), a[0]) for q, a in enumerate(ANSWERS)]


def test_qa_split_spans_states_and_prior(minilm):
    tokenizer, backbone = minilm
    ids = np.array([[0, 1], [1, 0], [3, 2], [3, 2]])
    split = qa_split("qa", backbone, tokenizer, QUESTIONS, ANSWERS, ids, None, PASSAGES, n_lower=2,
                     max_length=48, gold=GOLD)
    assert split.pairs == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert split.passages == [PASSAGES[i] for i in ids.reshape(-1)]
    gold_pairs = [0, 2, 5, 6]  # pairs whose passage is the question's gold one
    assert split.trainable_rows.tolist() == gold_pairs
    for p, span in enumerate(split.spans):
        if p not in gold_pairs:
            assert span is None
            continue
        q = p // 2
        s, e = span
        assert split.passages[p][split.offsets[p][s][0]:split.offsets[p][e][1]] == ANSWERS[q][0]
        assert split.context_mask[p] == [int(o is not None) for o in split.offsets[p]]
    np.testing.assert_allclose(np.exp(split.log_prior), np.full((4, 2), 0.5))
    # cached states = the lower layers run on the pair itself
    enc = tokenizer(QUESTIONS[1], PASSAGES[1], truncation="only_second", max_length=48, return_tensors="pt")
    with torch.no_grad():
        direct = lower_states(backbone, enc, 2)[0]
    assert split.states[2].shape == direct.shape
    torch.testing.assert_close(split.states[2].float(), direct, atol=0.05, rtol=0.02)
    batch = split.batch([0, 2])
    assert batch["start"].tolist() == [split.spans[0][0], split.spans[2][0]]
    assert batch["context_mask"].dtype == torch.bool and "start" not in split.batch([0, 1])


def test_qa_split_prior_truncation_and_errors(minilm):
    tokenizer, backbone = minilm
    scores = np.array([[2.0, 1.0], [0.0, 3.0]])
    split = qa_split("qa", backbone, tokenizer, QUESTIONS[:2], ANSWERS[:2], np.array([[0, 1], [0, 1]]), scores,
                     PASSAGES, n_lower=1, max_length=16, gold=GOLD[:2])
    log_z = np.log(np.exp(scores).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(split.log_prior, scores - log_z)
    assert all(len(s) <= 16 for s in split.states)
    # 'Paris' lies beyond the first 16 tokens of question + passage: no gold span, nothing to train on there
    assert split.spans[0] is None and split.trainable_rows.tolist() == [3]
    with pytest.raises(ValueError, match=r"need passage_ids \[Q, k\]"):
        qa_split("qa", backbone, tokenizer, QUESTIONS[:2], ANSWERS[:2], np.array([0, 1]), None, PASSAGES, 1)
    with pytest.raises(ValueError, match=r"task 'qa': 1 questions retrieved fewer than 2 passages \(id -1\)"):
        qa_split("qa", backbone, tokenizer, QUESTIONS[:2], ANSWERS[:2], np.array([[0, 1], [0, -1]]), None, PASSAGES, 1)


# ---- training --------------------------------------------------------------------------------------------------

def _train_splits():
    return {"a": synthetic_classification("a", 24, 3, 2, seed=1), "b": synthetic_classification("b", 20, 2, 2, seed=2)}


def _quick(**kwargs):
    return TrainConfig(**{**dict(steps=6, batch_size={"classification": 8, "extractive_qa": 4}, warmup_steps=2,
                                 bf16=False, show_progress=False), **kwargs})


def test_training_repeats_exactly():
    tasks = two_tasks().tasks + (TaskSpec("q", "extractive_qa", "toy", k=1),)
    config = RAGMTLConfig(tasks=tasks, n_lower=1, adapter="lora", adapter_r=4)
    splits = _train_splits() | {"q": synthetic_qa("q", 8, seed=3)}
    runs = []
    for seed in (0, 0, 1):
        model = RAGMTLModel(tiny_backbone(), config)
        runs.append((train_ragmtl(model, splits, _quick(seed=seed)), model.state_dict()))
    (h0, s0), (h1, s1), (h2, _) = runs
    assert h0 == h1 and len(h0) == 6
    assert set(h0[0]) == {"loss/a", "loss/b", "loss/q", "weight/a", "weight/b", "weight/q"}
    assert all(torch.equal(s0[n], s1[n]) for n in s0)
    assert h2 != h0  # another seed draws other rows
    fresh = RAGMTLModel(tiny_backbone(), config).state_dict()
    assert not torch.equal(s0["backbone.encoder.layer.2.attention.self.query.lora_B.q"],
                           fresh["backbone.encoder.layer.2.attention.self.query.lora_B.q"])
    assert torch.equal(s0["backbone.encoder.layer.0.attention.self.query.weight"],
                       fresh["backbone.encoder.layer.0.attention.self.query.weight"])  # frozen below the cache


def test_training_learns_an_easy_task():
    splits = _train_splits()
    test = {"a": synthetic_classification("a", 30, 3, 2, seed=11, memory=splits["a"]),
            "b": synthetic_classification("b", 30, 2, 2, seed=12, memory=splits["b"])}
    model = RAGMTLModel(tiny_backbone(), two_tasks())
    history = train_ragmtl(model, splits, _quick(steps=40, warmup_steps=4))
    for t in ("a", "b"):
        first = np.mean([h[f"loss/{t}"] for h in history[:3]])
        last = np.mean([h[f"loss/{t}"] for h in history[-5:]])
        assert last < 0.5 * first, (t, first, last)
        assert score(test[t], predict(model, test[t], bf16=False))["accuracy"] >= 90.0


def test_training_rejects_bad_inputs():
    from ragmtl.mtl.weighting import EqualWeighting

    model = RAGMTLModel(tiny_backbone(), two_tasks())
    splits = _train_splits()
    with pytest.raises(ValueError, match="must be exactly the model's tasks"):
        train_ragmtl(model, {"a": splits["a"]}, _quick())
    with pytest.raises(ValueError, match="must be exactly the model's tasks"):
        train_ragmtl(model, splits | {"c": splits["a"]}, _quick())
    with pytest.raises(ValueError, match="no batch size for task kind 'classification'"):
        train_ragmtl(model, splits, _quick(batch_size={"extractive_qa": 4}))
    with pytest.raises(ValueError, match="weighting tasks"):
        train_ragmtl(model, splits, _quick(), weighting=EqualWeighting(["a", "c"]))
    with pytest.raises(ValueError, match="batch sizes must be >= 1"):
        _quick(batch_size={"classification": 0})
    with pytest.raises(ValueError, match="steps must be >= 1"):
        _quick(steps=0)
    qa_model = RAGMTLModel(tiny_backbone(), RAGMTLConfig(tasks=(TaskSpec("q", "extractive_qa", "toy"),), n_lower=1))
    unanswerable = synthetic_qa("q", 3, seed=0)
    unanswerable.spans = [None] * 3
    with pytest.raises(ValueError, match="task 'q' has no trainable example"):
        train_ragmtl(qa_model, {"q": unanswerable}, _quick())


def test_training_with_uncertainty_weighting():
    from ragmtl.mtl.weighting import UncertaintyWeighting

    model = RAGMTLModel(tiny_backbone(), two_tasks())
    weighting = UncertaintyWeighting(["b", "a"])  # the order of the tasks may differ from the model's
    history = train_ragmtl(model, _train_splits(), _quick(steps=5), weighting=weighting)
    assert history[0]["weight/a"] == history[0]["weight/b"] == 1.0  # exp(-0) before the first step
    assert history[-1]["weight/a"] != 1.0 and torch.all(weighting.log_vars != 0)  # the log-variances trained


def test_training_with_pcgrad_trains_the_shared_layers():
    from ragmtl.mtl.weighting import PCGrad

    model = RAGMTLModel(tiny_backbone(), two_tasks(adapter=None))
    shared_before = [p.detach().clone() for p in model.shared_parameters()]
    assert shared_before
    history = train_ragmtl(model, _train_splits(), _quick(steps=30, warmup_steps=3), weighting=PCGrad(["a", "b"]))
    assert all(h["weight/a"] == h["weight/b"] == 1.0 for h in history)
    assert all(not torch.equal(p, q) for p, q in zip(model.shared_parameters(), shared_before))
    for t in ("a", "b"):
        assert np.mean([h[f"loss/{t}"] for h in history[-5:]]) < 0.6 * np.mean([h[f"loss/{t}"] for h in history[:3]])


# ---- evaluation ------------------------------------------------------------------------------------------------

def test_classification_score_equals_sklearn():
    from sklearn.metrics import accuracy_score, f1_score

    split = synthetic_classification("a", 12, 3, 2, seed=0)
    rng = np.random.default_rng(0)
    predictions = rng.integers(0, 4, size=12).tolist()  # class 3 is predicted but never gold
    scores = score(split, predictions)
    gold = split.labels.tolist()
    assert math.isclose(scores["accuracy"], 100 * accuracy_score(gold, predictions))
    assert math.isclose(scores["macro_f1"], 100 * f1_score(gold, predictions, average="macro"))
    with pytest.raises(ValueError, match="11 predictions for 12 examples of 'a'"):
        score(split, predictions[:11])


def test_classification_predict_restores_order():
    model = RAGMTLModel(tiny_backbone(), two_tasks())
    _perturb_task_adapters(model, "a")
    split = synthetic_classification("a", 13, 3, 2, seed=5)
    with torch.no_grad():
        one_by_one = [int(model("a", split.batch([i]))["logits"].argmax()) for i in range(len(split))]
    assert predict(model, split, batch_size=4, bf16=False) == one_by_one
    assert len(set(one_by_one)) > 1  # not a constant prediction that any order would match


class TableReader:
    """A stand-in model: pair p's start/end logits come from a table (p is read from its cached state)."""

    def __init__(self, table):
        self.table = table

    def eval(self):
        return self

    def __call__(self, task, batch):
        B, T, _ = batch["hidden"].shape
        start, end = torch.full((B, T), NEG), torch.full((B, T), NEG)
        for r in range(B):
            s, e = self.table[int(batch["hidden"][r, 0, 0])]
            start[r, : len(s)], end[r, : len(e)] = torch.tensor(s), torch.tensor(e)
        return {"start": start, "end": end}


def test_qa_predict_marginalises_over_passages_by_hand():
    """Passage A "Lyon Paris" puts 0.55 / 0.45 on its two tokens, passage B "Paris Nice" 0.45 / 0.55
    (start and end alike). Per passage, p(Lyon) = 0.55^2 = 0.3025 beats p(Paris) = 0.45^2 = 0.2025
    and p("Lyon Paris") = 0.2475. With a uniform prior Paris, found in both, wins the sum
    (0.2025 vs 0.151 for Lyon); with p(A | x) = softmax([3, 0])_A = 0.953, Lyon wins (0.288 vs 0.2025)."""
    la, lb = np.log([0.55, 0.45]).tolist(), np.log([0.45, 0.55]).tolist()
    logits = {0: np.array([NEG, *la, NEG]), 1: np.array([NEG, *lb, NEG])}
    table = {p: (logits[p % 2], logits[p % 2]) for p in range(4)}
    offsets = [None, (0, 4), (5, 10), None], [None, (0, 5), (6, 10), None]
    split = QASplit("qa", ["q0", "q1"], [("Paris",), ("Nice",)], [[0, 1], [2, 3]],
                    np.array([[math.log(0.5)] * 2, [3 - math.log(math.exp(3) + 1), -math.log(math.exp(3) + 1)]]),
                    ["Lyon Paris", "Paris Nice"] * 2, [torch.full((4, 1), float(p)) for p in range(4)],
                    [[0, 1, 1, 0]] * 4, [offsets[p % 2] for p in range(4)], [None] * 4)
    predictions = predict(TableReader(table), split, batch_size=3)
    assert predictions == ["Paris", "Lyon"]
    single = best_answers([[table[0]]], [[offsets[0]]], [["Lyon Paris"]], np.zeros((1, 1)))
    assert single == ["Lyon"]  # the best single passage alone would not say Paris
    assert score(split, predictions, generation=False) == {"em": 50.0, "f1": 50.0}


# ---- saving and loading with the real MiniLM -------------------------------------------------------------------

CLF_TEXTS = ["what is the capital of france", "who wrote hamlet", "how many legs does a spider have",
             "where is mount everest", "who painted the mona lisa", "how many days are in a year",
             "where is the louvre", "who discovered penicillin", "how many planets are there",
             "where does the nile flow"]
CLF_LABELS = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])  # location, person, number
CLF_TEST = (["where is big ben", "who invented the telephone", "how many strings does a violin have"],
            np.array([0, 1, 2]))


@pytest.fixture(scope="module")
def saved(tmp_path_factory, encoder_fp32, minilm):
    from ragmtl.retrieval import BM25

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = RAGMTLConfig(tasks=(TaskSpec("clf", "classification", "sentclf", num_classes=3, k=2),
                                     TaskSpec("qa", "extractive_qa", "squad2", k=2, max_length=48)),
                              n_lower=4, adapter="lora", train_shared=False, adapter_r=2)
        model = build_model(config)
        tokenizer = minilm[0]
        clf_train, clf_evals, dense = classification_splits("clf", model.backbone, tokenizer, encoder_fp32,
                                                            (CLF_TEXTS, CLF_LABELS), {"test": CLF_TEST}, k=2,
                                                            n_lower=4, bf16=False)
        bm25 = BM25().index(PASSAGES)
        qa_train = qa_split("qa", model.backbone, tokenizer, QUESTIONS, ANSWERS, np.arange(4)[:, None], None,
                            PASSAGES, 4, 48, gold=GOLD, bf16=False)
        scores, ids = bm25.search(QUESTIONS, 2)
        qa_test = qa_split("qa", model.backbone, tokenizer, QUESTIONS, ANSWERS, ids, scores, PASSAGES, 4, 48,
                           bf16=False)
        train_ragmtl(model, {"clf": clf_train, "qa": qa_train},
                     TrainConfig(steps=4, batch_size={"classification": 4, "extractive_qa": 4}, lr=1e-2,
                                 warmup_steps=0, bf16=False, show_progress=False))
        evals = {"clf": clf_evals["test"], "qa": qa_test}
        metrics = {t: score(s, predict(model, s, bf16=False), generation=False) for t, s in evals.items()}
        root = tmp_path_factory.mktemp("ragmtl") / "model"
        size = save_ragmtl(root, model, indexes={"clf": (dense, CLF_TEXTS), "qa": (bm25, PASSAGES)}, metrics=metrics)
    finally:
        torch.set_num_threads(threads)
    return dict(model=model, config=config, root=root, size=size, evals=evals, metrics=metrics, dense=dense,
                bm25=bm25, clf_train=clf_train)


def test_save_load_round_trip(saved):
    model, root = saved["model"], saved["root"]
    lora_B = model.backbone.encoder.layer[5].attention.self.query.lora_B["clf"]
    assert lora_B.abs().max() > 0  # training moved the adapters off their zero start
    loaded, config = load_ragmtl(root)
    assert config == saved["config"] == read_config(root, RAGMTLConfig)
    fresh = build_model(saved["config"])
    with torch.no_grad():
        for task, split in saved["evals"].items():
            batch = split.batch(list(range(len(split.states))))
            out, back, new = model(task, batch), loaded(task, batch), fresh(task, batch)
            key = "logits" if task == "clf" else "start"
            assert torch.equal(back[key], out[key])
            assert not torch.allclose(new[key], out[key])  # a model without the saved tensors differs
            assert predict(loaded, split, bf16=False) == predict(model, split, bf16=False)
    assert read_metrics(root) == saved["metrics"]
    assert evaluate(loaded, saved["evals"], generation=False, bf16=False) == saved["metrics"]
    with pytest.raises(ValueError, match=r"tasks \['trec'\] are not in this model"):
        evaluate(loaded, {"trec": saved["evals"]["clf"]})
    assert saved["size"] == sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def test_checkpoint_holds_only_the_trained_tensors(saved):
    shapes = read_shapes(saved["root"] / "model.safetensors")
    assert set(shapes) == set(saved["model"].saved_keys())
    assert not any(n.startswith("backbone.embeddings.") for n in shapes)
    assert not any(n.startswith(f"backbone.encoder.layer.{i}.") for n in shapes for i in range(4))
    assert not any(n.endswith(("base.weight", "base.bias")) or "LayerNorm" in n for n in shapes)
    # by hand: 2 layers x 6 linear layers x 2 tasks x (A, B), plus the heads' 4 (out W, b, vote_scale, W_a) + 2
    lora = [n for n in shapes if is_adapter_parameter(n)]
    assert len(lora) == 2 * 6 * 2 * 2 and len(shapes) == len(lora) + 6
    assert shapes["backbone.encoder.layer.4.attention.self.query.lora_A.qa"] == (2, 384)
    assert shapes["backbone.encoder.layer.5.intermediate.dense.lora_B.clf"] == (1536, 2)
    assert shapes["heads.clf.vote_scale"] == () and shapes["heads.qa.qa.weight"] == (2, 384)
    assert shapes["heads.clf.out.weight"] == (3, 384) and shapes["heads.clf.attention.W_a"] == (384, 384)
    assert not any("label_embedding" in n for n in shapes)


def test_saved_indexes(saved):
    dense = load_task_index(saved["root"], "clf")
    queries = saved["clf_train"].memory_vectors.numpy()
    for got, want in zip(dense.search(queries, 3), saved["dense"].search(queries, 3)):
        np.testing.assert_array_equal(got, want)
    bm25 = load_task_index(saved["root"], "qa", texts=PASSAGES)
    for got, want in zip(bm25.search(QUESTIONS, 2), saved["bm25"].search(QUESTIONS, 2)):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(MissingFileError, match="no index for task 'trec'"):
        load_task_index(saved["root"], "trec")


def _copy(saved, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(saved["root"], root)
    return root


def _rewrite_config(root, edit):
    path = root / "config.json"
    data = json.loads(path.read_text())
    edit(data["config"])
    path.write_text(json.dumps(data))
    write_manifest(root, list(read_manifest(root)))  # re-hash: the manifest no longer catches it


def test_load_errors_missing_and_tampered(saved, tmp_path):
    root = _copy(saved, tmp_path)
    data = bytearray((root / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (root / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="model.safetensors"):
        load_ragmtl(root)
    (root / "model.safetensors").unlink()
    with pytest.raises(MissingFileError, match="model.safetensors is listed .* but missing"):
        load_ragmtl(root)


OWN_CHECK = "does not hold this config's trained tensors"


@pytest.mark.parametrize("edit, error, message", [
    (lambda c: c.update(n_lower=3), WeightsMismatchError, OWN_CHECK),  # layer 3's adapters expected, not saved
    (lambda c: c.update(train_shared=True), WeightsMismatchError, OWN_CHECK),  # top layers' weights not saved
    (lambda c: c.update(n_lower=5), WeightsMismatchError, "unexpected"),  # layer 4 has no adapters now
    # a renamed task: its 24 LoRA tensors and 4 head tensors are saved under the old name
    (lambda c: c["tasks"][0].update(name="clf2"), WeightsMismatchError, "unexpected 28 "),
    (lambda c: c["tasks"][0].update(num_classes=4), WeightsMismatchError, "heads.clf"),
    (lambda c: c.update(extra_field=1), ConfigMismatchError, "extra_field"),
])
def test_load_rejects_a_changed_config(saved, tmp_path, edit, error, message):
    root = _copy(saved, tmp_path)
    _rewrite_config(root, edit)
    with pytest.raises(error, match=message):
        load_ragmtl(root)


def test_save_without_metrics_and_bad_indexes(saved, tmp_path):
    save_ragmtl(tmp_path / "bare", saved["model"])
    with pytest.raises(MissingFileError, match=r"does not list \['metrics.json'\]"):
        read_metrics(tmp_path / "bare")
    with pytest.raises(MissingFileError, match="no index for task 'clf'"):
        load_task_index(tmp_path / "bare", "clf")
    with pytest.raises(ValueError, match=r"indexes for tasks \['trec'\]"):
        save_ragmtl(tmp_path / "m", saved["model"], indexes={"trec": (saved["dense"], CLF_TEXTS)})


def test_build_model_seeds_its_heads_itself():
    config = RAGMTLConfig(tasks=(TaskSpec("clf", "classification", "sentclf", num_classes=3, k=2),
                                 TaskSpec("qa", "extractive_qa", "squad2", k=2, max_length=48)), adapter="lora")
    torch.manual_seed(123)
    first = build_model(config)
    state_after = torch.random.get_rng_state()
    torch.manual_seed(456)  # whatever ran before
    torch.rand(1000)
    second = build_model(config)
    other = build_model(config, seed=1)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name
    trained = [n for n in first.saved_keys() if n.startswith("heads.") and n.endswith("weight")]
    assert trained and any(not torch.equal(first.state_dict()[n], other.state_dict()[n]) for n in trained)
    torch.manual_seed(123)
    torch.random.get_rng_state()
    assert torch.equal(state_after, torch.random.get_rng_state())  # build_model left the global RNG alone
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        build_model(config, seed=-1)
