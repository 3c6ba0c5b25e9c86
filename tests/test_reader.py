"""Passage chunking, the extractive reader and answer scoring over retrieved passages."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ragmtl.rag.chunks import chunk_paragraphs, locate_answer, sentence_spans
from ragmtl.rag.qa import answer_scores, best_answers, build_open_book_qa, passage_log_prior
from ragmtl.rag.reader import (ReaderConfig, ReaderExample, SpanReader, answer_token_span, encode_pairs,
                               reader_logits, train_reader)


def words(text: str) -> int:
    return len(text.split())


def para(pid: int, text: str):
    return SimpleNamespace(paragraph_id=pid, article="A", context=text)


def test_sentence_spans_cover_the_text():
    text = 'One two. "Three four?" Five! Six'
    spans = sentence_spans(text)
    assert [text[s:e].strip() for s, e in spans] == ["One two.", '"Three four?"', "Five!", "Six"]
    assert spans[0][0] == 0 and spans[-1][1] == len(text)


def test_chunks_respect_the_budget_and_never_cut_an_answer():
    text = "a b c. d e f. g h i. j k l."
    chunks = chunk_paragraphs([para(0, text)], words, max_tokens=6)
    assert [c.text for c in chunks] == ["a b c. d e f.", "g h i. j k l."]
    assert all(words(c.text) <= 6 for c in chunks)
    # an answer running over the cut between "f." and "g" keeps those sentences together
    answer = (text.index("e f"), text.index("h") + 1)
    chunks = chunk_paragraphs([para(0, text)], words, max_tokens=6, answer_spans={0: [answer]})
    chunk, offset = locate_answer(chunks, answer[0], text[answer[0]:answer[1]])
    assert chunk.text[offset:offset + answer[1] - answer[0]] == "e f. g h"
    assert chunks[0].start == 0 and text[chunks[1].start:].startswith(chunks[1].text)


def test_chunk_errors():
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_paragraphs([para(0, "x.")], words, max_tokens=0)
    chunks = chunk_paragraphs([para(0, "a b. c d.")], words, max_tokens=2)
    with pytest.raises(ValueError, match="no chunk holds"):
        locate_answer(chunks, 0, "a b. c")


@pytest.fixture(scope="module")
def tokenizer():
    from ragmtl.encoders import load_minilm

    return load_minilm()[0]


def test_answer_token_span_maps_characters_to_tokens(tokenizer):
    passage = "The steam engine was improved by James Watt in 1769."
    feats = encode_pairs(tokenizer, ["Who improved it?"], [passage])
    start = passage.index("James Watt")
    s, e = answer_token_span(feats["offsets"][0], start, start + len("James Watt"))
    ids = feats["input_ids"][0][s:e + 1]
    assert tokenizer.decode(ids) == "james watt"
    assert all(feats["context_mask"][0][t] == 1 for t in range(s, e + 1))
    assert feats["context_mask"][0][1] == 0  # a question token
    assert answer_token_span(feats["offsets"][0], 10_000, 10_005) is None


def test_encode_pairs_rejects_mismatched_lists(tokenizer):
    with pytest.raises(ValueError, match="2 questions but 1 passages"):
        encode_pairs(tokenizer, ["q1", "q2"], ["p"])


def test_passage_prior_is_a_log_softmax():
    prior = passage_log_prior(np.array([[2.0, 0.0, 0.0]]), temperature=2.0)
    expected = np.log(np.exp([1.0, 0.0, 0.0]) / np.exp([1.0, 0.0, 0.0]).sum())
    np.testing.assert_allclose(prior[0], expected)
    with pytest.raises(ValueError, match="temperature"):
        passage_log_prior(np.zeros((1, 2)), temperature=0)


def test_answer_scores_marginalise_over_passages_by_hand():
    # two passages of two tokens each; offsets None marks the one non-passage token ([CLS])
    offsets = [[None, (0, 3), (4, 7)], [None, (0, 3), (4, 7)]]
    passages = ["cat dog", "cat owl"]
    zero = np.zeros(3)
    logits = [(zero, zero), (zero, zero)]  # uniform: each of the 4 (start, end) pairs has p = 1/4
    prior = np.log([0.75, 0.25])
    scores = answer_scores(logits, offsets, passages, prior, normalization="per_passage")
    # spans with start <= end: "cat", "dog", "cat dog" in passage 1; "cat", "owl", "cat owl" in 2
    assert np.exp(scores["cat"][0]) == pytest.approx(0.75 * 0.25 + 0.25 * 0.25)
    assert np.exp(scores["dog"][0]) == pytest.approx(0.75 * 0.25)
    assert np.exp(scores["cat owl"][0]) == pytest.approx(0.25 * 0.25)
    shared = answer_scores(logits, offsets, passages, prior, normalization="shared")
    # shared: start and end each uniform over the 4 passage tokens -> a span of one passage 1/16
    assert np.exp(shared["dog"][0]) == pytest.approx(0.75 / 16)
    assert best_answers([logits], [offsets], [passages], prior[None]) == ["cat"]
    with pytest.raises(ValueError, match="normalization"):
        answer_scores(logits, offsets, passages, prior, normalization="global")
    with pytest.raises(ValueError, match="k=2"):
        answer_scores(logits, offsets, passages[:1], prior)


def test_open_book_split_is_by_article(shared_data, tokenizer):
    from ragmtl.data import load_squad2

    qa = build_open_book_qa(load_squad2(), lambda t: len(tokenizer.tokenize(t)))
    arts = [{q.article for q in split} for split in (qa.train, qa.validation, qa.test)]
    assert not (arts[0] & arts[1]) and not (arts[0] & arts[2]) and not (arts[1] & arts[2])
    assert len(qa.test) == 726 and len(qa.train) + len(qa.validation) == 2184
    for q in qa.test[:50] + qa.train[:50]:
        chunk = qa.chunks[q.gold_chunk]
        assert chunk.text[q.answer_start:].startswith(q.answers[0])
    with pytest.raises(ValueError, match="unknown articles"):
        build_open_book_qa(load_squad2(), len, test_articles=("Atlantis",))


@pytest.fixture(scope="module")
def pointing(tokenizer):
    """A tiny random BERT trained for a few seconds to point at the word after 'is'."""
    from transformers import BertConfig, BertModel

    rng = np.random.default_rng(0)
    vocab = ["red", "blue", "green", "cat", "dog", "owl", "sun", "moon", "tree", "rock"]
    examples = []
    for _ in range(256):
        w = list(rng.choice(vocab, size=6))
        answer = str(rng.choice(vocab))
        pos = int(rng.integers(0, 6))
        passage = " ".join(w[:pos] + ["is", answer] + w[pos:])
        start = len(" ".join(w[:pos] + ["is"])) + 1
        examples.append(ReaderExample("what is it?", passage, start, answer))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    reader = SpanReader(BertModel(config))
    cfg = ReaderConfig(steps=150, batch_size=32, lr=3e-3, head_lr=3e-3, warmup_steps=10, bf16=False,
                       freeze_word_embeddings=False, show_progress=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        losses = train_reader(reader, tokenizer, examples[:192], cfg)
    finally:
        torch.set_num_threads(threads)
    return reader, losses, examples


def test_reader_learns_a_pointing_task(pointing, tokenizer):
    reader, losses, examples = pointing
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    test = examples[192:]
    feats = encode_pairs(tokenizer, [e.question for e in test], [e.passage for e in test])
    logits = reader_logits(reader, feats, bf16=False)
    preds = best_answers([[lg] for lg in logits], [[o] for o in feats["offsets"]], [[e.passage] for e in test],
                         np.zeros((len(test), 1)))
    accuracy = np.mean([p == e.answer_text for p, e in zip(preds, test)])
    assert accuracy > 0.5  # chance of picking the right one of ~8 words is about 0.12


def test_reader_config_rejects_zero_steps():
    with pytest.raises(ValueError, match="steps"):
        ReaderConfig(steps=0)


def test_read_passages_marginalises_and_reads_gold_once(pointing, tokenizer):
    from ragmtl.rag.chunks import Chunk
    from ragmtl.rag.qa import QAItem, ReadPassages, predict, predict_oracle, read_passages

    reader, _, examples = pointing
    test = examples[192:212]
    # corpus: each test passage once; question i retrieves a random distractor first, then its own
    chunks = [Chunk(i, i, "A", 0, e.passage) for i, e in enumerate(test)]
    items = [QAItem(str(i), e.question, (e.answer_text,), "A", i, e.answer_start) for i, e in enumerate(test)]
    ids = np.array([[(i + 1) % len(test), i] for i in range(len(test))])
    scores = np.array([[1.0, 0.0]] * len(test))
    read = read_passages(reader, tokenizer, items, chunks, ids, scores)
    oracle = predict_oracle(read)
    assert np.allclose(read.gold[3][0][0], read.logits[3][1][0])  # the gold chunk is the 2nd retrieved
    top1 = predict(read, k=1)
    top2 = predict(read, k=2, temperature=1e3)  # a flat prior: the reader decides between the two
    acc = lambda preds: np.mean([p == e.answer_text for p, e in zip(preds, test)])  # noqa: E731
    assert acc(top1) < 0.3 < acc(oracle)  # top-1 reads only the distractor
    assert acc(top2) > acc(top1)
    with pytest.raises(ValueError, match="k must be"):
        predict(read, k=3)
    # the likelihood of the gold answers is what answer_scores gives them, and rises with the gold chunk read
    from ragmtl.rag.qa import answer_scores, gold_log_likelihood, passage_log_prior

    golds = [(e.answer_text,) for e in test]
    prior = passage_log_prior(scores[:1, :2], 1.0)[0]
    first = answer_scores(read.logits[0], read.offsets[0], read.passages[0], prior)
    expected0 = max(first.get(test[0].answer_text, (-20.0,))[0], -20.0)
    single = ReadPassages(read.ids[:1], read.scores[:1], read.logits[:1], read.offsets[:1], read.passages[:1],
                          read.gold[:1])
    assert gold_log_likelihood(single, golds[:1], k=2) == pytest.approx(expected0)
    assert gold_log_likelihood(read, golds, k=2, temperature=1e3) > gold_log_likelihood(read, golds, k=1)
    with pytest.raises(ValueError, match="gold answer lists"):
        gold_log_likelihood(read, golds[:3], k=1)
    with pytest.raises(ValueError, match="must both be"):
        read_passages(reader, tokenizer, items, chunks, ids[:5], scores[:5])
    short = ids.copy()
    short[4, 1] = -1  # what a sparse retriever returns for a query with no indexed term
    with pytest.raises(ValueError, match="1 questions retrieved fewer than 2 chunks"):
        read_passages(reader, tokenizer, items, chunks, short, scores)


def test_random_article_chunks_stay_in_the_article_and_avoid_the_gold_chunk():
    from ragmtl.rag.baselines import random_article_chunks
    from ragmtl.rag.chunks import Chunk
    from ragmtl.rag.qa import QAItem

    chunks = [Chunk(i, i, art, 0, f"text {i}") for i, art in enumerate("AAABBC")]
    items = [QAItem(str(n), "q", ("a",), art, gold, 0) for n, (art, gold) in enumerate([("A", 0), ("B", 3)] * 50)]
    drawn = random_article_chunks(items, chunks, seed=0)
    assert set(drawn[::2].tolist()) == {1, 2} and set(drawn[1::2].tolist()) == {4}  # same article, never gold
    assert (drawn == random_article_chunks(items, chunks, seed=0)).all()
    assert not (drawn == random_article_chunks(items, chunks, seed=1)).all()
    with pytest.raises(ValueError, match="has no chunk besides its gold chunk"):
        random_article_chunks([QAItem("x", "q", ("a",), "C", 5, 0)], chunks)


def test_read_one_passage_answers_from_the_given_passage(pointing, tokenizer):
    from ragmtl.rag.baselines import read_one_passage

    reader, _, examples = pointing
    test = examples[192:]
    preds = read_one_passage(reader, tokenizer, [e.question for e in test], [e.passage for e in test])
    assert np.mean([p == e.answer_text for p, e in zip(preds, test)]) > 0.5
    assert all(p in e.passage for p, e in zip(preds, test))
    # the question as its own passage: any answer is a span of the question
    alone = read_one_passage(reader, tokenizer, [e.question for e in test[:8]], [e.question for e in test[:8]])
    assert all(a in e.question for a, e in zip(alone, test))
    with pytest.raises(ValueError, match="2 questions but 1 passages"):
        read_one_passage(reader, tokenizer, ["q", "q"], ["p"])
