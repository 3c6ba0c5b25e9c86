"""Reptile: the update formula by hand, and the pseudo-gradient against SGD on deep-copied models."""
import copy

import pytest
import torch
from torch.nn import functional as F

from ragmtl.meta import MLP, TaskBatch, init_params, reptile_grad, reptile_update


def test_update_formula_by_hand():
    theta = {"w": torch.tensor([1.0, 0.0])}
    phi = {"w": torch.tensor([[3.0, 2.0], [1.0, -2.0]])}  # two tasks; mean [2, 0]
    out = reptile_update(theta, phi, 0.5)
    assert torch.equal(out["w"], torch.tensor([1.5, 0.0]))  # 1 + 0.5 (2 - 1), 0 + 0.5 (0 - 0)
    assert torch.equal(reptile_update(theta, phi, 1.0)["w"], phi["w"].mean(0))


def test_update_shape_errors():
    with pytest.raises(ValueError, match="share keys"):
        reptile_update({"w": torch.zeros(2)}, {"v": torch.zeros(1, 2)}, 0.1)
    with pytest.raises(ValueError, match="expected"):
        reptile_update({"w": torch.zeros(2)}, {"w": torch.zeros(2)}, 0.1)


def test_pseudo_gradient_matches_sgd_on_copies():
    torch.manual_seed(0)
    model = MLP(2, (5,), 1).double()
    g = torch.Generator().manual_seed(3)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    b = TaskBatch(r(3, 4, 2), r(3, 4, 1), r(3, 2, 2), r(3, 2, 1))
    theta = init_params(model)
    meta = reptile_grad(model, theta, b, F.mse_loss, 0.05, 3)
    phis = []
    for t in range(3):
        clone = copy.deepcopy(model)
        opt = torch.optim.SGD(clone.parameters(), lr=0.05)
        x, y = torch.cat([b.support_x[t], b.query_x[t]]), torch.cat([b.support_y[t], b.query_y[t]])
        for _ in range(3):
            opt.zero_grad()
            F.mse_loss(clone(x), y).backward()
            opt.step()
        phis.append(dict(clone.named_parameters()))
    adapted = {n: torch.stack([p[n].detach() for p in phis]) for n in theta}
    expected = reptile_update(theta, adapted, 0.3)
    for n in theta:  # one SGD step on the pseudo-gradient with lr epsilon is the Reptile update
        torch.testing.assert_close(theta[n].detach() - 0.3 * meta.params[n], expected[n].detach(), rtol=0, atol=1e-10)


def test_reptile_needs_a_step():
    model = MLP(2, (3,), 1)
    b = TaskBatch(torch.zeros(1, 2, 2), torch.zeros(1, 2, 1), torch.zeros(1, 2, 2), torch.zeros(1, 2, 1))
    with pytest.raises(ValueError, match="at least one inner step"):
        reptile_grad(model, init_params(model), b, F.mse_loss, 0.1, 0)
