"""The tolerant notebook comparison (tests/nbval_numbers.py): words exact, numbers within tolerances.

Three levels: the text comparison on hand cases; the plugin end to end under pytest + nbval on a tiny
notebook; and the book's own notebooks, whose first cells re-executed with a library function broken
must fail the comparison, and re-executed as another machine would (one thread, no bfloat16) pass.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.nbval_numbers import (Token, compare_cell, compare_text, default_sanitizer, derive_tolerances,
                                 load_tolerances, measure_spread, split_numbers)

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


# ---------------------------------------------------------------- splitting and comparing text

def test_split_numbers_keeps_words_and_takes_signed_decimals():
    skeleton, numbers = split_numbers("TREC  acc 90.67 ± 0.95, k1=1.5 PQ48 top-2 −0.3 [+0.011, 15%] 1e-05 10x")
    assert [t.text for t in numbers] == ["90.67", "0.95", "1.5", "2", "−0.3", "+0.011", "15", "1e-05"]
    assert numbers[4].value == -0.3 and numbers[7].value == 1e-05
    assert "PQ48" in skeleton and "10x" in skeleton and "k1=" in skeleton
    assert "  " not in skeleton  # runs of spaces collapse: column padding is not text


@pytest.mark.parametrize("text, quantum", [("90.67", 0.01), ("3", 0.0), ("0.5", 0.1), ("1.25e-03", 1e-05)])
def test_token_quantum_is_one_unit_in_the_last_printed_digit(text, quantum):
    assert Token(text, float(text)).quantum == pytest.approx(quantum)


def test_equal_text_passes_without_tolerances():
    assert compare_text("acc 90.67", "acc 90.67") == []


def test_numbers_without_a_tolerance_must_be_equal():
    problems = compare_text("acc 90.67", "acc 90.66")
    assert len(problems) == 1 and "tolerance 0" in problems[0]


def test_a_number_within_its_tolerance_passes_and_one_beyond_fails():
    tol = {"n": 2, "abs": {"1": 0.05}}
    assert compare_text("n 300 acc 90.67", "n 300 acc 90.71", tol) == []
    assert compare_text("n 300 acc 90.67", "n 300 acc 90.73", tol)  # 0.06 > 0.05
    assert compare_text("n 300 acc 90.67", "n 301 acc 90.67", tol)  # the count has no tolerance


def test_a_changed_word_fails_even_with_every_number_equal():
    tol = {"n": 1, "abs": {"0": 10.0}}
    problems = compare_text("worst partner: cr (90.67)", "worst partner: subj (90.67)", tol)
    assert problems and "text differs" in problems[0]


def test_column_padding_is_not_a_difference():
    ref = "method   acc\nsingle  9.50\nshared  10.25\n"
    test = "method   acc\nsingle   9.52\nshared   10.24\n"
    assert compare_text(ref, test, {"n": 2, "abs": {"0": 0.05, "1": 0.05}}) == []


def test_stale_tolerances_fall_back_to_exact_and_say_so():
    problems = compare_text("a 1.00 b 2.00", "a 1.01 b 2.00", {"n": 3, "abs": {"0": 0.5}})
    assert problems and "measured on 3 numbers" in problems[0]


def test_compare_cell_checks_fields_and_output_counts():
    out = [{"output_type": "stream", "name": "stdout", "text": "acc 1.0\n"}]
    err = [{"output_type": "stream", "name": "stderr", "text": "acc 1.0\n"}]
    assert compare_cell(out, out, {}) == []
    assert "output fields differ" in compare_cell(out, err, {})[0]
    assert "outputs" in compare_cell(out, out + out, {})[0]


def test_a_table_is_compared_by_its_html_not_its_wrapped_text():
    ref = [{"output_type": "execute_result", "data": {"text/html": "<td>90.67</td>", "text/plain": "a \\\n90.67"}}]
    test = [{"output_type": "execute_result", "data": {"text/html": "<td>90.67</td>", "text/plain": "a b \\\n90.67"}}]
    assert compare_cell(ref, test, {}) == []
    test[0]["data"]["text/html"] = "<td>90.68</td>"
    assert compare_cell(ref, test, {})


# ---------------------------------------------------------------- measuring spread, deriving tolerances

def _stream(text):
    return [{"output_type": "stream", "name": "stdout", "text": text}]


def test_measure_spread_and_derive_tolerances_by_hand():
    stored = {"c1": _stream("acc 90.67 over 300 items\n"), "c2": _stream("best: marginal\n")}
    runs = {"a": {"c1": _stream("acc 90.61 over 300 items\n"), "c2": _stream("best: marginal\n")},
            "b": {"c1": _stream("acc 90.70 over 300 items\n"), "c2": _stream("best: bilinear\n")}}
    spread, findings = measure_spread(stored, runs, sanitize=lambda s: s)
    dev = spread["c1"]["stdout:0"]["dev"]
    assert dev["a"] == pytest.approx([0.06, 0.0]) and dev["b"] == pytest.approx([0.03, 0.0])
    assert len(findings) == 1 and "c2" in findings[0] and "bilinear" in findings[0]  # a chosen name moved
    tol = derive_tolerances({"nb.ipynb": spread})["notebooks"]["nb.ipynb"]["c1"]["stdout:0"]
    assert tol == {"n": 2, "abs": {"0": pytest.approx(0.12)}}  # 2 x the largest deviation; the count exact


def test_a_verdict_that_flipped_under_a_perturbation_is_declared_and_accepted_only_there():
    stored = {"c": _stream("lora - query: +1.2 [+0.2, +2.2] (better)\n"), "d": _stream("worst: cr\n"),
              "e": _stream("gap +0.5 [+0.1, +0.9] (better)\n")}
    runs = {"a": {"c": _stream("lora - query: +0.9 [-0.1, +1.9] (no measurable difference)\n"),
                  "d": _stream("worst: subj\n"), "e": _stream("gap -0.5 [-0.9, -0.1] (worse)\n")}}
    spread, findings = measure_spread(stored, runs, sanitize=lambda s: s)
    assert len(findings) == 3  # all three are reported
    tol = derive_tolerances({"n": spread})["notebooks"]["n"]
    assert tol["c"]["stdout:0"]["words"] == [("(better)", "(no measurable difference)")]
    assert "e" not in tol or "words" not in tol["e"]["stdout:0"]  # better <-> worse: never tolerated
    assert compare_text("lora - query: +1.2 [+0.2, +2.2] (better)",
                        "lora - query: +0.9 [-0.1, +1.9] (no measurable difference)", tol["c"]["stdout:0"]) == []
    assert compare_text("lora - query: +1.2 [+0.2, +2.2] (better)",
                        "lora - query: +1.2 [+0.2, +2.2] (worse)", tol["c"]["stdout:0"])
    # only the measured change, in place: another phrase in the same output stays exact
    two = {"n": 0, "abs": {}, "words": [["(better)", "(no measurable difference)"]]}
    assert compare_text("a (better) b (no measurable difference)", "a (no measurable difference) b (no measurable difference)", two) == []
    assert compare_text("a (better) b (no measurable difference)", "a (better) b (better)", two)


def test_a_decimal_next_to_a_moving_number_gets_one_printed_unit():
    stored = {"c": _stream("x 0.50 y 0.25\n")}
    spread, _ = measure_spread(stored, {"a": {"c": _stream("x 0.50 y 0.2501\n")}}, sanitize=lambda s: s)
    # (0.2501 is parsed as printed; the stored 0.25 moved by 1e-4)
    tol = derive_tolerances({"n": spread})["notebooks"]["n"]["c"]["stdout:0"]["abs"]
    assert tol == {"0": 0.01, "1": 0.01}


# ---------------------------------------------------------------- the declared tolerances are current

def _book_notebooks():
    return sorted(p for p in BOOK.glob("*.ipynb") if p.name != "costs.ipynb")


def test_every_stored_number_has_current_tolerances():
    """tests/nbval_tolerances.json covers every stored output that holds a number, with the same count:
    a notebook edited without re-measuring (benchmarks/nbval_spread.py) fails here, not on a reader's machine."""
    table = load_tolerances()["notebooks"]
    sanitize = default_sanitizer()
    from benchmarks.nbval_spread import text_outputs
    from tests.nbval_numbers import flatten

    stale = []
    for path in _book_notebooks():
        for cell_id, outputs in text_outputs(nbformat.read(path, as_version=4)).items():
            for key, values in flatten(outputs, sanitize).items():
                for j, value in enumerate(values):
                    n = len(split_numbers(value)[1]) if isinstance(value, str) else 0
                    entry = table.get(path.name, {}).get(cell_id, {}).get(f"{key}:{j}")
                    if n and (entry is None or entry["n"] != n):
                        stale.append(f"{path.name} cell {cell_id} {key}:{j}")
    assert not stale, f"{len(stale)} outputs without current tolerances, e.g. {stale[:5]}"


def test_the_measured_perturbed_runs_pass_the_comparison():
    """Every run in benchmarks/results/nbval_runs/ (other machines, simulated) passes against the stored
    outputs with the declared tolerances, text included: what a reader's `make test` does."""
    table = load_tolerances()
    sanitize = default_sanitizer()
    runs = sorted((ROOT / "benchmarks" / "results" / "nbval_runs").glob("*/*.json"))
    assert runs, "no measured runs (benchmarks/nbval_spread.py run ...)"
    from benchmarks.nbval_spread import text_outputs

    problems = []
    for run in runs:
        stored = text_outputs(nbformat.read(BOOK / f"{run.stem}.ipynb", as_version=4))
        cells = json.loads(run.read_text())["cells"]
        for cell_id, outputs in stored.items():
            tol = table["notebooks"].get(f"{run.stem}.ipynb", {}).get(cell_id, {})
            problems += [f"{run.parent.name}/{run.stem} {cell_id}: {p}"
                         for p in compare_cell(outputs, cells.get(cell_id, []), tol, sanitize)]
    assert not problems, "\n".join(problems[:10])


# ---------------------------------------------------------------- the plugin, end to end under pytest

def _tiny_notebook(path: Path, code: str, stored_text: str) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(code)
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored_text)]
    nb.cells = [cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _nbval(tmp_path, nb: Path, tolerances: dict, *extra: str) -> subprocess.CompletedProcess:
    tol_file = tmp_path / "tol.json"
    tol_file.write_text(json.dumps({"notebooks": {nb.name: tolerances}}))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.nbval_numbers",
           "--nbval", "--nbval-current-env", f"--nbval-tolerances={tol_file}", *extra, str(nb)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    nb = tmp / "tiny.ipynb"
    _tiny_notebook(nb, 'print("accuracy 0.5010 on 300 items")', "accuracy 0.5012 on 300 items\n")
    cell_id = nbformat.read(nb, as_version=4).cells[0]["id"]
    return tmp, nb, cell_id


def test_plugin_passes_a_number_within_its_tolerance(tiny):
    tmp, nb, cell_id = tiny
    done = _nbval(tmp, nb, {cell_id: {"stdout:0": {"n": 2, "abs": {"0": 0.001}}}})
    assert done.returncode == 0, done.stdout[-2000:]


def test_plugin_fails_beyond_the_tolerance_and_in_strict_mode(tiny):
    tmp, nb, cell_id = tiny
    tight = _nbval(tmp, nb, {cell_id: {"stdout:0": {"n": 2, "abs": {"0": 0.0001}}}})
    assert tight.returncode != 0 and "tolerance 0.0001" in tight.stdout
    strict = _nbval(tmp, nb, {cell_id: {"stdout:0": {"n": 2, "abs": {"0": 0.001}}}}, "--nbval-strict")
    assert strict.returncode != 0


def test_plugin_fails_a_changed_word(tmp_path):
    nb = tmp_path / "word.ipynb"
    _tiny_notebook(nb, 'print("accuracy 0.5012 on 300 items")', "accuracy 0.5012 on 300 questions\n")
    cell_id = nbformat.read(nb, as_version=4).cells[0]["id"]
    done = _nbval(tmp_path, nb, {cell_id: {"stdout:0": {"n": 2, "abs": {"0": 1.0}}}})
    assert done.returncode != 0 and "text differs" in done.stdout


# ---------------------------------------------------------------- the book's notebooks, with the library broken

BREAKS = {
    # RAG-Sequence and RAG-Token swapped: each other's nearest sibling (chapter rag, cell "RAG-Sequence p(y|x)")
    "rag": ("import ragmtl.rag as _r\n_r.rag_sequence_nll, _r.rag_token_nll = _r.rag_token_nll, _r.rag_sequence_nll\n",
            ["8560318a", "f63c6d80"]),
    # the attention's softmax taken over the batch axis instead of the documents (chapter fusion)
    "fusion": ("import ragmtl.fusion.bilinear as _b\n_ms = _b.masked_softmax\n"
               "_b.masked_softmax = lambda scores, mask, dim=-1: _ms(scores, mask, dim=0)\n",
               ["d0c9e9ad", "633d6220"]),
}


def _run_cells(notebook: str, cell_ids: list[str], setup: str, env: dict, tmp_path) -> dict[str, list]:
    """Execute ``setup`` then the given cells of a book notebook in a fresh kernel; {cell id: outputs}."""
    from nbclient import NotebookClient

    from benchmarks.nbval_spread import text_outputs

    stored = nbformat.read(BOOK / f"{notebook}.ipynb", as_version=4)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(setup)] + [c for c in stored.cells if c.get("id") in cell_ids]
    assert len(nb.cells) == len(cell_ids) + 1, f"cells {cell_ids} not all in {notebook}"
    old = dict(os.environ)
    os.environ.update(env, RAGMTL_CACHE=str(tmp_path / "cache"))
    try:
        # allow_errors: a cell that raises (an assertion against a reference, say) leaves an error output,
        # which fails the comparison as nbval would fail it
        NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(BOOK)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return {cid: outs for cid, outs in text_outputs(nb).items() if cid in cell_ids}


@pytest.mark.parametrize("notebook", sorted(BREAKS))
def test_book_cells_fail_with_a_broken_library_and_pass_as_another_machine(notebook, tmp_path):
    setup, cell_ids = BREAKS[notebook]
    table = load_tolerances()["notebooks"][f"{notebook}.ipynb"]
    sanitize = default_sanitizer()
    from benchmarks.nbval_spread import text_outputs

    stored = text_outputs(nbformat.read(BOOK / f"{notebook}.ipynb", as_version=4))

    def problems(outputs):
        return [p for cid in cell_ids for p in compare_cell(stored[cid], outputs[cid], table.get(cid, {}), sanitize)]

    other_machine = _run_cells(notebook, cell_ids, "pass", {"OMP_NUM_THREADS": "1", "RAGMTL_BF16": "0"}, tmp_path)
    assert problems(other_machine) == []
    broken = _run_cells(notebook, cell_ids, setup, {}, tmp_path)
    assert problems(broken), f"{notebook}: a broken library went unnoticed"


def test_spread_report_flags_an_estimate_that_moved_more_than_half_its_interval():
    from benchmarks.nbval_spread import interval_check, printed_intervals

    stored = {"c": _stream("acc 90.0 [89.0, 91.0] and 50.0 [40.0, 60.0]\n")}
    run = {"a": {"c": _stream("acc 91.5 [90.5, 92.5] and 51.0 [41.0, 61.0]\n")}}
    spread, _ = measure_spread(stored, run, sanitize=lambda s: s)
    wide = printed_intervals(spread, "nb.ipynb")
    assert [w["printed"] for w in wide] == [["90.0", "89.0", "91.0"]]  # moved 1.5 > half-width 1.0; 1.0 < 10
    glued = {"x": {"value": "1.0", "dev": 0.6}, "x_ci_low": {"value": "0.0", "dev": 0.1},
             "x_ci_high": {"value": "1.0", "dev": 0.1}, "y": {"value": "1.0", "dev": 0.4},
             "y_ci_low": {"value": "0.0", "dev": 0.0}, "y_ci_high": {"value": "2.0", "dev": 0.0}}
    assert [w["name"] for w in interval_check(glued)] == ["x"]
