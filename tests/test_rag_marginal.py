"""RAG-Sequence / RAG-Token likelihoods: against transformers' RAG models, a hand-worked case, errors."""
import math

import pytest
import torch

from ragmtl.rag import (doc_log_probs, doc_scores, marginalize, rag_sequence_nll, rag_token_nll, shift_left,
                        shift_right, token_log_likelihoods)

PAD, BOS, EOS = 1, 0, 2
N_DOCS, B, S, T, V = 3, 2, 7, 6, 40


def tiny_rag_config(init_std: float = 1.0, **kwargs):
    """A DPR question encoder and a BART generator, both tiny and randomly initialised (no download).

    ``init_std=1.0``, not BART's default 0.02: with near-zero weights every document gives almost the
    same token distributions, RAG-Sequence and RAG-Token then agree to 1e-5, and an equality check
    could not tell one from the other.
    """
    from transformers import BartConfig, DPRConfig, RagConfig

    question = DPRConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=37, projection_dim=0)
    generator = BartConfig(vocab_size=V, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                           decoder_attention_heads=2, encoder_ffn_dim=37, decoder_ffn_dim=37,
                           max_position_embeddings=64, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS,
                           decoder_start_token_id=EOS, forced_eos_token_id=None, init_std=init_std)
    return RagConfig.from_question_encoder_generator_configs(question, generator, n_docs=N_DOCS, **kwargs)


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(1)
    context = torch.randint(3, V, (B * N_DOCS, S), generator=g)
    scores = torch.randn(B, N_DOCS, generator=g)
    labels = torch.randint(3, V, (B, T), generator=g)
    labels[:, 0], labels[:, 1] = EOS, BOS  # BART decoder start, then <s>, as in transformers' RAG
    labels[1, 4:] = PAD  # a shorter second answer
    return context, torch.ones_like(context), scores, labels


def transformers_loss(kind, batch, **config):
    """transformers' RAG loss on ``batch`` and the generator's logits [B * n_docs, T, V] it came from."""
    from transformers import RagSequenceForGeneration, RagTokenForGeneration

    cls = RagSequenceForGeneration if kind == "sequence" else RagTokenForGeneration
    torch.manual_seed(0)  # the same generator weights for both classes
    model = cls(tiny_rag_config(**config)).eval()
    context, mask, scores, labels = batch
    with torch.no_grad():  # transformers feeds labels as decoder inputs and scores them shifted left
        out = model(context_input_ids=context, context_attention_mask=mask, doc_scores=scores, labels=labels)
        logits = model.rag.generator(input_ids=context, attention_mask=mask,
                                     decoder_input_ids=labels.repeat_interleave(N_DOCS, 0)).logits
    return out.loss, logits


@pytest.mark.parametrize("epsilon", [0.0, 0.1])
@pytest.mark.parametrize("reduce", [False, True])
def test_losses_equal_transformers(one_thread, batch, epsilon, reduce):
    _, _, scores, labels = batch
    ours_fn = {"sequence": rag_sequence_nll, "token": rag_token_nll}
    theirs, ours = {}, {}
    for kind, fn in ours_fn.items():
        theirs[kind], logits = transformers_loss(kind, batch, label_smoothing=epsilon, reduce_loss=reduce)
        ours[kind] = fn(logits, scores, shift_left(labels, PAD), PAD, epsilon=epsilon, reduce=reduce)
    # the two likelihoods must differ by far more than the tolerance, or a swap of the two would pass
    assert (theirs["sequence"] - theirs["token"]).abs().min() > 0.1
    for kind in ours_fn:
        assert ours[kind].shape == theirs[kind].shape
        torch.testing.assert_close(ours[kind], theirs[kind], atol=1e-5, rtol=1e-5)


def test_default_init_cannot_tell_the_two_apart(one_thread, batch):
    """Why the tests above use init_std=1.0: at BART's default the two losses agree to the tolerance."""
    seq, _ = transformers_loss("sequence", batch, init_std=0.02, reduce_loss=True)
    tok, _ = transformers_loss("token", batch, init_std=0.02, reduce_loss=True)
    assert abs(seq.item() - tok.item()) < 1e-4


def test_marginalize_equals_transformers(one_thread, batch):
    from transformers import RagTokenForGeneration

    torch.manual_seed(0)
    model = RagTokenForGeneration(tiny_rag_config()).eval()
    context, mask, scores, labels = batch
    with torch.no_grad():
        out = model(context_input_ids=context, context_attention_mask=mask, doc_scores=scores,
                    decoder_input_ids=labels, do_marginalize=True)
        logits = model.rag.generator(input_ids=context, attention_mask=mask,
                                     decoder_input_ids=labels.repeat_interleave(N_DOCS, 0)).logits
    ours = marginalize(logits, scores, N_DOCS)
    # the mixture is far from any single document's distribution (else a wrong mixture could pass)
    per_doc = logits.log_softmax(-1).view(B, N_DOCS, T, V)
    assert all((ours - per_doc[:, z]).abs().max() > 0.1 for z in range(N_DOCS))
    torch.testing.assert_close(ours, out.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.exp().sum(-1), torch.ones(B, T))


def two_documents():
    """Two documents, p(z|x) = 3/4 and 1/4; target tokens [0, 1] (then a pad, id 9) over V = 2.

    Document A gives each target token probability 1/2; document B gives 0.8 then 0.6.
    """
    probs = torch.tensor([[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]],
                          [[0.8, 0.2], [0.4, 0.6], [0.9, 0.1]]])
    return probs.log(), torch.tensor([[math.log(3.0), 0.0]]), torch.tensor([[0, 1, 9]])


def test_two_documents_by_hand():
    logits, scores, target = two_documents()
    # RAG-Sequence: 3/4 * (1/2 * 1/2) + 1/4 * (0.8 * 0.6) = 0.1875 + 0.12 = 0.3075
    seq = rag_sequence_nll(logits, scores, target, pad_token_id=9)
    assert seq.item() == pytest.approx(-math.log(0.3075), abs=1e-6)
    assert seq.item() == pytest.approx(1.179280, abs=1e-6)
    # RAG-Token: (3/4 * 1/2 + 1/4 * 0.8) * (3/4 * 1/2 + 1/4 * 0.6) = 0.575 * 0.525 = 0.301875
    tok = rag_token_nll(logits, scores, target, pad_token_id=9)
    assert tok.item() == pytest.approx(-math.log(0.301875), abs=1e-6)
    # label smoothing, epsilon = 0.1, V = 2: 0.9 * nll - 0.05 * sum_t sum_v log q_t(v)
    smooth = math.log(0.575) + math.log(0.425) + math.log(0.525) + math.log(0.475)
    tok_ls = rag_token_nll(logits, scores, target, pad_token_id=9, epsilon=0.1)
    assert tok_ls.item() == pytest.approx(0.9 * -math.log(0.301875) - 0.05 * smooth, abs=1e-6)
    # the mixture at each step: [0.575, 0.425] then [0.475, 0.525]
    torch.testing.assert_close(marginalize(logits, scores).exp()[0, :2],
                               torch.tensor([[0.575, 0.425], [0.475, 0.525]]))
    # the per-document sequence scores RAG-Sequence decoding uses
    torch.testing.assert_close(token_log_likelihoods(logits, target.repeat(2, 1), 9).exp(), torch.tensor([0.25, 0.48]))


def test_one_document_reduces_to_the_generator_likelihood():
    logits, _, target = two_documents()
    one = rag_sequence_nll(logits[1:], torch.zeros(1, 1), target, pad_token_id=9)
    assert one.item() == pytest.approx(-math.log(0.48), abs=1e-6)
    assert rag_token_nll(logits[1:], torch.zeros(1, 1), target, pad_token_id=9).item() == pytest.approx(one.item())


def test_single_token_answer_keeps_the_document_prior():
    # transformers adds log p(z|x) at the second target position, which is padding here; we do not lose it
    logits, scores, _ = two_documents()
    nll = rag_sequence_nll(logits, scores, torch.tensor([[1, 9, 9]]), pad_token_id=9)
    assert nll.item() == pytest.approx(-math.log(0.75 * 0.5 + 0.25 * 0.2), abs=1e-6)


def test_ignore_index_as_pad_and_padding_is_ignored():
    logits, scores, target = two_documents()
    a = rag_sequence_nll(logits, scores, target, pad_token_id=9)
    b = rag_sequence_nll(logits, scores, torch.tensor([[0, 1, -100]]), pad_token_id=-100)
    c = rag_sequence_nll(logits[:, :2], scores, target[:, :2], pad_token_id=9)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


def test_doc_scores_and_gradient_reaches_query_encoder_only():
    torch.manual_seed(0)
    query_encoder = torch.nn.Linear(8, 4)
    docs = torch.randn(2, N_DOCS, 4, requires_grad=False)  # frozen document vectors
    q = query_encoder(torch.randn(2, 8))
    scores = doc_scores(q, docs)
    torch.testing.assert_close(scores, torch.einsum("bh,bkh->bk", q, docs))
    torch.testing.assert_close(doc_log_probs(q, docs), torch.log_softmax(scores, -1))
    logits = torch.randn(2 * N_DOCS, 4, 5)
    rag_sequence_nll(logits, scores, torch.randint(0, 5, (2, 4)), pad_token_id=-100).backward()
    assert query_encoder.weight.grad is not None and query_encoder.weight.grad.abs().sum() > 0
    assert docs.grad is None


def test_shifts():
    labels = torch.tensor([[2, 0, 5, 6]])
    assert shift_left(labels, 1).tolist() == [[0, 5, 6, 1]]
    assert shift_right(torch.tensor([[5, -100]]), 2, pad_token_id=1).tolist() == [[2, 5]]


def test_errors_are_clear():
    logits, scores, target = two_documents()
    with pytest.raises(ValueError, match="B \\* n_docs = 3"):
        rag_sequence_nll(logits, torch.zeros(1, 3), target, 9)
    with pytest.raises(ValueError, match="target has batch size 2 but doc_scores has 1"):
        rag_token_nll(logits, scores, target.repeat(2, 1), 9)
    with pytest.raises(ValueError, match="target has 2 positions but seq_logits has 3"):
        rag_sequence_nll(logits, scores, target[:, :2], 9)
    with pytest.raises(ValueError, match=r"target ids must lie in \[0, 2\)"):
        rag_sequence_nll(logits, scores, torch.tensor([[0, 5, 9]]), 9)
    with pytest.raises(ValueError, match="n_docs=3 but doc_scores has 2"):
        marginalize(logits, scores, n_docs=3)
    with pytest.raises(ValueError, match="epsilon must be in"):
        rag_token_nll(logits, scores, target, 9, epsilon=1.0)
    with pytest.raises(ValueError, match=r"seq_logits must be \[B \* n_docs, T, V\]"):
        rag_token_nll(logits[0], scores, target, 9)
    with pytest.raises(ValueError, match="disagree"):
        doc_scores(torch.zeros(2, 4), torch.zeros(2, 3, 5))
