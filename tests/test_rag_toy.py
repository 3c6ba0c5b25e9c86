"""The RAG toy experiment, tiny: training through the generator's loss beats the untrained model."""
import pytest

from ragmtl.rag.toy import ToyConfig, build_toy_data, run_toy

TINY = dict(n_intents=30, doc_utterances=2, train_per_intent=15, test_per_intent=5, n_docs=3, batch_size=16,
            lr_query=3e-3, frozen_retriever=False)


def test_toy_data_is_disjoint_and_labelled():
    data = build_toy_data(ToyConfig(**TINY))
    assert len(data.titles) == len(data.texts) == 30 and data.titles[0] == "accept reservations"
    assert len(data.train_questions) == 30 * 15 and len(data.test_questions) == 30 * 5
    documents = {u for text in data.texts for u in text.split(" ; ")}
    assert not documents & set(data.train_questions)  # queries are not copied from the documents
    assert sorted(set(data.train_ids.tolist())) == list(range(30))


def test_training_beats_untrained_model_and_closed_book(one_thread, encoder_fp32):
    result = run_toy(ToyConfig(steps=40, **TINY), encoder=encoder_fp32)
    before, after = result.before, result.after
    assert before["em_rag_sequence"] < 0.1 and before["em_rag_token"] < 0.1  # an untrained generator
    assert after["em_rag_sequence"] > 0.75 and after["em_rag_token"] > 0.75
    # the generator's loss alone (no retrieval labels) moved the query encoder towards the gold documents
    assert after["recall@1"] > before["recall@1"] + 0.02
    assert after["em_rag_sequence"] > result.closed_book_em + 0.3
    assert sum(result.losses[-5:]) < 0.2 * sum(result.losses[:5])
    # per-question 0/1 values (for paired intervals) agree with the reported fractions
    for name in ("before", "after"):
        for key, value in getattr(result, name).items():
            items = result.items[name][key]
            assert items.shape == (result.n_test,) and set(items.tolist()) <= {0.0, 1.0}
            assert items.mean() == pytest.approx(value)
    assert result.items["closed_book"]["em"].mean() == pytest.approx(result.closed_book_em)


def test_same_seed_same_numbers(one_thread, encoder_fp32):
    config = ToyConfig(**{**TINY, "n_intents": 10, "test_per_intent": 2}, steps=8, marginalization="token",
                       closed_book=False)
    a, b = run_toy(config, encoder=encoder_fp32), run_toy(config, encoder=encoder_fp32)
    assert a.losses == b.losses and a.after == b.after
    with pytest.raises(ValueError, match="100 training and 30 test utterances"):
        ToyConfig(train_per_intent=99)
