"""ragmtl.scale.encode: an interrupted-and-resumed sharded encoding equals an uninterrupted one, and
finished shards are never encoded again."""
import hashlib

import numpy as np
import pytest

from ragmtl.scale.encode import encode_corpus, finished_shards, load_encoded
from ragmtl.sharing import ChecksumError, MissingFileError

TEXTS = [f"passage {i} about topic {i % 7}" for i in range(23)]  # 5 shards of 5 (the last one 3)


class Stub:
    """A deterministic 8-dim 'encoder' (from each text's sha256) that counts its calls and texts,
    and can be told to crash on its n-th call (the interruption)."""

    def __init__(self, crash_on: int | None = None):
        self.calls, self.texts, self.crash_on = 0, [], crash_on

    def __call__(self, texts):
        self.calls += 1
        if self.calls == self.crash_on:
            raise KeyboardInterrupt("simulated interruption")
        self.texts += texts
        return np.array([np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], dtype=np.uint8) / 255.0
                         for t in texts], dtype=np.float32)


def test_interrupted_and_resumed_run_equals_uninterrupted_one(tmp_path):
    straight = Stub()
    assert encode_corpus(TEXTS, straight, tmp_path / "a", shard_size=5) == [0, 1, 2, 3, 4]
    expected = load_encoded(tmp_path / "a", TEXTS, 5)
    assert expected.shape == (23, 8) and straight.calls == 5

    crashing = Stub(crash_on=3)
    with pytest.raises(KeyboardInterrupt):
        encode_corpus(TEXTS, crashing, tmp_path / "b", shard_size=5)
    assert finished_shards(tmp_path / "b", TEXTS, 5) == [0, 1]
    with pytest.raises(MissingFileError, match="shard 2 of 5 is not finished"):
        load_encoded(tmp_path / "b", TEXTS, 5)
    resumed = Stub()
    assert encode_corpus(TEXTS, resumed, tmp_path / "b", shard_size=5) == [2, 3, 4]
    assert resumed.calls == 3 and resumed.texts == TEXTS[10:]  # shards 0 and 1 were not encoded again
    np.testing.assert_array_equal(load_encoded(tmp_path / "b", TEXTS, 5), expected)
    again = Stub()
    assert encode_corpus(TEXTS, again, tmp_path / "b", shard_size=5) == [] and again.calls == 0


def test_ranks_split_the_shards(tmp_path):
    ranks = [Stub(), Stub()]
    assert encode_corpus(TEXTS, ranks[0], tmp_path, shard_size=5, rank=0, world_size=2) == [0, 2, 4]
    assert encode_corpus(TEXTS, ranks[1], tmp_path, shard_size=5, rank=1, world_size=2) == [1, 3]
    assert sorted(ranks[0].texts + ranks[1].texts) == sorted(TEXTS)
    np.testing.assert_array_equal(load_encoded(tmp_path, TEXTS, 5), Stub()(TEXTS))
    with pytest.raises(ValueError, match="rank"):
        encode_corpus(TEXTS, Stub(), tmp_path, shard_size=5, rank=2, world_size=2)


def test_changed_shard_is_detected_and_re_encoded(tmp_path):
    encode_corpus(TEXTS, Stub(), tmp_path, shard_size=5)
    path = tmp_path / "shard-00003.npy"
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ChecksumError, match="shard-00003.npy"):
        load_encoded(tmp_path, TEXTS, 5)
    redo = Stub()
    assert encode_corpus(TEXTS, redo, tmp_path, shard_size=5) == [3] and redo.texts == TEXTS[15:20]
    np.testing.assert_array_equal(load_encoded(tmp_path, TEXTS, 5), Stub()(TEXTS))


def test_another_corpus_or_shard_size_is_refused(tmp_path):
    encode_corpus(TEXTS, Stub(), tmp_path, shard_size=5)
    with pytest.raises(ValueError, match="describes another run"):
        encode_corpus(TEXTS, Stub(), tmp_path, shard_size=4)
    with pytest.raises(ValueError, match="describes another run"):
        encode_corpus(TEXTS[:-1], Stub(), tmp_path, shard_size=5)
    with pytest.raises(ValueError, match="expected finite"):
        encode_corpus(TEXTS, lambda t: np.zeros((1, 3)), tmp_path / "bad", shard_size=5)


@pytest.mark.slow
def test_real_encoder_in_shards_equals_one_pass(tmp_path, encoder_fp32):
    texts = TEXTS[:6]
    encode_corpus(texts, encoder_fp32.encode, tmp_path, shard_size=4)
    np.testing.assert_allclose(load_encoded(tmp_path, texts, 4), encoder_fp32.encode(texts), atol=1e-5)
