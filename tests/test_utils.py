import time

import pytest
import torch

from ragmtl.utils import Timer, coalesce_streams, cpu_has_bf16, get_device, progress, seed_everything, terminal_text


def test_seed_everything_repeats():
    seed_everything(7)
    a = torch.rand(3)
    seed_everything(7)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError, match="non-negative"):
        seed_everything(-1)


def test_get_device():
    assert get_device("cpu").type == "cpu"
    assert get_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="unknown device"):
        get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            get_device("cuda")


def test_timer_and_progress():
    with Timer() as t:
        time.sleep(0.01)
    assert 0.01 <= t.elapsed < 1.0
    assert list(progress(range(5), disable=True)) == [0, 1, 2, 3, 4]
    assert isinstance(cpu_has_bf16(), bool)


def test_progress_line_has_a_fixed_width_whatever_the_rate():
    """nbval compares the last progress line; its length and bar must not depend on the speed."""
    from tqdm import tqdm

    from ragmtl.utils import FIXED_WIDTH_BAR

    lines = [tqdm.format_meter(n, 1500, elapsed, ncols=80, prefix="maml K=10", bar_format=FIXED_WIDTH_BAR)
             for n, elapsed in ((1500, 0.9), (1500, 19.3), (1500, 250.0), (7, 0.001), (0, 0.0))]
    assert {len(line) for line in lines} == {80}
    assert lines[0].split("[")[0] == lines[1].split("[")[0] == lines[2].split("[")[0]


def test_warmup_linear_decay_hand_computed():
    import pytest
    import torch

    from ragmtl.utils import warmup_linear_decay

    optim = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = warmup_linear_decay(optim, warmup_steps=2, total_steps=4)
    rates = []
    for _ in range(4):
        rates.append(optim.param_groups[0]["lr"])
        optim.step()
        sched.step()
    # step k: min(1, (k + 1) / 2) * (4 - k) / 4
    assert rates == pytest.approx([0.5, 0.75, 0.5, 0.25])
    with pytest.raises(ValueError, match="total_steps"):
        warmup_linear_decay(optim, 2, 0)


def test_bf16_autocast_can_be_forced_off():
    import torch

    from ragmtl.utils import bf16_autocast

    with bf16_autocast(False):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    with bf16_autocast(True):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


def test_terminal_text_keeps_a_bars_final_line():
    assert terminal_text("a  0%\rb 50%\rc100%\n") == "c100%\n"
    assert terminal_text("done\r\n") == "done\r\n"  # a return with nothing after it keeps the line
    assert terminal_text("abx\x08c\n") == "abc\n"
    assert terminal_text("first\nbar 1\rbar 2\nlast") == "first\nbar 2\nlast"


def test_coalesce_streams_merges_by_name_before_applying_returns():
    """myst-nb's own merge ends every chunk with a newline first, so each refresh became a line."""
    outputs = [{"output_type": "stream", "name": "stderr", "text": "steps:  0%|"},
               {"output_type": "stream", "name": "stdout", "text": "hello\n"},
               {"output_type": "stream", "name": "stderr", "text": "\rsteps: 50%|"},
               {"output_type": "display_data", "data": {}},
               {"output_type": "stream", "name": "stderr", "text": "\rsteps:100%|\n"}]
    merged = coalesce_streams(outputs)
    assert [o["output_type"] for o in merged] == ["stream", "stream", "display_data"]
    assert merged[0]["text"] == "steps:100%|\n"
    assert merged[1]["text"] == "hello\n"


def test_cpu_has_bf16_follows_the_environment_override(monkeypatch):
    monkeypatch.setenv("RAGMTL_BF16", "0")
    assert cpu_has_bf16() is False
    monkeypatch.setenv("RAGMTL_BF16", "1")
    assert cpu_has_bf16() is True
    monkeypatch.setenv("RAGMTL_BF16", "yes")
    with pytest.raises(ValueError, match="RAGMTL_BF16 must be 0 or 1"):
        cpu_has_bf16()


def test_auto_precision_encoder_follows_the_override(monkeypatch):
    from ragmtl.encoders import Encoder

    monkeypatch.setenv("RAGMTL_BF16", "0")
    assert Encoder().precision == "fp32"
    monkeypatch.setenv("RAGMTL_BF16", "1")
    assert Encoder().precision == "bf16"
