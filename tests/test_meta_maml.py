"""MAML meta-gradients: second-order against autograd through an explicitly unrolled inner loop,
first-order against the query-loss gradient of a deep-copied model trained with torch.optim.SGD."""
import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ragmtl.meta import MLP, TaskBatch, fomaml_grad, init_params, maml_grad

LOSS = F.mse_loss


def tiny():
    torch.manual_seed(0)
    return MLP(2, (5, 4), 1).double()


def batch(tasks=3, shots=4, queries=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    return TaskBatch(r(tasks, shots, 2), r(tasks, shots, 1), r(tasks, queries, 2), r(tasks, queries, 1))


def explicit_forward(weights, x):
    """The MLP written out by hand with F.linear, independent of functional_call."""
    (w0, b0), (w1, b1), (w2, b2) = weights
    return F.linear(torch.relu(F.linear(torch.relu(F.linear(x, w0, b0)), w1, b1)), w2, b2)


def unrolled_meta_grad(model, b, inner_lr, steps):
    """Reference: autograd with create_graph through `steps` explicit SGD steps, task by task."""
    theta = [p for p in model.parameters()]
    total = 0.0
    for t in range(b.num_tasks):
        fast = list(theta)
        for _ in range(steps):
            support = LOSS(explicit_forward(list(zip(fast[::2], fast[1::2])), b.support_x[t]), b.support_y[t])
            grads = torch.autograd.grad(support, fast, create_graph=True)
            lrs = inner_lr if isinstance(inner_lr, list) else [inner_lr] * len(fast)
            fast = [w - a * g for w, a, g in zip(fast, lrs, grads)]
        total = total + LOSS(explicit_forward(list(zip(fast[::2], fast[1::2])), b.query_x[t]), b.query_y[t])
    total = total / b.num_tasks
    wrt = theta + (inner_lr if isinstance(inner_lr, list) else [])
    return torch.autograd.grad(total, wrt)


@pytest.mark.parametrize("steps", [1, 2])
def test_second_order_equals_unrolled_autograd(steps):
    model, b = tiny(), batch()
    ref = unrolled_meta_grad(model, b, 0.1, steps)
    names = [n for n, _ in model.named_parameters()]
    # the nearest sibling, first-order MAML, must miss the reference by far more than the tolerance
    # (about 0.3 here), so that this test fails if maml_grad drops the second-order terms
    first = fomaml_grad(model, init_params(model), b, LOSS, 0.1, steps)
    assert max((first.params[n] - r).abs().max().item() for n, r in zip(names, ref)) > 1e-2
    meta = maml_grad(model, init_params(model), b, LOSS, 0.1, steps)
    for name, r in zip(names, ref):
        torch.testing.assert_close(meta.params[name], r, rtol=0, atol=1e-6)


def test_meta_sgd_rate_gradient_equals_unrolled_autograd():
    model, b = tiny(), batch()
    rates = [torch.full_like(p, 0.1).requires_grad_(True) for p in model.parameters()]
    names = [n for n, _ in model.named_parameters()]
    meta = maml_grad(model, init_params(model), b, LOSS, dict(zip(names, rates)), 2)
    ref = unrolled_meta_grad(model, b, rates, 2)
    for i, name in enumerate(names):
        torch.testing.assert_close(meta.params[name], ref[i], rtol=0, atol=1e-6)
        torch.testing.assert_close(meta.inner_lr[name], ref[len(names) + i], rtol=0, atol=1e-6)


def test_first_order_equals_query_gradient_at_adapted_copy():
    model, b = tiny(), batch()
    meta = fomaml_grad(model, init_params(model), b, LOSS, 0.1, 2)
    expected = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for t in range(b.num_tasks):
        clone = copy.deepcopy(model)
        opt = torch.optim.SGD(clone.parameters(), lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            LOSS(clone(b.support_x[t]), b.support_y[t]).backward()
            opt.step()
        clone.zero_grad()
        LOSS(clone(b.query_x[t]), b.query_y[t]).backward()
        for n, p in clone.named_parameters():
            expected[n] += p.grad / b.num_tasks
    for n in expected:
        torch.testing.assert_close(meta.params[n], expected[n], rtol=0, atol=1e-8)


def test_second_order_terms_matter():
    """The two gradients must differ (else the first test could not tell them apart)."""
    model, b = tiny(), batch()
    so = maml_grad(model, init_params(model), b, LOSS, 0.5, 1)
    fo = fomaml_grad(model, init_params(model), b, LOSS, 0.5, 1)
    assert max((so.params[k] - fo.params[k]).abs().max().item() for k in so.params) > 1e-4


def test_losses_are_query_losses_after_adaptation():
    model, b = tiny(), batch(tasks=1)
    meta = maml_grad(model, init_params(model), b, LOSS, 0.0001, 1)
    torch.testing.assert_close(meta.loss, LOSS(model(b.query_x[0]), b.query_y[0]), rtol=1e-3, atol=0)


def test_first_order_refuses_learned_rates():
    model, b = tiny(), batch()
    rates = {n: torch.full_like(p, 0.1) for n, p in model.named_parameters()}
    with pytest.raises(ValueError, match="first-order"):
        fomaml_grad(model, init_params(model), b, LOSS, rates, 1)
