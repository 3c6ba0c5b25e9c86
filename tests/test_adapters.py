import copy

import pytest
import torch
from torch import nn

from ragmtl.adapters import (AdapterConfig, BottleneckAdapter, LoRALinear, TaskAdapterLinear, adapter_l2,
                             bottleneck_adapter, count_parameters, freeze_backbone, inject_adapters,
                             load_adapters, lora_delta, route, save_adapters, set_phase, set_task,
                             task_adapter_linear)
from ragmtl.encoders import load_minilm


@pytest.fixture(scope="module")
def minilm():
    tokenizer, model = load_minilm()
    batch = tokenizer(["LoRA adds a low-rank update.", "Adapters are small.", "A third, longer sentence here."],
                      padding=True, return_tensors="pt")
    return tokenizer, model, batch


def _hidden(model, batch):
    with torch.no_grad():
        return model(**batch).last_hidden_state


def test_lora_delta_by_hand():
    x = torch.tensor([[1.0, 2.0]])
    A = torch.tensor([[1.0, 1.0]])  # r=1, in=2
    B = torch.tensor([[2.0], [0.5]])  # out=2, r=1
    assert torch.allclose(lora_delta(x, A, B, 0.5), torch.tensor([[3.0, 0.75]]))
    with pytest.raises(ValueError, match="do not chain"):
        lora_delta(x, A, B.T, 1.0)


def _copy_lora_from_peft(peft_model, ours, pairs):
    for peft_name, our_name in pairs:
        src = peft_model.get_submodule(peft_name)
        dst = ours.get_submodule(our_name)
        dst.lora_A["default"].data.copy_(src.lora_A["default"].weight.data)
        dst.lora_B["default"].data.copy_(src.lora_B["default"].weight.data)


def test_lora_equals_peft_on_random_mlp():
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    base = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    ours = copy.deepcopy(base)
    peft_model = get_peft_model(copy.deepcopy(base), LoraConfig(r=4, lora_alpha=8, target_modules=["0", "2"],
                                                                 lora_dropout=0.0))
    for name in ("0", "2"):  # B starts at zero in both: give it values so the update is not trivially 0
        nn.init.normal_(peft_model.base_model.model.get_submodule(name).lora_B["default"].weight)
    inject_adapters(ours, AdapterConfig("lora", targets=("0", "2"), r=4, alpha=8))
    _copy_lora_from_peft(peft_model.base_model.model, ours, [("0", "0"), ("2", "2")])
    x = torch.randn(7, 10)
    assert (ours(x) - base(x)).abs().max() > 1e-2  # far beyond the tolerance: a wrong alpha / r shows
    torch.testing.assert_close(ours(x), peft_model(x), atol=1e-6, rtol=0)


def test_lora_equals_peft_on_minilm(minilm):
    from peft import LoraConfig, get_peft_model

    _, model, batch = minilm
    ours = copy.deepcopy(model)
    peft_model = get_peft_model(copy.deepcopy(model), LoraConfig(r=8, lora_alpha=16, target_modules=["query", "value"],
                                                                  lora_dropout=0.0))
    inner = peft_model.base_model.model
    names = inject_adapters(ours, AdapterConfig("lora", targets=("query", "value"), r=8, alpha=16))
    assert len(names) == 12
    torch.manual_seed(1)
    for name in names:
        nn.init.normal_(inner.get_submodule(name).lora_B["default"].weight, std=0.02)
    _copy_lora_from_peft(inner, ours, [(n, n) for n in names])
    # the update must move the output far beyond the tolerance, or a wrong scaling (alpha instead of
    # alpha / r) or A and B applied the other way round (possible on these square maps) would pass
    assert (_hidden(ours, batch) - _hidden(model, batch)).abs().max() > 1e-2
    torch.testing.assert_close(_hidden(ours, batch), _hidden(peft_model, batch), atol=1e-6, rtol=0)


def test_merge_equals_unmerged_and_unmerge_restores():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(6, 4), r=2, alpha=4, tasks=("a", "b"))
    nn.init.normal_(layer.lora_B["a"])
    weight = layer.base.weight.detach().clone()
    x = torch.randn(5, 6)
    unmerged = layer(x)
    layer.merge()
    torch.testing.assert_close(layer(x), unmerged, atol=1e-6, rtol=0)
    with pytest.raises(RuntimeError, match="unmerge"):
        layer.set_task("b")
    layer.unmerge()
    torch.testing.assert_close(layer.base.weight, weight, atol=1e-7, rtol=0)
    with pytest.raises(RuntimeError, match="not merged"):
        layer.unmerge()


@pytest.mark.parametrize("kind", ["lora", "bottleneck", "task"])
def test_zero_initialised_adapters_change_nothing(minilm, kind):
    _, model, batch = minilm
    adapted = copy.deepcopy(model)
    targets = ("attention.output.dense", "output.dense") if kind == "bottleneck" else ("query", "value")
    inject_adapters(adapted, AdapterConfig(kind, targets=targets, tasks=("sst2", "mr")))
    ids = torch.tensor([0, 1, 0])
    if kind == "task":
        with route(adapted, ids):
            out = _hidden(adapted, batch)
    else:
        set_task(adapted, "mr")
        out = _hidden(adapted, batch)
    torch.testing.assert_close(out, _hidden(model, batch), atol=1e-6, rtol=0)


def test_per_example_routing_uses_each_examples_adapter():
    torch.manual_seed(0)
    layer = TaskAdapterLinear(nn.Linear(4, 3), tasks=("a", "b", "c"), init="random", init_std=0.5)
    x = torch.randn(6, 2, 4)
    ids = torch.tensor([2, 0, 1, 1, 2, 0])
    layer.set_task_ids(ids)
    out = layer(x)
    for b in range(6):
        W = layer.base.weight + layer.adapters[ids[b]]
        torch.testing.assert_close(out[b], x[b] @ W.T + layer.base.bias, atol=1e-6, rtol=0)
        layer.set_task(("a", "b", "c")[ids[b]])
        torch.testing.assert_close(layer(x[b:b + 1])[0], out[b], atol=1e-6, rtol=0)
    # the article's bug: adding every adapter to every input is one shared extra matrix
    summed = x @ (layer.base.weight + layer.adapters.sum(0)).T + layer.base.bias
    assert not torch.allclose(out, summed, atol=1e-3)
    with pytest.raises(ValueError, match="task ids must lie"):
        task_adapter_linear(x, layer.base.weight, None, layer.adapters, torch.tensor([0, 1, 2, 3, 0, 0]))
    with pytest.raises(ValueError, match="not registered"):
        layer.set_task("d")


def test_two_phase_schedule_freezes_what_it_says():
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("body", nn.Linear(4, 4))
    model.add_module("head", nn.Linear(4, 2))
    inject_adapters(model, AdapterConfig("task", targets=("body",), tasks=("a", "b")))
    set_phase(model, "shared")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"body.base.weight", "body.base.bias", "head.weight", "head.bias"}
    set_phase(model, "adapters", keep=("head",))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"body.adapters", "head.weight", "head.bias"}
    before = model.body.base.weight.detach().clone()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    with route(model, torch.tensor([0, 1, 1])):
        loss = model(torch.randn(3, 4)).pow(2).sum() + 0.1 * adapter_l2(model)
    loss.backward()
    opt.step()
    assert torch.equal(model.body.base.weight, before)
    assert model.body.adapters.abs().sum() > 0
    with pytest.raises(ValueError, match="phase"):
        set_phase(model, "both")


def test_parameter_count_by_hand(minilm):
    _, model, _ = minilm
    m = copy.deepcopy(model)
    inject_adapters(m, AdapterConfig("lora", targets=("query", "value"), r=8, tasks=("a", "b")))
    freeze_backbone(m)
    assert count_parameters(m) == 6 * 2 * 2 * (8 * 384 + 384 * 8)  # layers x targets x tasks x (A + B)
    assert count_parameters(m, trainable_only=False) == count_parameters(model, trainable_only=False) + 73728 * 2


def test_save_and_load_adapters_round_trip(minilm, tmp_path):
    _, model, batch = minilm
    config = AdapterConfig("bottleneck", targets=("output.dense",), tasks=("sst2",), bottleneck=16)
    first, second = copy.deepcopy(model), copy.deepcopy(model)
    inject_adapters(first, config)
    inject_adapters(second, config)
    torch.manual_seed(3)
    for name, p in first.named_parameters():
        if "adapters" in name:
            nn.init.normal_(p, std=0.05)
    size = save_adapters(first, tmp_path / "a.safetensors")
    assert 0 < size < 1_000_000  # adapters only, not the 90 MB backbone
    assert not torch.allclose(_hidden(first, batch), _hidden(second, batch), atol=1e-4)
    load_adapters(second, tmp_path / "a.safetensors")
    torch.testing.assert_close(_hidden(second, batch), _hidden(first, batch), atol=0, rtol=0)
    other = copy.deepcopy(model)
    inject_adapters(other, AdapterConfig("lora", targets=("query",)))
    with pytest.raises(ValueError, match="adapter names differ"):
        load_adapters(other, tmp_path / "a.safetensors")
    with pytest.raises(FileNotFoundError):
        load_adapters(second, tmp_path / "missing.safetensors")


def test_clear_errors(minilm):
    _, model, _ = minilm
    m = copy.deepcopy(model)
    with pytest.raises(ValueError, match=r"match no linear layer; available: .*attention\.self\.query"):
        inject_adapters(m, AdapterConfig("lora", targets=("query", "qkv")))
    with pytest.raises(ValueError, match="unknown adapter kind"):
        AdapterConfig("prefix", targets=("query",))
    inject_adapters(m, AdapterConfig("lora", targets=("query",), tasks=("sst2", "mr")))
    with pytest.raises(ValueError, match="known tasks: \\['sst2', 'mr'\\]"):
        set_task(m, "trec")
    with pytest.raises(ValueError, match="already has adapters"):
        inject_adapters(m, AdapterConfig("lora", targets=("value",)))
    with pytest.raises(ValueError, match="needs task adapters"):
        with route(m, torch.tensor([0])):
            pass
    layer = TaskAdapterLinear(nn.Linear(2, 2), tasks=("a",))
    with pytest.raises(RuntimeError, match="no task ids set"):
        layer(torch.zeros(1, 2))


def test_bottleneck_function_matches_module_and_starts_at_identity():
    torch.manual_seed(0)
    adapter = BottleneckAdapter(8, 3, "relu")
    h = torch.randn(4, 8)
    torch.testing.assert_close(adapter(h), h)  # zero-initialised up-projection
    nn.init.normal_(adapter.up.weight)
    expected = h + torch.relu(h @ adapter.down.weight.T + adapter.down.bias) @ adapter.up.weight.T + adapter.up.bias
    torch.testing.assert_close(adapter(h), expected)
    torch.testing.assert_close(bottleneck_adapter(h, adapter.down.weight, adapter.down.bias, adapter.up.weight,
                                                  adapter.up.bias, "relu"), expected)
    with pytest.raises(ValueError, match="unknown activation"):
        BottleneckAdapter(8, 3, "swish")
