"""ragmtl.scale.ann / sweep / shards / store: compressed indexes against exact search, sharded search
against one flat index, and saving compressed indexes through ragmtl.sharing."""
import json

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")

from ragmtl.scale import (AnnSpec, ShardedIndex, build_ann, bytes_per_vector, exact_top_k, load_ann_index,
                          merge_top_k, recall_at_k_vs_exact, save_ann_index, set_search_knob, sweep_ann)
from ragmtl.sharing import ChecksumError, FormatVersionError

D = 32


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    """4,000 unit vectors around 40 cluster centres (as real embeddings cluster) and 30 queries."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, D))
    x = unit(centres[rng.integers(40, size=4000)] + 1.5 * rng.standard_normal((4000, D)))
    q = unit(centres[rng.integers(40, size=30)] + 1.5 * rng.standard_normal((30, D)))
    return x, q


def test_recall_hand_case():
    assert recall_at_k_vs_exact(np.array([[1, 2], [3, 4]]), np.array([[2, 9], [3, 4]])) == 0.75
    with pytest.raises(ValueError, match="same Q"):
        recall_at_k_vs_exact(np.zeros((2, 2)), np.zeros((3, 2)))


def test_ivf_flat_is_exact_when_every_cell_is_scanned(data):
    x, q = data
    _, exact = exact_top_k(x, q, 10)
    index = build_ann(x, AnnSpec("IVF16,Flat", train_size=2000))
    assert set_search_knob(index, 1) == "nprobe"
    one_cell = recall_at_k_vs_exact(index.search(q, 10)[1], exact)
    set_search_knob(index, 16)
    assert recall_at_k_vs_exact(index.search(q, 10)[1], exact) == 1.0
    assert one_cell < 0.9  # one cell of 16 misses neighbours: the knob really is applied


def test_pq_loses_recall_and_exact_reranking_restores_it(data):
    x, q = data
    _, exact = exact_top_k(x, q, 10)
    recalls, sizes = {}, {}
    for refine in (None, "flat", "fp16"):
        index = build_ann(x, AnnSpec("IVF16,PQ8", train_size=2000, refine=refine, k_factor=20))
        set_search_knob(index, 16)
        recalls[refine] = recall_at_k_vs_exact(index.search(q, 10)[1], exact)
        sizes[refine] = bytes_per_vector(index)
    assert recalls[None] < 0.8  # 8 bytes per 32-dim vector is lossy
    assert recalls["flat"] >= 0.95 and recalls["fp16"] >= 0.95
    assert recalls["flat"] - recalls[None] > 0.15
    # codes (8 B) + ids (8 B) + quantizers amortised; re-ranking adds 4 d (float32) or 2 d (float16) bytes
    assert 16 <= sizes[None] < 40
    assert sizes["flat"] - sizes[None] == pytest.approx(4 * D, abs=1)
    assert sizes["fp16"] - sizes[None] == pytest.approx(2 * D, abs=1)


def test_opq_and_hnsw_build_and_search(data):
    x, q = data
    _, exact = exact_top_k(x, q, 10)
    opq = build_ann(x, AnnSpec("OPQ8,IVF16,PQ8", train_size=2000, refine="flat", k_factor=20))
    set_search_knob(opq, 16)
    assert recall_at_k_vs_exact(opq.search(q, 10)[1], exact) >= 0.95
    hnsw = build_ann(x, AnnSpec("HNSW16,Flat"))
    assert set_search_knob(hnsw, 128) == "efSearch" and hnsw.hnsw.efSearch == 128
    assert recall_at_k_vs_exact(hnsw.search(q, 10)[1], exact) >= 0.9


def test_bad_specs_fail_loudly(data):
    x, _ = data
    with pytest.raises(ValueError, match="refine"):
        AnnSpec("IVF16,PQ8", refine="ram")
    with pytest.raises(ValueError, match="FAISS cannot build"):
        build_ann(x, AnnSpec("IVF16,PQ7"))  # 32 dims do not split into 7 sub-vectors
    with pytest.raises(ValueError, match="cells but only"):
        build_ann(x, AnnSpec("IVF512,Flat", train_size=100))
    flat = faiss.IndexFlatIP(D)
    flat.add(x)
    with pytest.raises(ValueError, match="no nprobe or efSearch"):
        set_search_knob(flat, 4)
    with pytest.raises(ValueError, match="NaN"):
        build_ann(np.full((10, D), np.nan, dtype=np.float32), AnnSpec("HNSW8,Flat"))


def test_sweep_records(data):
    x, q = data
    points = sweep_ann(x, q, [AnnSpec("IVF16,Flat", train_size=2000), AnnSpec("HNSW16,Flat")],
                       {"nprobe": [1, 16], "efSearch": [16]}, repeats=1)
    assert [(p.index, p.knob, p.value) for p in points] == [
        ("Flat", "-", 0), ("IVF16,Flat", "nprobe", 1), ("IVF16,Flat", "nprobe", 16), ("HNSW16,Flat", "efSearch", 16)]
    assert points[0].recall == 1.0 and points[2].recall == 1.0 and points[1].recall < 1.0
    assert points[0].bytes_per_vector == pytest.approx(4 * D, abs=0.1)
    assert set(points[1].as_dict()) >= {"speedup_vs_flat", "ms_per_query", "recall", "bytes_per_vector"}
    with pytest.raises(ValueError, match="no values"):
        sweep_ann(x, q, [AnnSpec("HNSW16,Flat")], {"nprobe": [1]})


def test_merge_top_k_hand_case():
    # shard 0 holds ids 0-2, shard 1 ids 3-4 (padded with -1): ties go to the lower id
    scores = [np.array([[0.9, 0.5, 0.1]]), np.array([[0.9, 0.7, 0.0]])]
    ids = [np.array([[2, 0, 1]]), np.array([[3, 4, -1]])]
    s, i = merge_top_k(scores, ids, 4)
    assert i.tolist() == [[2, 3, 4, 0]]
    np.testing.assert_allclose(s, [[0.9, 0.9, 0.7, 0.5]], rtol=1e-6)
    s, i = merge_top_k([np.array([[0.3]])], [np.array([[5]])], 2)
    assert i.tolist() == [[5, -1]] and s[0, 1] == -np.inf


def test_sharded_search_equals_one_flat_index(data):
    x, q = data
    exact_scores, exact_ids = exact_top_k(x, q, 10)

    def flat(v):
        index = faiss.IndexFlatIP(D)
        index.add(v)
        return index

    sharded = ShardedIndex.build(x, 3, flat)
    assert sharded.ntotal == len(x) and sharded.offsets == [0, 1333, 2667]
    scores, ids = sharded.search(q, 10)
    np.testing.assert_array_equal(ids, exact_ids)
    np.testing.assert_allclose(scores, exact_scores, rtol=0, atol=1e-6)
    shard_of = np.searchsorted(sharded.offsets, ids, side="right") - 1
    assert len(np.unique(shard_of)) == 3  # the answers come from every shard: offsets and merge both matter
    faiss_shards = faiss.IndexShards(D, False, True)  # faiss's own merge (successive ids) agrees
    for shard in sharded.shards:
        faiss_shards.add_shard(shard)
    np.testing.assert_array_equal(faiss_shards.search(q, 10)[1], exact_ids)
    with pytest.raises(ValueError, match="n_shards"):
        ShardedIndex.build(x, 0, flat)


def test_compressed_index_round_trip_and_corruption(data, tmp_path):
    x, q = data
    spec = AnnSpec("IVF16,PQ8", train_size=2000, refine="fp16")
    index = build_ann(x, spec)
    set_search_knob(index, 4)
    save_ann_index(tmp_path / "ivfpq", index, spec)
    loaded, loaded_spec = load_ann_index(tmp_path / "ivfpq")
    assert loaded_spec == spec
    set_search_knob(loaded, 4)
    for a, b in zip(index.search(q, 10), loaded.search(q, 10)):
        np.testing.assert_array_equal(a, b)
    path = tmp_path / "ivfpq" / "index.faiss"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ChecksumError, match="index.faiss"):
        load_ann_index(tmp_path / "ivfpq")


def test_store_refuses_bad_folders(data, tmp_path):
    x, _ = data
    spec = AnnSpec("HNSW8,Flat")
    index = build_ann(x[:200], spec)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a saved index"):
        save_ann_index(tmp_path / "other", index, spec)
    save_ann_index(tmp_path / "v", index, spec)
    recipe = json.loads((tmp_path / "v" / "ann.json").read_text())
    recipe["format_version"] = 99
    from ragmtl.sharing import write_manifest
    (tmp_path / "v" / "ann.json").write_text(json.dumps(recipe))
    write_manifest(tmp_path / "v", ["ann.json", "index.faiss"])
    with pytest.raises(FormatVersionError, match="99"):
        load_ann_index(tmp_path / "v")
