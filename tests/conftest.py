import os
from pathlib import Path

import pytest

# The data folder comes from RAGMTL_DATA (CI: ../shared/data). Fall back to the checkout's
# neighbour so a plain `pytest` works here too; a missing folder fails loudly in fetch().
_shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "RAGMTL_DATA" not in os.environ and _shared.is_dir():
    os.environ["RAGMTL_DATA"] = str(_shared)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    from ragmtl.data import data_dir

    return data_dir()


@pytest.fixture(scope="session")
def encoder_fp32():
    from ragmtl.encoders import Encoder, EncoderConfig

    return Encoder(EncoderConfig(precision="fp32", use_cache=False))


@pytest.fixture
def one_thread():
    """Tiny networks run fastest, and repeat exactly, on one thread (as the chapters train them)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
