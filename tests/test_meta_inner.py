"""The inner loop: k SGD steps over a parameter dict, against plain autograd on a copied module."""
import copy

import pytest
import torch
from torch import nn

from ragmtl.meta import MLP, adapt, functional_loss, init_params, sgd_step
from ragmtl.meta.inner import check_inner_lr


def tiny():
    torch.manual_seed(0)
    return MLP(2, (3,), 1).double()


def data(n=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g, dtype=torch.float64), torch.randn(n, 1, generator=g, dtype=torch.float64)


def test_zero_steps_is_identity():
    model = tiny()
    p = init_params(model)
    x, y = data()
    out = adapt(model, p, x, y, nn.functional.mse_loss, 0.1, 0)
    assert all(torch.equal(out[k], p[k]) for k in p)


def test_k_steps_match_torch_sgd_on_a_copy():
    model = tiny()
    x, y = data()
    adapted = adapt(model, init_params(model), x, y, nn.functional.mse_loss, 0.1, 3)
    ref = copy.deepcopy(model)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(ref(x), y).backward()
        opt.step()
    for name, p in ref.named_parameters():
        torch.testing.assert_close(adapted[name], p.detach(), rtol=0, atol=1e-12)


def test_per_parameter_rates_equal_scalar_rate_when_constant():
    model = tiny()
    p = init_params(model)
    x, y = data()
    rates = {k: torch.full_like(v, 0.05) for k, v in p.items()}
    a = adapt(model, p, x, y, nn.functional.mse_loss, 0.05, 2)
    b = adapt(model, p, x, y, nn.functional.mse_loss, rates, 2)
    for k in p:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-12)
    rates["layers.0.bias"] = torch.zeros_like(p["layers.0.bias"])  # a frozen bias stays put
    c = adapt(model, p, x, y, nn.functional.mse_loss, rates, 2)
    assert torch.equal(c["layers.0.bias"], p["layers.0.bias"]) and not torch.equal(c["layers.0.weight"], p["layers.0.weight"])


def test_sgd_step_by_hand():
    p = {"w": torch.tensor([1.0, 2.0])}
    g = {"w": torch.tensor([10.0, -10.0])}
    assert torch.equal(sgd_step(p, g, 0.1)["w"], torch.tensor([0.0, 3.0]))
    assert torch.equal(sgd_step(p, g, {"w": torch.tensor([0.1, 0.0])})["w"], torch.tensor([0.0, 2.0]))


def test_functional_loss_equals_module_loss():
    model = tiny()
    x, y = data()
    torch.testing.assert_close(functional_loss(model, init_params(model), x, y, nn.functional.mse_loss),
                               nn.functional.mse_loss(model(x), y))


def test_bad_inner_lr_and_steps():
    model = tiny()
    p = init_params(model)
    x, y = data()
    with pytest.raises(ValueError, match="positive float"):
        check_inner_lr(p, -0.1)
    with pytest.raises(ValueError, match="missing"):
        check_inner_lr(p, {"layers.0.weight": torch.ones(3, 2)})
    bad = {k: torch.ones(1) for k in p}
    with pytest.raises(ValueError, match="shape"):
        check_inner_lr(p, bad)
    with pytest.raises(ValueError, match="steps"):
        adapt(model, p, x, y, nn.functional.mse_loss, 0.1, -1)
