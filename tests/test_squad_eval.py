"""SQuAD exact match and F1 on hand-computed cases (the official script's normalisation)."""
import pytest

from ragmtl.eval import exact_match, f1_score, max_over_answers, normalize_answer, squad_scores


def test_normalization_drops_case_punctuation_articles_and_spaces():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert normalize_answer("Theatre") == "theatre"  # "the" only as a whole word


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


@pytest.mark.parametrize("preds,golds", [(["a"], []), ([], []), (["a"], [[]]), (["a"], ["abc"])])
def test_bad_inputs(preds, golds):
    with pytest.raises(ValueError):
        squad_scores(preds, golds)
