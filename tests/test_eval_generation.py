"""BLEU, chrF, ROUGE-L and METEOR wrappers: equal to the libraries called directly, and hand-computed cases."""
import math

import pytest

from ragmtl.eval import GenerationScore, MeteorScore, corpus_bleu, corpus_chrf, meteor, rouge_l

PREDS = ["the cat sat on the mat", "a quick brown fox jumps over the dog", "rain is expected in the evening"]
REFS = [["the cat is sitting on the mat"], ["the quick brown fox jumped over the lazy dog"],
        ["rain is likely this evening"]]


class NoSynonyms:
    """A WordNet stand-in with no synsets: nltk's METEOR then runs its exact and stem stages only."""

    def synsets(self, word):
        return []


class _Lemma:
    def __init__(self, name):
        self._name = name

    def name(self):
        return self._name


class _Synset:
    def __init__(self, *names):
        self._lemmas = [_Lemma(n) for n in names]

    def lemmas(self):
        return self._lemmas


class TinyWordNet:
    """Two synonyms, enough to watch nltk's synonym stage match "big" to "huge".

    nltk's synonym stage sees the Porter stems left by the stem stage ("large" -> "larg"), so the
    pair is one whose stems are the words themselves.
    """

    def synsets(self, word):
        return [_Synset("big", "huge")] if word in ("big", "huge") else []


# Inputs that tell each metric from its nearest siblings: capitals and attached punctuation (13a
# tokenisation and case matter), a reordered prediction (ROUGE-L's LCS falls below ROUGE-1's
# unigram overlap), and a second corpus with no matching 4-gram (BLEU's smoothing methods differ).
PEER_PREDS = ["The cat sat on the mat.", "a quick brown fox jumps over the dog",
              "Rain is expected in the evening, they said.", "on the mat the cat sat"]
PEER_REFS = [["the cat is sitting on the mat ."], ["The quick brown fox jumped over the lazy dog."],
             ["rain is likely this evening"], ["the cat sat on the mat"]]
NO_4GRAM_PREDS, NO_4GRAM_REFS = ["the cat sat on a red mat"], [["the cat sat quietly on a mat"]]


def _assert_far(peer: float, siblings: dict, gap: float = 0.5):
    """Every sibling's score is more than ``gap`` points from the peer's (pytest.approx's tolerance
    is 1e-6 relative), so swapping the function for that sibling fails the equality below."""
    for name, score in siblings.items():
        assert abs(score - peer) > gap, f"sibling {name!r} scores {score:.4f}, the peer {peer:.4f}: indistinguishable"


def test_bleu_and_chrf_equal_sacrebleu():
    import sacrebleu
    from sacrebleu.metrics import BLEU, CHRF

    streams = [[r[0] for r in PEER_REFS]]
    peer = sacrebleu.corpus_bleu(PEER_PREDS, streams).score
    sentence_mean = sum(sacrebleu.sentence_bleu(p, [r[0]]).score for p, r in zip(PEER_PREDS, PEER_REFS)) / 4
    _assert_far(peer, {"tokenize none": BLEU(tokenize="none").corpus_score(PEER_PREDS, streams).score,
                       "tokenize char": BLEU(tokenize="char").corpus_score(PEER_PREDS, streams).score,
                       "lowercase": BLEU(lowercase=True).corpus_score(PEER_PREDS, streams).score,
                       "add-k smoothing": BLEU(smooth_method="add-k").corpus_score(PEER_PREDS, streams).score,
                       "mean of sentence BLEU": sentence_mean,
                       "chrF": sacrebleu.corpus_chrf(PEER_PREDS, streams).score})
    bleu = corpus_bleu(PEER_PREDS, PEER_REFS)
    assert isinstance(bleu, GenerationScore) and bleu.name == "BLEU"
    assert bleu.score == pytest.approx(peer)
    assert "tok:13a" in bleu.signature and "nrefs:1" in bleu.signature
    # no matching 4-gram in the corpus: exp smoothing, floor smoothing and none give three scores
    short = [[NO_4GRAM_REFS[0][0]]]
    peer_short = sacrebleu.corpus_bleu(NO_4GRAM_PREDS, short).score
    _assert_far(peer_short, {m: BLEU(smooth_method=m).corpus_score(NO_4GRAM_PREDS, short).score
                             for m in ("none", "floor", "add-k")})
    assert corpus_bleu(NO_4GRAM_PREDS, NO_4GRAM_REFS).score == pytest.approx(peer_short)

    peer_chrf = sacrebleu.corpus_chrf(PEER_PREDS, streams).score
    _assert_far(peer_chrf, {"chrF++": CHRF(word_order=2).corpus_score(PEER_PREDS, streams).score,
                            "char_order 4": CHRF(char_order=4).corpus_score(PEER_PREDS, streams).score,
                            "lowercase": CHRF(lowercase=True).corpus_score(PEER_PREDS, streams).score,
                            "whitespace": CHRF(whitespace=True).corpus_score(PEER_PREDS, streams).score,
                            "BLEU": peer})
    _assert_far(peer_chrf, {"beta 1": CHRF(beta=1).corpus_score(PEER_PREDS, streams).score}, gap=0.1)
    assert corpus_chrf(PEER_PREDS, PEER_REFS).score == pytest.approx(peer_chrf)
    chrf_pp = corpus_chrf(PEER_PREDS, PEER_REFS, word_order=2)
    assert chrf_pp.name == "chrF++"
    assert chrf_pp.score == pytest.approx(sacrebleu.corpus_chrf(PEER_PREDS, streams, word_order=2).score)
    # a variable number of references becomes padded reference streams
    refs = [PEER_REFS[0] + ["a cat sat on a mat"], *PEER_REFS[1:]]
    streams = [[r[0] for r in refs], ["a cat sat on a mat", None, None, None]]
    assert corpus_bleu(PEER_PREDS, refs).score == pytest.approx(sacrebleu.corpus_bleu(PEER_PREDS, streams).score)
    assert corpus_chrf(PEER_PREDS, refs).score == pytest.approx(sacrebleu.corpus_chrf(PEER_PREDS, streams).score)


def test_bleu_and_chrf_hand_computed():
    assert corpus_bleu(["the cat sat on the mat"], [["the cat sat on the mat"]]).score == pytest.approx(100.0)
    # every n-gram of the prediction is in the reference (p_n = 1), 6 tokens against 7:
    # brevity penalty exp(1 - 7/6), so BLEU = 100 exp(-1/6)
    short = corpus_bleu(["the cat sat on the mat"], [["the cat sat on the mat today"]])
    assert short.score == pytest.approx(100 * math.exp(-1 / 6))
    assert corpus_chrf(["the cat"], [["the cat"]]).score == pytest.approx(100.0)
    assert corpus_chrf(["xyz"], [["abc"]]).score == 0.0  # no shared character


def test_rouge_l_equals_rouge_score():
    from rouge_score.rouge_scorer import RougeScorer

    def direct(key, stem, field="fmeasure"):
        scorer = RougeScorer([key], use_stemmer=stem)
        return 100 * sum(getattr(scorer.score(r[0], p)[key], field) for p, r in zip(PEER_PREDS, PEER_REFS)) / 4

    for stem in (False, True):
        peer = direct("rougeL", stem)
        _assert_far(peer, {"ROUGE-1": direct("rouge1", stem), "ROUGE-2": direct("rouge2", stem),
                           "precision": direct("rougeL", stem, "precision"),
                           "recall": direct("rougeL", stem, "recall"), "other stemming": direct("rougeL", not stem)})
        assert rouge_l(PEER_PREDS, PEER_REFS, use_stemmer=stem).score == pytest.approx(peer)
    refs = [REFS[0] + ["the cat sat on a mat"], REFS[1], REFS[2]]  # the second reference is the better one
    scores = [RougeScorer(["rougeL"]).score(r, PREDS[0])["rougeL"].fmeasure for r in refs[0]]
    assert scores[1] - scores[0] > 0.05  # keeping the first reference, or averaging, would fail
    assert rouge_l(PREDS[:1], refs[:1]).score == pytest.approx(100 * max(scores))


def test_rouge_l_hand_computed():
    # LCS("the cat on the mat", "the cat sat on the red mat") = "the cat on the mat" = 5 tokens:
    # P = 5/5, R = 5/7, F = 2 P R / (P + R) = 5/6
    plain = rouge_l(["the cat on the mat"], [["the cat sat on the red mat"]])
    assert plain.name == "ROUGE-L" and plain.score == pytest.approx(100 * 5 / 6)
    # no token in common unless stemmed: cats -> cat, running -> run, runs -> run
    assert rouge_l(["cats running"], [["cat runs"]]).score == 0.0
    stemmed = rouge_l(["cats running"], [["cat runs"]], use_stemmer=True)
    assert stemmed.name == "ROUGE-L (stemmed)" and stemmed.score == pytest.approx(100.0)
    assert "stem:yes" in stemmed.signature


def test_meteor_equals_nltk_without_synonyms():
    from nltk.tokenize import wordpunct_tokenize
    from nltk.translate.meteor_score import meteor_score

    direct = [meteor_score([wordpunct_tokenize(r.lower()) for r in refs], wordpunct_tokenize(p.lower()),
                           wordnet=NoSynonyms()) for p, refs in zip(PREDS, REFS)]
    assert meteor(PREDS, REFS).score == pytest.approx(100 * sum(direct) / len(direct))


def test_meteor_hand_computed():
    # four exact matches in one chunk: 1 - 0.5 (1/4)^3
    assert meteor(["the cat sat down"], [["The cat sat down"]]).score == pytest.approx(100 * (1 - 0.5 / 64))
    # "cats" matches "cat" in the stem stage: 3 matches, 1 chunk, score 1 - 0.5 (1/3)^3 = 1 - 1/54
    assert meteor(["the cats sat"], [["the cat sat"]]).score == pytest.approx(100 * (1 - 1 / 54))
    # "big"/"huge" without synonyms: m = 2 of 3, P = R = F_mean = 2/3, 2 chunks, penalty 0.5 (2/2)^3
    assert meteor(["the big dog"], [["the huge dog"]]).score == pytest.approx(100 / 3)
    # with the synonym stage: 3 matches in 1 chunk, as for "cats"/"cat"
    assert meteor(["the big dog"], [["the huge dog"]], wordnet=TinyWordNet()).score == pytest.approx(100 * (1 - 1 / 54))


def test_meteor_reports_its_modules():
    default = meteor(PREDS, REFS)
    assert isinstance(default, MeteorScore)
    assert default.modules == ("exact", "stem")
    assert default.name == "METEOR (exact+stem)"
    assert "modules:exact+stem|" in default.signature
    with_synonyms = meteor(PREDS, REFS, wordnet=TinyWordNet())
    assert with_synonyms.modules == ("exact", "stem", "synonym")
    assert with_synonyms.name == "METEOR (exact+stem+synonym)"
    with pytest.raises(ValueError, match="synsets"):
        meteor(PREDS, REFS, wordnet="wordnet")


@pytest.mark.parametrize("preds,refs,match", [
    (["a b"], [], "1 predictions for 0 reference lists"),
    ([], [], "no predictions"),
    (["a b"], ["a b"], "wrap a single reference"),
    (["a b"], [[]], "non-empty list of str"),
    ([["a", "b"]], [["a b"]], "expected str"),
    ("a b", [["a b"]], "not a single str"),
])
def test_generation_bad_inputs(preds, refs, match):
    for metric in (corpus_bleu, corpus_chrf, rouge_l, meteor):
        with pytest.raises(ValueError, match=match):
            metric(preds, refs)


def test_bad_options():
    with pytest.raises(ValueError, match="word_order"):
        corpus_chrf(PREDS, REFS, word_order=3)
    with pytest.raises(ValueError, match="alpha"):
        meteor(PREDS, REFS, alpha=1.5)
