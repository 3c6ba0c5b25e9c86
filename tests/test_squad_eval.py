"""SQuAD exact match and F1: hand-computed cases, and equality with the official v2.0 evaluation script
on every question of the chapter's held-out articles (and of all answerable questions)."""
import collections
import re
import string

import numpy as np
import pytest

from ragmtl.eval import exact_match, f1_score, max_over_answers, normalize_answer, squad_scores
from ragmtl.eval.squad import official_golds, squad_per_question


# ---- the official SQuAD v2.0 evaluation script (evaluate-v2.0.py), its scoring logic as written there ----
def official_normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace."""
    def remove_articles(text):
        regex = re.compile(r'\b(a|an|the)\b', re.UNICODE)
        return re.sub(regex, ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()
    return white_space_fix(remove_articles(remove_punc(lower(s))))


def official_get_tokens(s):
    if not s:
        return []
    return official_normalize_answer(s).split()


def official_compute_exact(a_gold, a_pred):
    return int(official_normalize_answer(a_gold) == official_normalize_answer(a_pred))


def official_compute_f1(a_gold, a_pred):
    gold_toks = official_get_tokens(a_gold)
    pred_toks = official_get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        # If either is no-answer, then F1 is 1 if they agree, 0 otherwise
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def official_question_scores(answer_texts, a_pred):
    """get_raw_scores for one question: gold answers that normalise to '' are dropped; none left -> ['']."""
    gold_answers = [a for a in answer_texts if official_normalize_answer(a)]
    if not gold_answers:
        # For unanswerable questions, only correct answer is empty string
        gold_answers = ['']
    exact = max(official_compute_exact(a, a_pred) for a in gold_answers)
    f1 = max(official_compute_f1(a, a_pred) for a in gold_answers)
    return exact, f1
# ---- end of the official script's logic ----


def assert_official(predictions, golds):
    ours = squad_per_question(predictions, golds)
    ref = np.array([official_question_scores(g, p) for p, g in zip(predictions, golds)], dtype=float)
    bad = np.flatnonzero((ours["em"] != ref[:, 0]) | (np.abs(ours["f1"] - ref[:, 1]) > 1e-12))
    assert bad.size == 0, [(predictions[i], golds[i], ours["em"][i], ours["f1"][i], ref[i]) for i in bad[:5]]
    means = squad_scores(predictions, golds)
    assert means["em"] == pytest.approx(100 * ref[:, 0].mean()) and means["f1"] == pytest.approx(100 * ref[:, 1].mean())


def test_normalization_drops_case_punctuation_articles_and_spaces():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert normalize_answer("Theatre") == "theatre"  # "the" only as a whole word
    for text in ["The  Eiffel-Tower!", "A.B.C. an", "the-the the", "¿Qué?", "1,000 the  a\tb", ""]:
        assert normalize_answer(text) == official_normalize_answer(text)


def test_exact_match():
    assert exact_match("the Normans", "Normans.") == 1.0
    assert exact_match("Normans of France", "Normans") == 0.0


def test_f1_hand_computed():
    # prediction tokens {steam, engine, power}, gold {steam, power}: P = 2/3, R = 1, F1 = 0.8
    assert f1_score("steam engine power", "steam power") == pytest.approx(0.8)
    assert f1_score("x b b", "b b c") == pytest.approx(2 / 3)  # counts clip: common = 2 of 3 each
    assert f1_score("cat", "dog") == 0.0
    assert f1_score("the", "a") == 1.0  # both normalise to empty
    assert f1_score("the", "cat") == 0.0


def test_best_gold_answer_and_means():
    assert max_over_answers(f1_score, "steam power", ["coal", "steam power"]) == 1.0
    scores = squad_scores(["Denmark", "steam engine power"], [["Denmark", "Norway"], ["steam power"]])
    assert scores["em"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(90.0)


def test_gold_answers_that_normalise_to_empty_are_dropped():
    # SQuAD 2.0 has gold answers such as "." beside real ones: the official script drops them
    assert official_golds(["interventionism", ".", "interventionism"]) == ["interventionism", "interventionism"]
    assert official_golds([".", "The"]) == [""]
    assert max_over_answers(exact_match, "", ["interventionism", "."]) == 0.0  # not 1: "." is not a gold answer
    assert max_over_answers(f1_score, "a", [".", "the cat"]) == 0.0
    assert max_over_answers(exact_match, "the", [".", "!"]) == 1.0  # nothing left: gold is ""
    assert max_over_answers(f1_score, "cat", [".", "!"]) == 0.0
    golds = [["interventionism", ".", "interventionism"], [".", "the"], ["the cat", "."], ["An", "a dog"]]
    preds = ["", "", ".", "the"]
    assert squad_per_question(preds, golds)["em"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert_official(preds, golds)


HAND = [("Denmark", ["Denmark", "Norway"]), ("steam engine power", ["steam power"]), ("the the", ["a"]),
        ("", ["x"]), ("x", ["", "x"]), ("Cat, dog", ["dog cat"]), ("b b b", ["b", "b b c"]),
        ("1,000 km", ["1000 km", "1,000"]), ("  ", ["  .  "]), ("Über-Straße", ["uberstrasse", "über straße"])]


def test_hand_cases_equal_the_official_script():
    assert_official([p for p, _ in HAND], [g for _, g in HAND])


def prediction_variants(answers, question, other):
    """Predictions that exercise every branch: exact, re-cased, punctuated, partial, padded, empty, wrong."""
    first = answers[0]
    words = first.split()
    return [first, first.upper(), f"the {first}.", " ".join(words[: max(1, len(words) // 2)]),
            f"{first} and more words", words[-1] + " " + words[0], "", ".", "the", question, other]


@pytest.mark.parametrize("articles", ["held-out", "all"])
def test_every_question_equals_the_official_script(shared_data, articles):
    from ragmtl.data import load_squad2
    from ragmtl.rag.qa import TEST_ARTICLES, VALIDATION_ARTICLES

    held_out = set(TEST_ARTICLES) | set(VALIDATION_ARTICLES)
    questions = [q for q in load_squad2().questions
                 if not q.is_impossible and (articles == "all" or q.article in held_out)]
    assert len(questions) >= (822 if articles == "held-out" else 2900)  # 726 test + 96 validation questions
    preds, golds = [], []
    for n, q in enumerate(questions):
        answers = [a.text for a in q.answers]
        other = questions[(n + 1) % len(questions)].answers[0].text
        for p in prediction_variants(answers, q.text, other):
            preds.append(p)
            golds.append(answers)
    assert_official(preds, golds)
    if articles == "all":  # the dataset does hold gold answers that normalise to "" beside real ones
        assert any(any(not normalize_answer(a) for a in g) and any(normalize_answer(a) for a in g) for g in golds)


@pytest.mark.parametrize("preds,golds", [(["a"], []), ([], []), (["a"], [[]]), (["a"], ["abc"])])
def test_bad_inputs(preds, golds):
    with pytest.raises(ValueError):
        squad_scores(preds, golds)
