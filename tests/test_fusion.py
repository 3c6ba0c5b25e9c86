"""The fusion operators against hand-computed cases, invariances and their error messages."""
import math

import pytest
import torch
from torch.nn import functional as F

from ragmtl.fusion import (BilinearAttention, ConcatFusion, CrossAttention, FiDConfig, FusionInDecoder, MeanFusion,
                           Reader, ReaderConfig, article_bilinear_attention, attend, bilinear_attention,
                           bilinear_scores, concat_fusion, cross_attention, doc_weights_from_tokens, fid_concat,
                           fid_encode, fid_pairs, marginalize_docs, masked_softmax, mean_fusion, weighted_sum)


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(3, 5, generator=g), torch.randn(3, 4, 6, generator=g), torch.randn(5, 6, generator=g)


PAD = torch.tensor([[True, True, True, True], [True, True, False, False], [True, False, True, True]])


# --- bilinear attention -------------------------------------------------------------------------

def test_bilinear_two_documents_by_hand():
    # q^T W = [1, 2] diag(1, 0.5) = [1, 1]; scores: d1 -> 1, d2 -> 2 + 1 = 3
    q = torch.tensor([[1.0, 2.0]])
    W = torch.tensor([[1.0, 0.0], [0.0, 0.5]])
    docs = torch.tensor([[[1.0, 0.0], [2.0, 1.0]]])
    h_aug, alpha = bilinear_attention(q, docs, W)
    a1, a2 = 1 / (1 + math.e ** 2), math.e ** 2 / (1 + math.e ** 2)  # 0.1192, 0.8808
    assert torch.allclose(bilinear_scores(q, docs, W), torch.tensor([[1.0, 3.0]]))
    assert torch.allclose(alpha, torch.tensor([[a1, a2]]))
    assert torch.allclose(h_aug, torch.tensor([[a1 * 1 + a2 * 2, a2 * 1]]))  # [1.8808, 0.8808]


def test_bilinear_weights_sum_to_one_and_padding_gets_zero(batch):
    q, docs, W = batch
    h_aug, alpha = bilinear_attention(q, docs, W, PAD)
    assert h_aug.shape == (3, 6) and alpha.shape == (3, 4)
    assert torch.allclose(alpha.sum(-1), torch.ones(3))
    assert (alpha[~PAD] == 0).all() and (alpha[PAD] > 0).all()
    changed = docs.clone()
    changed[~PAD] = 1e3  # whatever sits in a padded slot must not matter
    assert torch.allclose(bilinear_attention(q, changed, W, PAD)[0], h_aug)


def test_the_article_softmax_over_a_size_one_axis_gives_all_ones(batch):
    """The source computed softmax over scores shaped [B, k, 1] along the last axis: every weight
    is 1 (no attention at all) and W_a gets no gradient; ours normalises over the k documents."""
    q, docs, W = batch
    scores = torch.bmm(docs, (q @ W).unsqueeze(-1))  # [B, k, 1], as in the article
    assert torch.equal(torch.softmax(scores, dim=-1), torch.ones(3, 4, 1))
    W = W.clone().requires_grad_(True)
    h_article, weights = article_bilinear_attention(q, docs, W)
    assert torch.equal(weights, torch.ones(3, 4, 1))
    assert torch.allclose(h_article, docs.sum(1))  # a plain sum of the documents
    h_article.sum().backward()
    assert torch.equal(W.grad, torch.zeros_like(W))  # softmax of one entry is constant
    _, alpha = bilinear_attention(q, docs, W)
    assert torch.allclose(alpha.sum(-1), torch.ones(3)) and not torch.allclose(alpha, torch.ones_like(alpha))


def test_bilinear_module_starts_as_cosine_softmax_or_mean():
    docs = F.normalize(torch.randn(2, 3, 4), dim=-1)
    q = F.normalize(torch.randn(2, 4), dim=-1)
    _, alpha = BilinearAttention(4, 4, init_scale=10.0)(q, docs)
    assert torch.allclose(alpha, torch.softmax(10 * torch.einsum("bd,bkd->bk", q, docs), -1))
    _, uniform = BilinearAttention(4, 5)(q, torch.randn(2, 3, 5))  # different dimensions: W_a = 0
    assert torch.allclose(uniform, torch.full((2, 3), 1 / 3))
    _, ones = BilinearAttention(4, 4, article=True)(q, docs)
    assert torch.equal(ones, torch.ones(2, 3))


def test_bilinear_errors(batch):
    q, docs, W = batch
    with pytest.raises(ValueError, match="W_a must have shape"):
        bilinear_attention(q, docs, W.T)
    with pytest.raises(ValueError, match="batch size"):
        bilinear_attention(q[:2], docs, W)
    with pytest.raises(ValueError, match="doc_mask must have shape"):
        bilinear_attention(q, docs, W, PAD[:, :3])
    with pytest.raises(ValueError, match="masks every document"):
        bilinear_attention(q, docs, W, torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="boolean"):
        bilinear_attention(q, docs, W, PAD.float())
    with pytest.raises(ValueError, match=r"\[B, k, d\]"):
        bilinear_attention(q, docs[0], W)
    with pytest.raises(ValueError, match="values must have shape"):
        bilinear_attention(q, docs, W, values=torch.randn(3, 2, 6))


# --- concatenation, mean, weighted sum ----------------------------------------------------------

def test_concat_mean_shapes_and_padding(batch):
    q, docs, _ = batch
    out = concat_fusion(q, docs, PAD)
    assert out.shape == (3, 5 + 4 * 6)
    assert torch.equal(out[:, :5], q) and (out[1, 5 + 2 * 6:] == 0).all()
    assert torch.allclose(mean_fusion(docs, PAD)[1], docs[1, :2].mean(0))
    assert torch.allclose(mean_fusion(docs), docs.mean(1))
    summary, weights = MeanFusion()(docs, PAD)
    assert torch.allclose(weights.sum(-1), torch.ones(3)) and (weights[~PAD] == 0).all()
    assert ConcatFusion(5, 6, 4)(q, docs)[0].shape == (3, 29)


def test_order_invariance_mean_bilinear_but_not_concat(batch):
    q, docs, W = batch
    perm = torch.tensor([2, 0, 3, 1])
    assert torch.allclose(mean_fusion(docs[:, perm]), mean_fusion(docs), atol=1e-6)
    h, alpha = bilinear_attention(q, docs, W)
    h_p, alpha_p = bilinear_attention(q, docs[:, perm], W)
    assert torch.allclose(h_p, h, atol=1e-6) and torch.allclose(alpha_p, alpha[:, perm])
    assert not torch.allclose(concat_fusion(q, docs[:, perm]), concat_fusion(q, docs))


def test_weighted_sum_rejects_the_article_shape(batch):
    _, docs, _ = batch
    with pytest.raises(ValueError, match=r"weights must have shape \[B, k\]"):
        weighted_sum(docs, torch.ones(3, 4, 1))
    assert torch.allclose(weighted_sum(docs, torch.ones(3, 4)), docs.sum(1))
    with pytest.raises(ValueError, match="ConcatFusion expects docs"):
        ConcatFusion(5, 6, 3)(batch[0], docs)


def test_masked_softmax_zero_weight():
    w = masked_softmax(torch.tensor([[1.0, 5.0, 2.0]]), torch.tensor([[True, False, True]]))
    assert w[0, 1] == 0 and torch.allclose(w[0, [0, 2]], torch.softmax(torch.tensor([1.0, 2.0]), 0))


# --- token-level cross-attention ----------------------------------------------------------------

def test_attend_matches_torch_sdpa():
    g = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(2, 3, 5, 8, generator=g), torch.randn(2, 3, 7, 8, generator=g), torch.randn(2, 3, 7, 4, generator=g)
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[1, 4:] = False
    out, weights = attend(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 5)) and (weights[1, ..., 4:] == 0).all()


def test_cross_attention_over_document_tokens():
    g = torch.Generator().manual_seed(2)
    queries, tokens = torch.randn(2, 3, 8, generator=g), torch.randn(2, 4, 5, 8, generator=g)
    token_mask = torch.ones(2, 4, 5, dtype=torch.bool)
    token_mask[0, 3] = False  # a padded document
    token_mask[1, :, 4] = False  # a padded token in every document
    out, weights = cross_attention(queries, tokens, token_mask)
    assert out.shape == (2, 3, 8) and weights.shape == (2, 3, 4, 5)
    assert torch.allclose(weights.sum((-1, -2)), torch.ones(2, 3))  # one softmax over all k T tokens
    assert (weights[0, :, 3] == 0).all() and (weights[1, :, :, 4] == 0).all()
    doc_w = doc_weights_from_tokens(weights.flatten(2), 4)
    assert torch.allclose(doc_w.sum(-1), torch.ones(2)) and doc_w[0, 3] == 0
    module_out, module_w = CrossAttention(8, 2)(queries, tokens, token_mask)
    assert module_out.shape == (2, 3, 8) and module_w.shape == (2, 2, 3, 20)
    with pytest.raises(ValueError, match="queries must be"):
        cross_attention(queries[..., :4], tokens)
    with pytest.raises(ValueError, match="token_mask must have shape"):
        cross_attention(queries, tokens, token_mask[:, :3])
    with pytest.raises(ValueError, match="divisible"):
        CrossAttention(8, 3)


# --- fusion-in-decoder --------------------------------------------------------------------------

def test_fid_pairs_and_concat_shapes():
    question, passages = torch.randn(2, 3, 8), torch.randn(2, 4, 5, 8)
    pairs, pair_mask = fid_pairs(question, passages)
    assert pairs.shape == (8, 8, 8) and pair_mask.all()
    assert torch.equal(pairs[5, :3], question[1]) and torch.equal(pairs[5, 3:], passages[1, 1])
    states, mask = fid_concat(pairs, pair_mask, 4)
    assert states.shape == (2, 32, 8) and mask.shape == (2, 32)
    with pytest.raises(ValueError, match="question must be"):
        fid_pairs(question[:1], passages)
    with pytest.raises(ValueError, match="k = 3"):
        fid_concat(pairs, pair_mask, 3)


def test_fid_encodes_each_pair_separately():
    torch.manual_seed(0)
    fid = FusionInDecoder(FiDConfig(d_model=8, n_heads=2, d_ff=16))
    question, passages = torch.randn(2, 1, 8), torch.randn(2, 4, 3, 8)
    states, _ = fid_encode(fid.encode_pairs, question, passages)
    changed = passages.clone()
    changed[:, 2] = torch.randn(2, 3, 8)  # a new passage 2 changes only pair 2's encoder states
    new_states, _ = fid_encode(fid.encode_pairs, question, changed)
    same = torch.isclose(new_states, states, atol=1e-6).all(-1).reshape(2, 4, 4)
    assert same[:, [0, 1, 3]].all() and not same[:, 2].any()


def test_fid_weights_padding_and_order_invariance():
    torch.manual_seed(0)
    fid = FusionInDecoder(FiDConfig(d_model=8, n_heads=2, d_ff=16)).eval()
    question, passages = torch.randn(3, 1, 8), torch.randn(3, 4, 3, 8)
    passage_mask = PAD.unsqueeze(-1).expand(-1, -1, 3).clone()
    out, doc_w = fid(question, passages, None, passage_mask)
    assert out.shape == (3, 1, 8) and doc_w.shape == (3, 4)
    assert torch.allclose(doc_w.sum(-1), torch.ones(3)) and (doc_w[~PAD] == 0).all()
    perm = torch.tensor([3, 1, 0, 2])
    out_p, doc_w_p = fid(question, passages[:, perm])
    out_full, doc_w_full = fid(question, passages)
    assert torch.allclose(out_p, out_full, atol=1e-5) and torch.allclose(doc_w_p, doc_w_full[:, perm], atol=1e-6)


# --- marginalisation ----------------------------------------------------------------------------

def test_marginalize_by_hand():
    # p(d) = (0.5, 0.5); p(y | d1) = (0.9, 0.1), p(y | d2) = (0.3, 0.7) -> p(y) = (0.6, 0.4)
    doc_logits = torch.log(torch.tensor([[[0.9, 0.1], [0.3, 0.7]]]))
    log_p = marginalize_docs(torch.zeros(1, 2), doc_logits)
    assert torch.allclose(log_p.exp(), torch.tensor([[0.6, 0.4]]))
    masked = marginalize_docs(torch.zeros(1, 2), doc_logits, torch.tensor([[True, False]]))
    assert torch.allclose(masked.exp(), torch.tensor([[0.9, 0.1]]))
    perm = marginalize_docs(torch.zeros(1, 2), doc_logits[:, [1, 0]])
    assert torch.allclose(perm, log_p)
    with pytest.raises(ValueError, match="doc_logits"):
        marginalize_docs(torch.zeros(1, 3), doc_logits)


def test_marginalize_docs_is_rag_token_with_one_position():
    rag_marginal = pytest.importorskip("ragmtl.rag.marginal")
    g = torch.Generator().manual_seed(3)
    doc_scores, doc_logits = torch.randn(2, 3, generator=g), torch.randn(2, 3, 5, generator=g)
    reference = rag_marginal.marginalize(doc_logits.reshape(6, 1, 5), doc_scores, n_docs=3)[:, 0]
    assert torch.allclose(marginalize_docs(doc_scores, doc_logits), reference, atol=1e-6)


# --- readers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["query", "concat", "mean", "article", "bilinear", "marginal", "xattn", "fid"])
def test_reader_shapes(method):
    torch.manual_seed(0)
    config = ReaderConfig(query_dim=12, doc_dim=12, code_dim=8, n_docs=4, d_model=8, hidden=16,
                          fid=FiDConfig(n_heads=2, d_ff=16))
    reader = Reader(method, config)
    logits, weights = reader(torch.randn(3, 12), torch.randn(3, 4, 12), torch.randn(3, 4, 8), torch.randn(6, 8))
    assert logits.shape == (3, 6)
    if method in ("query", "concat"):
        assert weights is None
    else:
        assert weights.shape == (3, 4)


def test_reader_unknown_method():
    with pytest.raises(ValueError, match="unknown reader 'sum'; known"):
        Reader("sum")
