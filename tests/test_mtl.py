"""Tests of ragmtl.mtl: weighting methods against hand-computed cases, architectures, metrics, trainer."""
import math

import numpy as np
import pytest
import torch

from ragmtl.data.records import LabelledText, TextClassification
from ragmtl.mtl import (DWA, MMoE, MMoEConfig, EqualWeighting, GradNorm, HardSharing, HardSharingConfig, PCGrad,
                        SoftSharing, SoftSharingConfig, TaskData, TrainConfig, UncertaintyWeighting, cross_stitch,
                        delta_mtl, dwa_weights, l2_coupling, macro_f1, make_weighting, pcgrad_project,
                        task_batch_sizes, train_multitask, uncertainty_loss)
from ragmtl.mtl.synthetic import fit_l2_coupled, fit_pooled, fit_single_task, make_linear_tasks, task_mse
from ragmtl.mtl.tasks import decontaminate, normalise



pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


# ---------------------------------------------------------------- PCGrad


def test_pcgrad_projects_conflicting_gradients_by_hand():
    g = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])  # g1 . g2 = -1 < 0
    out = pcgrad_project(g, shuffle=False)
    # g1 - (g1.g2)/|g2|^2 g2 = [1,0] + 0.5 [-1,1];  g2 - (g2.g1)/|g1|^2 g1 = [-1,1] + [1,0]
    assert torch.allclose(out, torch.tensor([[0.5, 0.5], [0.0, 1.0]]))
    assert (out[0] @ g[1]).abs() < 1e-6 and (out[1] @ g[0]).abs() < 1e-6


def test_pcgrad_leaves_agreeing_gradients_alone():
    g = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    assert torch.equal(pcgrad_project(g, torch.Generator().manual_seed(0)), g)


def test_pcgrad_backward_sets_projected_sum_on_shared_and_own_grads_on_heads():
    shared = torch.nn.Parameter(torch.zeros(2))
    head1, head2 = torch.nn.Parameter(torch.tensor(2.0)), torch.nn.Parameter(torch.tensor(3.0))
    losses = {"a": torch.tensor([1.0, 0.0]) @ shared + head1 ** 2, "b": torch.tensor([-1.0, 1.0]) @ shared + head2}
    PCGrad(["a", "b"]).backward(losses, [shared])
    assert torch.allclose(shared.grad, torch.tensor([0.5, 1.5]))  # [0.5, 0.5] + [0, 1]
    assert head1.grad.item() == pytest.approx(4.0) and head2.grad.item() == pytest.approx(1.0)


# ---------------------------------------------------------------- uncertainty, DWA, GradNorm


@pytest.mark.slow  # about 1 s idle; the first optimiser step pays torch's lazy imports
def test_uncertainty_weighting_optimum_is_sigma2_equal_to_loss():
    losses = {"a": torch.tensor(0.5), "b": torch.tensor(2.0), "c": torch.tensor(0.1)}
    w = UncertaintyWeighting(list(losses))
    opt = torch.optim.Adam(w.parameters(), lr=0.05)
    for _ in range(400):
        opt.zero_grad()
        w.backward(losses, [])
        opt.step()
    assert torch.allclose(torch.exp(w.log_vars.detach()), torch.tensor([0.5, 2.0, 0.1]), rtol=1e-2)


def test_uncertainty_loss_closed_form():
    val = uncertainty_loss(torch.tensor([2.0, 1.0]), torch.tensor([0.0, math.log(2.0)]))
    assert val.item() == pytest.approx(2.0 + 0.0 + 0.5 + math.log(2.0))


def test_dwa_weights_from_a_given_history():
    history = torch.tensor([[1.0, 1.0], [0.5, 1.0]])  # ratios 0.5 and 1.0
    e1, e2 = math.exp(0.5 / 2), math.exp(1.0 / 2)
    expected = torch.tensor([2 * e1 / (e1 + e2), 2 * e2 / (e1 + e2)])
    assert torch.allclose(dwa_weights(history, temperature=2.0), expected)
    assert torch.equal(dwa_weights(history[:1]), torch.ones(2))


def test_dwa_class_uses_its_epoch_history():
    dwa = DWA(["a", "b"], temperature=2.0, window=1)
    for la, lb in [(1.0, 1.0), (0.5, 1.0)]:
        assert dwa.backward({"a": torch.tensor(la, requires_grad=True),
                             "b": torch.tensor(lb, requires_grad=True)}, []) == {"a": 1.0, "b": 1.0}
    w = dwa.backward({"a": torch.tensor(1.0, requires_grad=True), "b": torch.tensor(1.0, requires_grad=True)}, [])
    assert w["a"] < 1.0 < w["b"] and w["a"] + w["b"] == pytest.approx(2.0)


def test_gradnorm_moves_weights_toward_balanced_gradient_norms():
    W = torch.nn.Parameter(torch.ones(3, 3))
    gn = GradNorm(["big", "small"], alpha=1.5, lr=0.05)

    def weighted_norms():
        norms = []
        for c, w in zip((10.0, 1.0), gn.weights):
            (g,) = torch.autograd.grad(c * (W ** 2).sum() / 2, W)
            norms.append(float(w * g.norm()))
        return norms

    before = weighted_norms()
    for _ in range(300):
        W.grad = None
        gn.backward({"big": 10.0 * (W ** 2).sum() / 2, "small": (W ** 2).sum() / 2}, [W])
    after = weighted_norms()
    assert gn.weights[0] < gn.weights[1]
    assert gn.weights.sum().item() == pytest.approx(2.0)
    assert abs(math.log(after[0] / after[1])) < 0.2 * abs(math.log(before[0] / before[1]))


def test_equal_weighting_is_plain_sum():
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    EqualWeighting(["a", "b"]).backward({"a": p[0] * 3, "b": p[1] * 5}, [p])
    assert torch.equal(p.grad, torch.tensor([3.0, 5.0]))


@pytest.mark.parametrize("name", ["equal", "uncertainty", "dwa", "gradnorm", "pcgrad"])
def test_missing_or_unknown_task_in_loss_dict_is_a_clear_error(name):
    w = make_weighting(name, ["sst2", "trec"])
    with pytest.raises(ValueError, match=r"missing \['trec'\]"):
        w.backward({"sst2": torch.tensor(1.0, requires_grad=True)}, [])
    with pytest.raises(ValueError, match=r"unknown \['qa'\]"):
        w.backward({"sst2": torch.tensor(1.0), "trec": torch.tensor(1.0), "qa": torch.tensor(1.0)}, [])


def test_unknown_weighting_name():
    with pytest.raises(ValueError, match="unknown weighting 'foo'"):
        make_weighting("foo", ["a"])


# ---------------------------------------------------------------- architectures


@pytest.mark.parametrize("arch", ["hard", "soft", "soft_cs", "mmoe"])
def test_architectures_shapes_and_unknown_task(arch):
    torch.manual_seed(0)
    nc = {"sst2": 2, "trec": 6}
    model = {"hard": lambda: HardSharing(nc, HardSharingConfig(in_dim=8, hidden_dim=16)),
             "soft": lambda: SoftSharing(nc, SoftSharingConfig(in_dim=8, hidden_dim=16)),
             "soft_cs": lambda: SoftSharing(nc, SoftSharingConfig(in_dim=8, hidden_dim=16, cross_stitch=True)),
             "mmoe": lambda: MMoE(nc, MMoEConfig(in_dim=8, num_experts=3, expert_dim=5))}[arch]()
    x = torch.randn(4, 8)
    assert model(x, "sst2").shape == (4, 2) and model(x, "trec").shape == (4, 6)
    with pytest.raises(ValueError, match=r"task 'qa' is not registered; known tasks: \['sst2', 'trec'\]"):
        model(x, "qa")
    with pytest.raises(ValueError, match="not registered"):
        model.task_parameters("qa")
    shared = {id(p) for p in model.shared_parameters()}
    assert not shared & {id(p) for p in model.task_parameters("sst2")}


def test_mmoe_gates_sum_to_one_and_differ_between_tasks():
    torch.manual_seed(0)
    model = MMoE({"a": 2, "b": 3}, MMoEConfig(in_dim=8, num_experts=4, expert_dim=5))
    x = torch.randn(10, 8)
    ga, gb = model.gate(x, "a"), model.gate(x, "b")
    assert ga.shape == (10, 4)
    assert torch.allclose(ga.sum(-1), torch.ones(10)) and torch.allclose(gb.sum(-1), torch.ones(10))
    assert (ga >= 0).all() and not torch.allclose(ga, gb)


def test_l2_coupling_and_cross_stitch_by_hand():
    w1, w2 = torch.tensor([1.0, 0.0]), torch.tensor([3.0, 2.0])  # mean [2, 1]
    assert l2_coupling([w1, w2]).item() == pytest.approx(4.0)
    h = torch.arange(12.0).view(2, 3, 2)
    assert torch.equal(cross_stitch(h, torch.eye(2)), h)
    swapped = cross_stitch(h, torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    assert torch.equal(swapped[0], h[1])
    zero = SoftSharing({"a": 2, "b": 2}, SoftSharingConfig(in_dim=3, hidden_dim=4, coupling=0.0))
    assert zero.regularizer() == 0.0


# ---------------------------------------------------------------- metrics and sampling


def test_delta_mtl_and_macro_f1_by_hand():
    assert delta_mtl({"a": 0.9, "b": 0.7}, {"a": 0.8, "b": 0.7}) == pytest.approx(100 * (0.125 + 0) / 2)
    assert delta_mtl({"a": 0.9, "err": 2.0}, {"a": 0.9, "err": 1.0}, {"err": False}) == pytest.approx(-50.0)
    with pytest.raises(ValueError, match="same tasks"):
        delta_mtl({"a": 1.0}, {"b": 1.0})
    # class 0: tp=1 fp=1 fn=0 -> 2/3; class 1: tp=1 fp=0 fn=1 -> 2/3
    assert macro_f1([0, 0, 1], [0, 1, 1]) == pytest.approx(2 / 3)


def test_task_batch_sizes():
    sizes = {"a": 8000, "b": 2000}
    assert task_batch_sizes(sizes, 100, "proportional") == {"a": 80, "b": 20}
    assert task_batch_sizes(sizes, 100, "uniform") == {"a": 50, "b": 50}
    temp = task_batch_sizes(sizes, 100, "temperature", temperature=2.0)  # sqrt: 2:1
    assert sum(temp.values()) == 100 and temp["a"] == 67
    assert task_batch_sizes({"a": 10**6, "b": 1}, 10, "proportional") == {"a": 9, "b": 1}
    with pytest.raises(ValueError, match="sampling"):
        TrainConfig(sampling="greedy")


# ---------------------------------------------------------------- trainer: a short run must learn


def _blobs(seed: int, n: int = 400):
    g = torch.Generator().manual_seed(seed)
    data = {}
    for t, shift in (("a", 0), ("b", 1)):
        xs, ys = [], []
        for split in ("train", "dev", "test"):
            y = torch.randint(2, (n,), generator=g)
            x = torch.randn(n, 6, generator=g) * 0.7
            x[:, shift] += 2.0 * y - 1.0
            xs.append(x), ys.append(y)
        data[t] = TaskData(t, 2, xs[0], ys[0], xs[1], ys[1], xs[2], ys[2])
    return data


@pytest.mark.parametrize("weighting", ["equal", "uncertainty", "pcgrad", "gradnorm", "dwa"])
def test_trainer_short_run_beats_chance_and_is_deterministic(weighting):
    data = _blobs(0)
    cfg = TrainConfig(steps=60, batch_size=64, lr=1e-2, eval_every=20, show_progress=False)

    def run():
        torch.manual_seed(0)
        model = HardSharing({"a": 2, "b": 2}, HardSharingConfig(in_dim=6, hidden_dim=16))
        return train_multitask(model, make_weighting(weighting, ["a", "b"]), data, cfg)

    r1, r2 = run(), run()
    assert min(r1.test_acc.values()) > 0.85
    assert r1.test_acc == r2.test_acc and r1.best_step == r2.best_step


def test_run_config_builds_every_model_and_mean_std():
    from ragmtl.mtl.experiment import build_model, mean_std, run_config
    data = _blobs(1, n=200)
    cfg = TrainConfig(steps=40, batch_size=64, lr=1e-2, eval_every=20, show_progress=False)
    for name in ("stl", "hard", "soft", "mmoe"):
        res = run_config(data, name, "equal", 0, cfg, hidden_dim=8)
        assert min(res.test_acc.values()) > 0.8
    with pytest.raises(ValueError, match="unknown model"):
        build_model("cnn", {"a": 2}, 4)
    mean, std = mean_std([{"a": 0.5}, {"a": 0.7}])
    assert mean["a"] == pytest.approx(60.0) and std["a"] == pytest.approx(14.1421356)


def test_trainer_rejects_mismatched_tasks():
    data = _blobs(0)
    model = HardSharing({"a": 2, "c": 2}, HardSharingConfig(in_dim=6, hidden_dim=4))
    with pytest.raises(ValueError, match="must be the same"):
        train_multitask(model, EqualWeighting(["a", "b"]), data, TrainConfig(steps=1, show_progress=False))


# ---------------------------------------------------------------- synthetic tasks and decontamination


def test_synthetic_angle_and_closed_forms():
    same = make_linear_tasks(0.0, seed=1)
    assert np.allclose(same.weights[0], same.weights[1])
    opposed = make_linear_tasks(180.0, seed=1)
    assert np.allclose(opposed.weights[0], -opposed.weights[1])
    ortho = make_linear_tasks(90.0, seed=1)
    assert abs(ortho.weights[0] @ ortho.weights[1]) < 1e-12
    # a huge coupling forces w_t = w_0: the pooled fit; single-task and weakly coupled fits are far from it
    pooled = fit_pooled(ortho, lam=1.0)
    assert np.abs(fit_single_task(ortho, lam=1.0) - pooled).max() > 0.1
    assert np.abs(fit_l2_coupled(ortho, coupling=1e-3, lam=1.0) - pooled).max() > 0.1
    assert np.allclose(fit_l2_coupled(ortho, coupling=1e9, lam=1.0), pooled, atol=1e-6)
    # pooling identical tasks beats fitting each alone; pooling opposed tasks is far worse
    assert task_mse(same, fit_pooled(same)).mean() < task_mse(same, fit_single_task(same)).mean()
    assert task_mse(opposed, fit_pooled(opposed)).mean() > 2 * task_mse(opposed, fit_single_task(opposed)).mean()


def test_decontaminate_drops_other_tasks_held_out_sentences_only():
    def tc(name, train, test):
        return TextClassification(name, ["n", "p"], [LabelledText(t, 0) for t in train], [],
                                  [LabelledText(t, 0) for t in test])
    a = tc("a", ["Good film .", "bad film", "in both"], ["own test"])
    b = tc("b", ["Own Test!", "x"], ["good film", "b test"])
    keep = decontaminate({"a": a, "b": b})
    # a's "Good film ." is b's test sentence; b's "Own Test!" is a's test sentence
    assert keep["a"].tolist() == [1, 2] and keep["b"].tolist() == [1]
    assert normalise("It's  GOOD!") == "itsgood"
