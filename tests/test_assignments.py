"""Course assignments (ragmtl.assignments on otter-grader): build, grade, hidden tests, malformed input.

One build of every assignment and one grading run over a folder that holds, per assignment, its
solution, its unmodified student notebook and a solution with one deliberate bug, plus malformed
submissions; the tests read the rows of that run.
"""
import csv
import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from ragmtl import assignments

CHAPTERS = ["data", "retrieval", "rag", "fusion", "mtl", "maml", "adapters", "ragmtl"]

# One plausible bug per assignment: (question it must cost, exact solution text, the bug).
BUGS = {
    "data": ("q2", "stop = n if i == len(fractions) - 1 else start + int(round(frac * n))",
             "stop = start + int(round(frac * n))"),  # the last part does not take the remainder
    "retrieval": ("q1", "idf = np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5))",
                  "idf = np.log((n_docs - doc_freq + 0.5) / (doc_freq + 0.5))"),  # Okapi idf, not Lucene's
    "rag": ("q2", "torch.log_softmax(doc_scores, dim=-1)[:, :, None]",
            "doc_scores[:, :, None]"),  # raw scores used as log p(z|x)
    "fusion": ("q2", "alpha = torch.softmax(scores, dim=-1)",
               "alpha = torch.softmax(scores.unsqueeze(-1), dim=-1).squeeze(-1)"),  # the article's size-1 axis
    "mtl": ("q2", "if dot < 0:", "if dot != 0:"),  # projects gradients that do not conflict
    "maml": ("q1", "create_graph=True", "create_graph=False"),  # first-order by accident
    "adapters": ("q1", "(x @ self.lora_A.T) @ self.lora_B.T * self.scaling",
                 "(x @ self.lora_A.T) @ self.lora_B.T * self.scaling * self.r"),  # alpha instead of alpha / r
    "ragmtl": ("q1", "total += sign * 100.0 * (multi_task[t] - base) / abs(base)",
               "total += sign * 100.0 * (multi_task[t] - base) / base"),  # sign flips on negative baselines
}


def _replace_in_code(notebook: dict, old: str, new: str) -> dict:
    """The notebook with ``old`` replaced by ``new`` in exactly one code cell (fails otherwise)."""
    hits = [c for c in notebook["cells"] if c["cell_type"] == "code" and old in "".join(c["source"])]
    assert len(hits) == 1, f"{old!r} found in {len(hits)} code cells, expected exactly one"
    hits[0]["source"] = "".join(hits[0]["source"]).replace(old, new)
    return notebook


def _with_cell(notebook: dict, source: str, position: int = 1) -> dict:
    cell = {"cell_type": "code", "execution_count": None, "id": "inserted", "metadata": {}, "outputs": [],
            "source": source}
    notebook["cells"].insert(position, cell)
    return notebook


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("assignments")
    assignments.build(out, run_tests=False)  # the solutions are graded below instead
    return out


@pytest.fixture(scope="session")
def graded(built, tmp_path_factory) -> dict:
    subs = tmp_path_factory.mktemp("submissions")
    for name in CHAPTERS:
        solution = json.loads((built / "solution" / f"{name}.ipynb").read_text())
        (subs / f"{name}_solution.ipynb").write_text(json.dumps(solution))
        (subs / f"{name}_student.ipynb").write_bytes((built / "student" / f"{name}.ipynb").read_bytes())
        _, old, new = BUGS[name]
        (subs / f"{name}_bug.ipynb").write_text(json.dumps(_replace_in_code(solution, old, new)))
    fusion = (built / "solution" / "fusion.ipynb").read_text()
    (subs / "broken_fusion.ipynb").write_text(fusion[: len(fusion) // 2])  # truncated: not JSON
    (subs / "raises_fusion.ipynb").write_text(json.dumps(_with_cell(json.loads(fusion), "raise RuntimeError('boom')")))
    (subs / "loop_fusion.ipynb").write_text(json.dumps(_with_cell(json.loads(fusion),
                                                                  "import time\nwhile True:\n    time.sleep(0.5)")))
    other = json.loads(fusion)
    other["metadata"]["otter"]["assignment_name"] = "homework9"
    (subs / "mystery.ipynb").write_text(json.dumps(other))
    csv_path = subs.parent / f"{subs.name}.csv"
    here = os.getcwd()
    os.chdir(built.parent)  # relative paths, as `make grade` passes them
    try:
        rows = assignments.grade(Path(subs.name), Path(built.name), Path(csv_path.name), timeout=120, jobs=2)
    finally:
        os.chdir(here)
    with open(csv_path, newline="") as f:
        from_csv = list(csv.DictReader(f))
    by_submission = {}
    for row in from_csv:
        by_submission.setdefault(row["submission"], {})[row["question"]] = row
    return {"rows": rows, "csv": from_csv, "by": by_submission}


def test_one_assignment_per_chapter_with_written_questions():
    masters = sorted(p.stem for p in assignments.SOURCE.glob("*.ipynb"))
    assert masters == sorted(CHAPTERS)
    for name in masters:
        qs = assignments.questions(assignments.SOURCE / f"{name}.ipynb")
        assert sum(not q["manual"] for q in qs) >= 2 and sum(q["manual"] for q in qs) >= 1, name
        assert len({q["name"] for q in qs}) == len(qs), f"{name}: question names repeat"


def test_questions_of_a_notebook_without_questions(tmp_path):
    path = tmp_path / "plain.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": "# hi", "metadata": {}}]}))
    with pytest.raises(ValueError, match="no '# BEGIN QUESTION'"):
        assignments.questions(path)


def test_build_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="unknown assignments"):
        assignments.build(tmp_path, names=["nope"], run_tests=False)


@pytest.mark.slow
def test_build_writes_every_view(built):
    index = json.loads((built / "questions.json").read_text())
    assert sorted(index) == sorted(CHAPTERS)
    for name in CHAPTERS:
        for path in (built / "student" / f"{name}.ipynb", built / "solution" / f"{name}.ipynb",
                     built / "autograder" / f"{name}.zip"):
            assert path.is_file(), path
        with zipfile.ZipFile(built / "autograder" / f"{name}.zip") as zf:
            tests = sorted(n for n in zf.namelist() if n.startswith("tests/"))
        autograded = [q["name"] for q in index[name] if not q["manual"]]
        assert tests == [f"tests/{q}.py" for q in autograded], name


def _hidden_tests(zip_path: Path) -> list[str]:
    """The source of every hidden test function in an autograder zip."""
    found = []
    with zipfile.ZipFile(zip_path) as zf:
        for file in (n for n in zf.namelist() if n.startswith("tests/")):
            text = zf.read(file).decode()
            for block in text.split("@test_case(")[1:]:
                if re.match(r"[^)]*hidden=True", block):
                    found.append(block.split("\n", 1)[1])
    return found


def _student_text(path: Path) -> tuple[str, dict]:
    """Every cell's source and every public test of a student notebook, decoded, and the public tests."""
    notebook = json.loads(path.read_text())
    public = notebook["metadata"]["otter"]["tests"]
    return "\n".join(["".join(c["source"]) for c in notebook["cells"]] + list(public.values())), public


@pytest.mark.slow
def test_hidden_tests_and_solutions_never_reach_students(built):
    for name in CHAPTERS:
        student, public = _student_text(built / "student" / f"{name}.ipynb")
        hidden = _hidden_tests(built / "autograder" / f"{name}.zip")
        assert len(hidden) >= 2, f"{name}: expected hidden tests in the autograder"
        for body in hidden:
            signature = body.split("\n", 1)[0]  # "def test_against_library(...):"
            assert signature.startswith("def test_") and signature not in student, f"{name}: {signature} leaked"
            assert not any(line.strip() in student for line in body.splitlines()[1:] if len(line.strip()) > 40
                           and "import" not in line), f"{name}: a line of {signature} leaked"
        # the public tests are there, so the checks above would see a leak if there were one
        assert public and "def test_" in student and "hidden=True" not in student, name
        master = json.loads((assignments.SOURCE / f"{name}.ipynb").read_text())
        cells = ["".join(c["source"]) for c in master["cells"]]
        blocks = [body for prev, cell in zip(cells, cells[1:]) if prev.strip() == "# BEGIN SOLUTION"
                  for body in (re.findall(r"# BEGIN SOLUTION(.*?)# END SOLUTION", cell, re.S) or [cell])]
        assert len(blocks) >= 3, f"{name}: expected code and written solutions"
        solution = "\n".join("".join(c["source"]) for c in json.loads(
            (built / "solution" / f"{name}.ipynb").read_text())["cells"])
        for body in blocks:
            lines = [line.strip() for line in body.splitlines() if len(line.strip()) > 25]
            assert lines and all(line in solution for line in lines), f"{name}: the check cannot see the solution"
            assert not any(line in student for line in lines), f"{name}: a solution line leaked"


@pytest.mark.slow
def test_solutions_get_full_marks(graded):
    for name in CHAPTERS:
        rows = graded["by"][f"{name}_solution.ipynb"]
        for q, row in rows.items():
            if row["status"] == "manual":
                assert row["points"] == "", row
            else:
                assert row["status"] == "graded" and float(row["points"]) == float(row["max_points"]) > 0, row
                assert row["detail"] == "", row


@pytest.mark.slow
def test_unmodified_student_notebooks_score_zero(graded):
    for name in CHAPTERS:
        rows = graded["by"][f"{name}_student.ipynb"]
        autograded = [r for r in rows.values() if r["status"] != "manual"]
        assert len(autograded) >= 2 and all(r["status"] == "graded" and float(r["points"]) == 0 for r in autograded), rows


@pytest.mark.slow
def test_one_bug_loses_exactly_that_question(graded):
    for name, (question, _, _) in BUGS.items():
        rows = graded["by"][f"{name}_bug.ipynb"]
        for q, row in rows.items():
            if row["status"] == "manual":
                continue
            full = float(row["max_points"])
            assert float(row["points"]) == (0.0 if q == question else full), (name, q, row)
        assert "failed" in rows[question]["detail"], rows[question]


@pytest.mark.slow
def test_malformed_submissions_reported_and_others_graded(graded):
    by = graded["by"]
    broken = by["broken_fusion.ipynb"]
    assert all(r["status"] == "error" and "not valid JSON" in r["detail"] for r in broken.values())
    assert sorted(broken) == ["q1", "q2", "q3"], "the assignment is read from the file name"
    loop = by["loop_fusion.ipynb"]
    assert all(r["status"] == "error" and "120 s limit" in r["detail"] for r in loop.values()), loop
    raises = by["raises_fusion.ipynb"]
    autograded = [r for r in raises.values() if r["status"] != "manual"]
    assert all(float(r["points"]) == float(r["max_points"]) for r in autograded), "later cells still run"
    assert all("raised RuntimeError: boom" in r["detail"] for r in autograded), raises
    assert by["mystery.ipynb"][""]["status"] == "error" and "homework9" in by["mystery.ipynb"][""]["detail"]
    # every other submission was graded, and the CSV has one row per submission and question
    assert len(by) == 3 * len(CHAPTERS) + 4
    index = {name: len(assignments.questions(assignments.SOURCE / f"{name}.ipynb")) for name in CHAPTERS}
    assert len(graded["csv"]) == sum(3 * n for n in index.values()) + 3 + 3 + 3 + 1
    assert list(graded["csv"][0]) == assignments.CSV_FIELDS


def test_grade_needs_a_build(tmp_path):
    with pytest.raises(FileNotFoundError, match="make assignments"):
        assignments.grade(tmp_path, tmp_path / "nothing")


def test_instructors_page_lists_every_assignment_and_its_points():
    page = (Path(__file__).resolve().parents[1] / "book" / "instructors.md").read_text()
    for name in CHAPTERS:
        qs = assignments.questions(assignments.SOURCE / f"{name}.ipynb")
        auto = sum(q["points"] for q in qs if not q["manual"])
        manual = sum(q["points"] for q in qs if q["manual"])
        row = next((line for line in page.splitlines() if line.startswith(f"| `{name}` ")), None)
        assert row is not None, f"no table row for {name}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[-3:] == [f"{auto:g}", f"{manual:g}", f"{auto + manual:g}"], (name, cells)
