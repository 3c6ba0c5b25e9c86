"""The fast (bf16) encoding path the retrieval chapter relies on: close to fp32 on long abstracts."""
import numpy as np
import pytest
import torch


@pytest.mark.slow
def test_bf16_scifact_abstracts_within_cosine_of_fp32(shared_data, encoder_fp32):
    from ragmtl.data import load_scifact
    from ragmtl.encoders import Encoder, EncoderConfig

    corpus = load_scifact().corpus
    texts = [d.title + " " + d.text for d in corpus[:64]]  # long texts: most hit the 256-token limit
    # 64 such texts make several batches, so the parallel (workers) path is the one checked
    bf16 = Encoder(EncoderConfig(precision="bf16", use_cache=False))
    fast = bf16.encode(texts)
    exact = encoder_fp32.encode(texts)
    cos = (fast * exact).sum(1)
    assert cos.min() >= 0.999, cos.min()
    assert not np.array_equal(fast, exact)  # it did run in reduced precision
    # the bf16 copy is made per call: the shared fp32 model (used for fine-tuning) is untouched
    assert next(bf16.model.parameters()).dtype == torch.float32
    assert bf16.inference_model() is not bf16.model
    assert next(bf16.inference_model().parameters()).dtype == torch.bfloat16
