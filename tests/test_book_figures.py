"""No uncomputed figures in the book's prose.

Every result a chapter states must be glued from the cell that computed it ({glue:text}`name`).
This test scans the markdown of every notebook and page for figures typed by hand: decimals,
percentages, signed numbers and integers next to a metric word, outside maths, code, citations,
roles and links. Constants that are not results of this book (a confidence level, a dataset's
version, a published reference figure) are allowed only through ALLOWED, each with its reason.
"""
import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"

# (regex matched against the stripped prose, reason). Published figures must name their citation.
ALLOWED = [
    (r"\b95 ?%", "the confidence level of every interval in the book"),
    (r"\bSQuAD ?(v)?2\.0\b", "the dataset's name (Rajpurkar et al., 2018)"),
    (r"\bv2\.0\b", "the SQuAD evaluation script's version"),
    (r"\bPython 3\.\d+\+?", "the Python version the README requires"),
    (r"\bJupyter Book v1\b", "the tool's version"),
    # Published reference figures, each with its citation in the sentence that quotes it.
    (r"\bpublished 0\.665\b", "BM25's SciFact nDCG@10 in BEIR (Thakur et al., 2021)"),
    (r"\b0\.4 GLUE points\b|\b3\.6 ?% of the param", "adapters vs fine-tuning on GLUE (Houlsby et al., 2019)"),
    (r"\bEM above 80 on SQuAD 1\.1\b", "extractive readers on SQuAD 1.1 (Rajpurkar et al., 2016; Devlin et al., 2019)"),
    (r"\b90 ?% of MR per fold\b", "Kim (2014)'s cross-validation protocol"),
    # Settings the code sets and constants of the maths, not results.
    (r"\btemperature 0\.\d+\b|\bdropout of 0\.\d+\b", "a setting passed to the code in the same chapter"),
    (r"\bbetween 0\.9 and 1\.2\b", "the usual range of BM25's k1 (Robertson & Zaragoza, 2009)"),
    (r"\bcosine 0\.999\b", "the tolerance a unit test asserts"),
    (r"\bgive 0\.125\b", "uniform attention over eight passages, 1/8"),
    (r"\bMRR is 0\b", "the definition of MRR"),
]

_STRIP = [
    r"```.*?```",                      # fenced code and directives written with backticks
    r"\$\$.*?\$\$", r"\$[^$\n]+\$",    # display and inline maths
    r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}",
    r"\{[\w:.-]+\}`[^`]*`",            # roles: {glue:text}`x:.1f`, {cite:p}`key`, {doc}`x`, {numref}`x`
    r"``[^`]*``", r"`[^`]*`",          # inline code
    r"\]\([^)]*\)",                    # link targets
    r"<!--.*?-->",                     # comments
    r"^\s*:\w[\w-]*:.*$",              # directive options (:label: x, :class: y)
    r"^\(\w[\w-]*\)=\s*$",             # labels
    r"^:{3,}\{[^}]*\}.*$",             # directive openers with arguments
]

_FIGURES = [
    ("decimal", r"(?<![\w.])\d+\.\d+(?![\w.]*\d)"),
    ("percentage", r"(?<![\w.])\d+(?:\.\d+)? ?%"),
    ("signed number", r"(?:(?<=\s)|(?<=\()|^)[+\u2212\u00b1]\d|(?:(?<=\s)|(?<=\())-\d"),
    ("metric and integer", r"\b(?:EM|F1|accuracy|nDCG(?:@\d+)?|recall(?:@\d+)?|MRR|MSE|BLEU|chrF|ROUGE(?:-L)?"
                           r"|exact match)(?: of| at| is| was| =)? \d+\b(?!-(?:way|shot))"),
    ("points", r"\b\d+ (?:percentage )?points?\b"),
]


def prose_of(text: str) -> str:
    for pattern in _STRIP:
        text = re.sub(pattern, " ", text, flags=re.S | re.M)
    for pattern, _ in ALLOWED:
        text = re.sub(pattern, " ", text)
    return text


def figures_in(text: str) -> list[tuple[str, str]]:
    """(kind, context) for every hand-typed figure in markdown ``text``."""
    prose = prose_of(text)
    found = []
    for kind, pattern in _FIGURES:
        for m in re.finditer(pattern, prose, flags=re.M):
            lo, hi = max(0, m.start() - 30), m.end() + 30
            found.append((kind, " ".join(prose[lo:hi].split())))
    return found


def markdown_sources() -> list[tuple[str, str]]:
    out = []
    for nb_path in sorted(BOOK.glob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "markdown":
                out.append((f"{nb_path.name} cell {i}", "".join(cell["source"])))
    for md in sorted(BOOK.glob("*.md")):
        out.append((md.name, md.read_text()))
    return out


@pytest.mark.parametrize("where,text", [pytest.param(w, t, id=w) for w, t in markdown_sources()])
def test_no_hand_typed_figures(where, text):
    found = figures_in(text)
    assert not found, f"{where}: figures typed by hand (glue them from the cell that computes them): {found}"


@pytest.mark.parametrize("text,kind", [
    ("the reader reaches EM 24 on unseen articles", "metric and integer"),
    ("hybrid beats BM25 by 0.035 nDCG", "decimal"),
    ("about 15% faster", "percentage"),
    ("+3 EM without dropout", "signed number"),
    ("dense recall@1 is about 15 points lower", "points"),
    ("accuracy of 90 on TREC", "metric and integer"),
])
def test_scanner_catches_typed_figures(text, kind):
    assert kind in [k for k, _ in figures_in(text)]


@pytest.mark.parametrize("text", [
    "hybrid beats BM25 by {glue:text}`scifact_hybrid_minus_bm25:.3f` nDCG",
    "the loss is $\\mathcal{L} = 0.5 \\lVert x \\rVert^2$ here",
    "we call `BM25Config(k1=1.2, b=0.75)` with {cite:p}`robertson2009bm25`",
    "a 95% interval over 5-way 1-shot episodes on SQuAD 2.0 with 300 queries and k = 5",
    "```python\nacc = 0.93\n```",
    "Table 3 lists 2 layers; CLINC150 and BANKING77 and all-MiniLM-L6-v2; see [x](https://a.b/1.2)",
])
def test_scanner_passes_glue_maths_code_and_settings(text):
    assert figures_in(text) == []
