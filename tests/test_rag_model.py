"""RAGModel against transformers' RAG models, RAG decoding against brute force, the pointer-generator."""
import itertools

import pytest
import torch

from ragmtl.rag import (DecodingConfig, beam_search, PointerGenerator, PointerGeneratorConfig, RAGConfig, RAGModel,
                        WordTokenizer, copy_distribution, join_context, marginalize, pointer_mixture,
                        rag_sequence_generate, rag_sequence_nll, rag_token_generate, rag_token_nll,
                        token_log_likelihoods)

DOCS = ["paris is the capital of france", "berlin is the capital of germany", "rome is in italy",
        "the sky is blue", "grass is green", "snow is white"]
TITLES = ["france", "germany", "italy", "sky", "grass", "snow"]
QUESTIONS = ["capital of france ?", "what colour is grass ?"]
ANSWERS = ["paris", "green colour"]
H, N_DOCS = 8, 3


def bart(vocab_size, pad, bos, eos, start, init_std=0.02, d_model=16):
    from transformers import BartConfig, BartForConditionalGeneration

    config = BartConfig(vocab_size=vocab_size, d_model=d_model, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16,
                        max_position_embeddings=64, pad_token_id=pad, bos_token_id=bos, eos_token_id=eos,
                        decoder_start_token_id=start, forced_eos_token_id=None, init_std=init_std)
    return BartForConditionalGeneration(config).eval()


@pytest.fixture
def rag(one_thread):
    torch.manual_seed(0)
    tokenizer = WordTokenizer.from_texts(DOCS + TITLES + QUESTIONS + ANSWERS + ["/ // why"])
    t = tokenizer
    generator = bart(len(t), t.pad_token_id, t.bos_token_id, t.eos_token_id, t.bos_token_id)
    query_encoder = torch.nn.Linear(5, H)
    model = RAGModel(query_encoder, torch.randn(len(DOCS), H), DOCS, generator, tokenizer,
                     RAGConfig(n_docs=N_DOCS), doc_titles=TITLES)
    queries = torch.randn(len(QUESTIONS), 5)
    labels = tokenizer(ANSWERS)["input_ids"]  # words then </s>, padded with <pad>
    return model, queries, labels


def test_retrieval_is_exact_top_k_with_torch_scores(rag):
    model, queries, _ = rag
    doc_ids, scores = model.retrieve(queries)
    full = model.query_encoder(queries) @ model.doc_embeddings.T
    expected = full.topk(N_DOCS, dim=1)
    assert doc_ids.tolist() == expected.indices.tolist()
    torch.testing.assert_close(scores, expected.values)
    assert scores.requires_grad


@pytest.mark.parametrize("kind", ["sequence", "token"])
def test_loss_equals_transformers_rag(rag, kind):
    from transformers import RagConfig, RagSequenceForGeneration, RagTokenForGeneration
    from transformers import DPRConfig

    model, queries, labels = rag
    model.config.marginalization = kind
    out = model(queries, QUESTIONS, labels)
    ctx = model.contexts(QUESTIONS, out.doc_ids)
    config = RagConfig.from_question_encoder_generator_configs(
        DPRConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8),
        model.generator.config, n_docs=N_DOCS)
    cls = RagSequenceForGeneration if kind == "sequence" else RagTokenForGeneration
    peer = cls(config, generator=model.generator).eval()
    hf_labels = torch.cat([torch.full((2, 1), model.decoder_start_token_id), labels], 1)  # decoder inputs
    with torch.no_grad():
        hf = peer(context_input_ids=ctx["input_ids"], context_attention_mask=ctx["attention_mask"],
                  doc_scores=out.doc_scores.detach(), labels=hf_labels, reduce_loss=False)
    torch.testing.assert_close(out.nll.detach(), hf.loss, atol=1e-5, rtol=1e-5)
    assert out.loss.item() == pytest.approx(hf.loss.mean().item(), abs=1e-5)


def test_gradient_reaches_query_encoder_not_documents(rag):
    model, queries, labels = rag
    model(queries, QUESTIONS, labels).loss.backward()
    assert model.query_encoder.weight.grad.abs().sum() > 0
    assert model.generator.model.shared.weight.grad.abs().sum() > 0
    assert not model.doc_embeddings.requires_grad and model.doc_embeddings.grad is None
    assert "doc_embeddings" not in dict(model.named_parameters())


def test_generator_input_joins_document_and_question(rag):
    model, _, _ = rag
    assert join_context("text  here", "q", title='"T"') == "T / text here // q"
    assert join_context("text", "q", prefix="p: ") == "p: text // q"
    ctx = model.contexts(["why ?"], torch.tensor([[4, 0]]))
    assert model.tokenizer.batch_decode(ctx["input_ids"]) == ["grass / grass is green // why ?",
                                                              "france / paris is the capital of france // why ?"]


def test_model_errors(rag):
    model, queries, labels = rag
    gen, tok = model.generator, model.tokenizer
    with pytest.raises(ValueError, match="N = len\\(doc_texts\\) = 6"):
        RAGModel(model.query_encoder, torch.randn(5, H), DOCS, gen, tok)
    with pytest.raises(ValueError, match="n_docs=7 exceeds the 6 documents"):
        RAGModel(model.query_encoder, torch.randn(6, H), DOCS, gen, tok, RAGConfig(n_docs=7))
    with pytest.raises(ValueError, match="expected \\[B, 8\\]"):
        RAGModel(torch.nn.Linear(5, 4), torch.randn(6, H), DOCS, gen, tok)(queries, QUESTIONS, labels)
    with pytest.raises(ValueError, match="labels must be \\[B, T\\] with B = 2"):
        model(queries, QUESTIONS, labels[:1])
    with pytest.raises(ValueError, match="marginalization must be one of"):
        RAGConfig(marginalization="doc")
    with pytest.raises(ValueError, match="B \\* n_docs = 6"):
        rag_token_generate(gen, torch.zeros(5, 3, dtype=torch.long), torch.ones(5, 3), torch.zeros(2, 3),
                           DecodingConfig(2, 3, 0))
    with pytest.raises(ValueError, match="must differ"):
        DecodingConfig(2, 0, 0)


# --- decoding against brute force --------------------------------------------------------------------
PAD, BOS, EOS, V, L, B, K = 1, 0, 2, 6, 3, 2, 2


def all_answers():
    """Every answer the decoders may return: up to L tokens, never pad, EOS only last (or cut at L)."""
    tokens = [t for t in range(V) if t not in (PAD, EOS)]
    ended = [list(p) + [EOS] for n in range(L) for p in itertools.product(tokens, repeat=n)]
    return ended + [list(p) for p in itertools.product(tokens, repeat=L)]


def seq_logits(gen, ctx, mask, answers):
    """Generator logits [n * K, L, V] of every answer under each of one query's K contexts, and the targets."""
    target = torch.full((len(answers), L), PAD)
    for i, a in enumerate(answers):
        target[i, : len(a)] = torch.tensor(a)
    decoder_input = torch.cat([torch.full((len(answers), 1), EOS), target[:, :-1]], 1).repeat_interleave(K, 0)
    with torch.no_grad():
        logits = gen(input_ids=ctx.repeat(len(answers), 1), attention_mask=mask.repeat(len(answers), 1),
                     decoder_input_ids=decoder_input).logits
    return logits, target


@pytest.fixture(params=[0, 2, 7], ids=lambda s: f"seed{s}")
def decoding_case(request, one_thread):
    torch.manual_seed(request.param)
    gen = bart(V, PAD, BOS, EOS, EOS, init_std=1.0)  # large weights: peaked, varied distributions
    g = torch.Generator().manual_seed(3)
    ctx = torch.randint(3, V, (B * K, 5), generator=g)
    return gen, ctx, torch.ones_like(ctx), torch.randn(B, K, generator=g)


def greedy_by_hand(gen, ctx, mask, scores):
    """RAG-Token greedy decoding written out: argmax of the mixture, one token at a time."""
    prefix = [EOS]
    for _ in range(L):
        with torch.no_grad():
            logits = gen(input_ids=ctx, attention_mask=mask, decoder_input_ids=torch.tensor([prefix] * len(ctx))).logits
        step = marginalize(logits[:, -1:], scores)[0, 0]
        step[PAD] = float("-inf")
        prefix.append(int(step.argmax()))
        if prefix[-1] == EOS:
            break
    return prefix[1:]


def test_rag_token_decoding_matches_brute_force(decoding_case):
    gen, ctx, mask, scores = decoding_case
    greedy, _ = rag_token_generate(gen, ctx, mask, scores, DecodingConfig(EOS, EOS, PAD, max_length=L))
    beam, beam_scores = rag_token_generate(gen, ctx, mask, scores, DecodingConfig(EOS, EOS, PAD, L, num_beams=100))
    answers = all_answers()
    for b in range(B):
        rows = slice(b * K, (b + 1) * K)
        by_hand = greedy_by_hand(gen, ctx[rows], mask[rows], scores[b:b + 1])
        assert [t for t in greedy[b].tolist() if t != PAD] == by_hand
        # the beam-search loop with one beam (asked for two answers, so it does not take the greedy shortcut)
        def step(prefix):  # [1, t] -> the mixture's next-token log-probs [1, V]
            logits = gen(input_ids=ctx[rows], attention_mask=mask[rows], decoder_input_ids=prefix.repeat(K, 1)).logits
            return marginalize(logits[:, -1:], scores[b:b + 1])[:, 0]

        with torch.no_grad():
            assert beam_search(step, 1, DecodingConfig(EOS, EOS, PAD, L), num_return=2)[0][0][0] == by_hand
        logits, target = seq_logits(gen, ctx[rows], mask[rows], answers)
        log_p = -rag_token_nll(logits, scores[b:b + 1].expand(len(answers), -1), target, PAD, reduce=False)
        assert [t for t in beam[b].tolist() if t != PAD] == answers[int(log_p.argmax())]
        assert beam_scores[b].item() == pytest.approx(log_p.max().item(), abs=1e-4)


def test_rag_sequence_decoding_matches_brute_force(decoding_case):
    gen, ctx, mask, scores = decoding_case
    thorough, t_scores = rag_sequence_generate(gen, ctx, mask, scores, DecodingConfig(EOS, EOS, PAD, L, 100),
                                               thorough=True)
    fast, f_scores = rag_sequence_generate(gen, ctx, mask, scores, DecodingConfig(EOS, EOS, PAD, L, num_beams=1))
    answers = all_answers()
    for b in range(B):
        rows = slice(b * K, (b + 1) * K)
        logits, target = seq_logits(gen, ctx[rows], mask[rows], answers)
        log_p = -rag_sequence_nll(logits, scores[b:b + 1].expand(len(answers), -1), target, PAD, reduce=False)
        assert [t for t in thorough[b].tolist() if t != PAD] == answers[int(log_p.argmax())]
        assert t_scores[b].item() == pytest.approx(log_p.max().item(), abs=1e-4)
        # fast decoding: each document's greedy answer, scored only by the documents that produced it
        per_doc = [greedy_by_hand(gen, ctx[b * K + z: b * K + z + 1], mask[rows][:1], torch.zeros(1, 1))
                   for z in range(K)]
        log_pz = torch.log_softmax(scores[b], 0)
        doc_ll = token_log_likelihoods(logits, target.repeat_interleave(K, 0), PAD).view(len(answers), K)
        fast_scores = {tuple(y): torch.logsumexp(torch.stack([log_pz[z] + doc_ll[answers.index(y), z]
                                                              for z in range(K) if per_doc[z] == y]), 0).item()
                       for y in per_doc}
        best = max(fast_scores, key=fast_scores.get)
        assert [t for t in fast[b].tolist() if t != PAD] == list(best)
        assert f_scores[b].item() == pytest.approx(fast_scores[best], abs=1e-4)


def test_model_generate_runs_both_modes(rag):
    model, queries, _ = rag
    for mode in ("token", "sequence"):
        seqs, scores = model.generate(queries, QUESTIONS, mode=mode, max_length=4)
        assert seqs.shape[0] == 2 and seqs.shape[1] <= 4 and scores.shape == (2,) and (scores <= 0).all()


# --- pointer-generator -------------------------------------------------------------------------------
def test_copy_distribution_by_hand():
    attention = torch.tensor([[[0.5, 0.25, 0.25]]])
    copy = copy_distribution(attention, torch.tensor([[4, 4, 1]]), vocab_size=5)
    torch.testing.assert_close(copy, torch.tensor([[[0.0, 0.25, 0.0, 0.0, 0.75]]]))
    mixed = pointer_mixture(torch.zeros(1, 1, 5), attention, torch.tensor([[4, 4, 1]]), torch.tensor([[0.6]]))
    torch.testing.assert_close(mixed, 0.6 * torch.full((1, 1, 5), 0.2) + 0.4 * copy)
    with pytest.raises(ValueError, match="source ids must lie in \\[0, 5\\)"):
        copy_distribution(attention, torch.tensor([[4, 5, 1]]), vocab_size=5)


def test_pointer_generator_distribution_and_copying(one_thread):
    torch.manual_seed(0)
    model = PointerGenerator(PointerGeneratorConfig(vocab_size=30, embed_dim=8, hidden_dim=8))
    source = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])  # 0 = pad
    out = model(input_ids=source, attention_mask=source.ne(0).long(), decoder_input_ids=torch.tensor([[2, 5], [2, 8]]))
    torch.testing.assert_close(out.logits.exp().sum(-1), torch.ones(2, 2))
    assert out.attention[0, :, 3].abs().max() == 0 and out.attention[1, :, 2:].abs().max() == 0  # pads unread
    with torch.no_grad():  # gate shut: every bit of mass sits on the source's tokens
        model.gate.bias.fill_(-30.0)
        out = model(input_ids=source, attention_mask=source.ne(0).long(), decoder_input_ids=torch.tensor([[2], [2]]))
    probs = out.logits.exp()[:, 0]
    assert probs[0, [5, 6, 7]].sum() == pytest.approx(1.0, abs=1e-5)
    assert probs[1, [8, 9]].sum() == pytest.approx(1.0, abs=1e-5)


def test_pointer_generator_learns_to_copy(one_thread):
    """Copy the first two source tokens (random words) after 150 steps: impossible without copying."""
    torch.manual_seed(0)
    model = PointerGenerator(PointerGeneratorConfig(vocab_size=60, embed_dim=16, hidden_dim=32))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def batch(n):
        src = torch.randint(4, 60, (n, 6))
        target = torch.cat([src[:, :2], torch.full((n, 1), 3)], 1)
        return src, target, torch.cat([torch.full((n, 1), 2), target[:, :-1]], 1)

    for _ in range(150):
        src, target, dec = batch(32)
        logits = model(input_ids=src, attention_mask=torch.ones_like(src), decoder_input_ids=dec).logits
        loss = -logits.gather(-1, target.unsqueeze(-1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    src, target, dec = batch(200)
    with torch.no_grad():
        pred = model(input_ids=src, attention_mask=torch.ones_like(src), decoder_input_ids=dec).logits.argmax(-1)
    assert (pred == target).all(1).float().mean() > 0.8
