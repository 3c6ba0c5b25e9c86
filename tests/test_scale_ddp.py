"""ragmtl.scale.ddp: 2 processes (gloo, CPU, fp32) with per-process batch B follow 1 process with
batch 2B; a rank that fails stops the run loudly and leaves no model folder that loads."""
import json

import pytest
import torch
import torch.distributed as dist

from ragmtl.mtl import EqualWeighting, HardSharing, HardSharingConfig, PCGrad, TaskData, TrainConfig, train_multitask
from ragmtl.scale.ddp import DDPConfig, DistributedRunError, launch_multitask, local_rows
from ragmtl.sharing import MissingFileError, load_pretrained

NUM_CLASSES = {"a": 3, "b": 2}
TOL = 1e-4  # the tolerance: fp32 sums over ranks round differently from one sum


class FailingWeighting(EqualWeighting):
    """Equal weighting that raises on rank 1 at its third step (an injected mid-run failure)."""

    calls = 0

    def backward(self, losses, shared):
        self.calls += 1
        if dist.is_initialized() and dist.get_rank() == 1 and self.calls == 3:
            raise RuntimeError("injected failure at step 3")
        return super().backward(losses, shared)


def task(name, n_classes, seed, dim=16):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(200, dim, generator=g)
    y = (x[:, :n_classes].argmax(1)).long()
    return TaskData(name, n_classes, x[:120], y[:120], x[120:160], y[120:160], x[160:], y[160:])


def make():
    torch.manual_seed(0)
    config = HardSharingConfig(in_dim=16, hidden_dim=32, dropout=0.0)
    model = HardSharing(NUM_CLASSES, config)
    for p in model.parameters():  # a large init: runs that differ in their batches differ far beyond TOL
        torch.nn.init.normal_(p, std=0.5)
    return model, EqualWeighting(list(NUM_CLASSES)), {t: task(t, c, i) for i, (t, c) in enumerate(NUM_CLASSES.items())}


def config(batch):
    return TrainConfig(steps=4, batch_size=batch, lr=1e-2, sampling="uniform", eval_every=4, show_progress=False)


def load(path):
    model, _ = load_pretrained(path, lambda c: HardSharing(NUM_CLASSES, c), HardSharingConfig)
    return model.state_dict()


def max_diff(a, b):
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_local_rows_split_evenly():
    assert local_rows(torch.arange(6), 1, 2).tolist() == [3, 4, 5]
    with pytest.raises(ValueError, match="does not split"):
        local_rows(torch.arange(5), 0, 2)


@pytest.mark.slow
def test_two_processes_match_one_process_with_twice_the_batch(tmp_path):
    model, weighting, data = make()
    launch_multitask(model, weighting, data, config(8), tmp_path / "two", DDPConfig(world_size=2))
    launch_multitask(model, weighting, data, config(16), tmp_path / "one", DDPConfig(world_size=1))
    two, one = load(tmp_path / "two"), load(tmp_path / "one")
    # the one-process data-parallel run is train_multitask itself (same draws, same updates)
    reference, _, _ = make()
    train_multitask(reference, EqualWeighting(list(NUM_CLASSES)), data, config(16))
    assert max_diff(one, reference.state_dict()) < 1e-6
    # the nearest wrong answers: no all-reduce (each rank steps on its own batch of 8) or batch 8 alone
    half, _, _ = make()
    train_multitask(half, EqualWeighting(list(NUM_CLASSES)), data, config(8))
    assert max_diff(half.state_dict(), one) > 100 * TOL
    assert max_diff(two, one) < TOL
    history = json.loads((tmp_path / "two" / "history.json").read_text())
    assert len(history) == 4 and set(history[0]["loss"]) == set(NUM_CLASSES)


@pytest.mark.slow
def test_a_failing_rank_fails_the_launch_and_saves_nothing(tmp_path):
    model, _, data = make()
    with pytest.raises(DistributedRunError, match=r"rank 1 of 2 failed: RuntimeError: injected failure at step 3"):
        launch_multitask(model, FailingWeighting(list(NUM_CLASSES)), data, config(8), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(MissingFileError):
        load(tmp_path / "out")
    assert [p.name for p in tmp_path.iterdir()] == []  # no staged half-folder left beside it


def test_gradient_based_weighting_is_refused(tmp_path):
    model, _, data = make()
    with pytest.raises(ValueError, match="PCGrad looks at per-task gradients"):
        launch_multitask(model, PCGrad(list(NUM_CLASSES)), data, config(8), tmp_path / "out", DDPConfig(world_size=1))
