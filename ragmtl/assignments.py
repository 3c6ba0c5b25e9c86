"""Course assignments: build the otter-grader views of ``assignments/*.ipynb`` and grade submissions.

The grader is otter-grader (``otter assign`` builds, ``otter run`` grades); this module only runs it
once per master notebook and once per submission, in a child process with a time limit, and
collects the scores into one CSV row per submission and question. ``otter run`` grades in the
current Python environment, so no Docker is needed.

    python -m ragmtl.assignments build [--out _build/assignments] [--no-run-tests]
    python -m ragmtl.assignments grade SUBMISSIONS/ [--out _build/assignments] [--csv grades.csv]
                                      [--timeout 120] [--jobs 1]

``build`` writes ``student/<name>.ipynb`` (no solutions, public tests only), ``autograder/<name>.zip``
(all tests), ``solution/<name>.ipynb`` and ``questions.json`` (name, points and grading mode of
every question). ``grade`` grades every file under SUBMISSIONS (recursively); a file that is not a
notebook, names no known assignment, or runs past ``timeout`` seconds is reported in its rows and
does not stop the others.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

__all__ = ["SOURCE", "CSV_FIELDS", "questions", "build", "grade", "grade_one"]

SOURCE = Path(__file__).resolve().parents[1] / "assignments"
CSV_FIELDS = ["submission", "assignment", "question", "points", "max_points", "status", "detail"]


def questions(master: Path) -> list[dict]:
    """The questions of a master notebook, in order: ``[{"name", "points", "manual"}]``.

    Read from its ``# BEGIN QUESTION`` raw cells (otter-assign format); raises ``ValueError`` when a
    question has no name or the notebook has none."""
    found = []
    for cell in json.loads(Path(master).read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "raw" and source.lstrip().startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(source.partition("\n")[2]) or {}
            if "name" not in config:
                raise ValueError(f"{master}: a '# BEGIN QUESTION' cell has no name: {source!r}")
            found.append({"name": str(config["name"]), "points": float(config.get("points", 1)),
                          "manual": bool(config.get("manual", False))})
    if not found:
        raise ValueError(f"{master} holds no '# BEGIN QUESTION' cell: is it an otter-assign master notebook?")
    return found


def build(out: Path, source: Path = SOURCE, names: list[str] | None = None, run_tests: bool = True) -> dict:
    """Run ``otter assign`` on every master notebook (or those in ``names``) into ``out``.

    With ``run_tests`` otter also grades each solution notebook and fails if a test does not pass.
    Returns the question index written to ``out/questions.json``. Raises ``ValueError`` for an
    unknown name and ``RuntimeError`` when otter assign fails."""
    from otter.assign import main as otter_assign

    masters = {p.stem: p for p in sorted(Path(source).glob("*.ipynb"))}
    unknown = sorted(set(names or []) - set(masters))
    if unknown:
        raise ValueError(f"unknown assignments {unknown}; known: {sorted(masters)}")
    out = Path(out).resolve()
    index = {}
    for name in names or sorted(masters):
        work = Path(tempfile.mkdtemp(prefix=f"otter-{name}-"))
        try:
            try:
                otter_assign(str(masters[name]), str(work / name), no_pdfs=True, no_run_tests=not run_tests)
            except BaseException as exc:  # otter raises AssertionError/ValueError/SystemExit on bad masters
                raise RuntimeError(f"otter assign failed on {masters[name]}: {exc!r}") from exc
            zips = sorted((work / name / "autograder").glob("*.zip"))
            for kind, src, dest in [("student", work / name / "student" / f"{name}.ipynb", f"{name}.ipynb"),
                                    ("solution", work / name / "autograder" / f"{name}.ipynb", f"{name}.ipynb"),
                                    ("autograder", zips[-1] if zips else None, f"{name}.zip")]:
                if src is None or not src.exists():
                    raise RuntimeError(f"otter assign wrote no {kind} file for {name} in {work / name}")
                (out / kind).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, out / kind / dest)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        index[name] = questions(masters[name])
    known = json.loads((out / "questions.json").read_text()) if (out / "questions.json").exists() else {}
    known.update(index)
    (out / "questions.json").write_text(json.dumps(known, indent=1) + "\n")
    return index


def _cell_errors(notebook) -> list[str]:
    """'cell `first line` raised Error: message' for every code cell of an executed notebook that raised."""
    errors = []
    for cell in notebook.cells if notebook is not None else []:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                first = next((line for line in cell.source.splitlines() if line.strip()), "")[:60]
                errors.append(f"cell `{first}` raised {output.get('ename')}: {str(output.get('evalue'))[:200]}")
    return errors


def _worker(autograder: str, submission: str, result: str) -> None:
    """Child process: grade one submission with ``otter run`` and write a JSON summary to ``result``."""
    from otter.run import main as otter_run

    summary = {"scores": {}, "failures": {}, "errors": []}
    try:
        results = otter_run(submission, autograder=autograder, output_dir=None, no_logo=True)
        if results.has_catastrophic_failure():
            summary["fatal"] = f"otter could not grade it: {results.catastrophic_error!r}"[:400]
        for name, test_file in results.results.items():
            summary["scores"][name] = [float(test_file.score), float(test_file.possible)]
            failed = [r for r in test_file.test_case_results if not r.passed]
            messages = [(r.message or "").strip().splitlines()[-1] for r in test_file.test_case_results
                        if not r.passed and (r.message or "").strip()]
            if failed:
                summary["failures"][name] = (f"failed {len(failed)} of {len(test_file.test_case_results)} tests"
                                             + (f" ({messages[0][:200]})" if messages else ""))
        summary["errors"] += _cell_errors(results.notebook)
    except BaseException as exc:  # otter's own validation (e.g. a notebook for another assignment)
        summary["fatal"] = f"otter could not grade it: {type(exc).__name__}: {exc}"[:400]
    Path(result).write_text(json.dumps(summary))


def _run_worker(autograder: Path, submission: Path, name: str, timeout: float) -> dict:
    """Run :func:`_worker` in its own process group; kill the group (kernel included) at ``timeout``."""
    with tempfile.TemporaryDirectory(prefix="otter-run-") as tmp:
        result = Path(tmp) / "result.json"
        # a private copy named as distributed (its first cell opens "<name>.ipynb"); the original stays untouched
        # and run by this environment's python3 kernel, whatever kernel the student's Jupyter named
        local = Path(tmp) / "submission" / f"{name}.ipynb"
        local.parent.mkdir()
        notebook = json.loads(submission.read_text(encoding="utf-8"))
        notebook.setdefault("metadata", {})["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                                              "language": "python"}
        local.write_text(json.dumps(notebook), encoding="utf-8")
        cmd = [sys.executable, "-m", "ragmtl.assignments", "_worker", str(autograder), str(local), str(result)]
        proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return {"timeout": f"execution ran past the {timeout:g} s limit (an endless loop?); not graded"}
        if not result.exists():
            tail = (stderr or "").strip().splitlines()[-1:] or ["no output"]
            return {"crash": f"the grading process exited with status {proc.returncode}: {tail[0][:300]}"}
        return json.loads(result.read_text())


def _assignment_of(path: Path, known: dict) -> tuple[str | None, str | None]:
    """(assignment name, None) of a submission, or (name or None, reason it cannot be graded)."""
    guess = next((name for name in sorted(known, key=len, reverse=True) if name in path.stem), None)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return guess, f"not a notebook: the file is not valid JSON ({exc})"
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return guess, "not a notebook: the JSON has no list of cells"
    name = notebook.get("metadata", {}).get("otter", {}).get("assignment_name") or guess
    if name not in known:
        return None, (f"names no known assignment (metadata says {name!r}); expected one of {sorted(known)}")
    return name, None


def grade_one(path: Path, submission: str, out: Path, known: dict, timeout: float) -> list[dict]:
    """The CSV rows of one submission file: one per question of its assignment."""
    name, problem = _assignment_of(path, known)
    if name is None:
        return [dict(submission=submission, assignment="", question="", points=0, max_points="",
                     status="error", detail=problem)]
    summary = {} if problem else _run_worker(out / "autograder" / f"{name}.zip", path, name, timeout)
    problem = problem or summary.get("timeout") or summary.get("crash") or summary.get("fatal")
    rows = []
    for q in known[name]:
        row = dict(submission=submission, assignment=name, question=q["name"], max_points=q["points"])
        if q["manual"] and problem:
            rows.append({**row, "points": "", "status": "error", "detail": problem})
        elif q["manual"]:
            rows.append({**row, "points": "", "status": "manual", "detail": "graded by hand"})
        elif problem:
            rows.append({**row, "points": 0, "status": "error", "detail": problem})
        else:
            score, _ = summary["scores"].get(q["name"], (0.0, q["points"]))
            detail = "; ".join(filter(None, [summary["failures"].get(q["name"]), *summary["errors"]]))
            rows.append({**row, "points": score, "status": "graded", "detail": detail})
    return rows


def grade(submissions: Path, out: Path, csv_path: Path | None = None, timeout: float = 120,
          jobs: int = 1) -> list[dict]:
    """Grade every file under ``submissions`` with the autograders in ``out``; write and return the rows.

    ``jobs`` submissions are graded at a time, each in its own process (one kernel each).
    Raises ``FileNotFoundError`` when the assignments have not been built (``make assignments``)."""
    out, submissions = Path(out).resolve(), Path(submissions).resolve()  # the workers run elsewhere
    if not (out / "questions.json").exists():
        raise FileNotFoundError(f"no built assignments in {out}: run `make assignments` first")
    if not submissions.is_dir():
        raise FileNotFoundError(f"submissions folder {submissions} does not exist")
    known = json.loads((out / "questions.json").read_text())
    files = sorted(p for p in submissions.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(submissions).parts))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # threads only wait on child processes
        graded = pool.map(lambda p: grade_one(p, str(p.relative_to(submissions)), out, known, timeout), files)
        rows = [row for rows_of_one in graded for row in rows_of_one]
    csv_path = Path(csv_path) if csv_path else out / "grades.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ragmtl.assignments", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="otter assign every master notebook in assignments/")
    b.add_argument("names", nargs="*", help="assignments to build (default: all)")
    b.add_argument("--out", type=Path, default=Path("_build/assignments"))
    b.add_argument("--no-run-tests", action="store_true", help="do not grade the solutions while building")
    g = sub.add_parser("grade", help="grade every submission file under a folder into a CSV")
    g.add_argument("submissions", type=Path)
    g.add_argument("--out", type=Path, default=Path("_build/assignments"), help="where `build` wrote its output")
    g.add_argument("--csv", type=Path, default=None, help="default: OUT/grades.csv")
    g.add_argument("--timeout", type=float, default=120, help="seconds per submission (default 120)")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded at a time (default 1)")
    w = sub.add_parser("_worker")  # internal: one submission, in a child process
    w.add_argument("args", nargs=3)
    args = parser.parse_args(argv)
    if args.command == "_worker":
        _worker(*args.args)
    elif args.command == "build":
        index = build(args.out, names=args.names or None, run_tests=not args.no_run_tests)
        for name, qs in index.items():
            print(f"{name:10s} {len(qs)} questions, {sum(q['points'] for q in qs):g} points")
        print(f"written to {args.out}/{{student,autograder,solution}}")
    else:
        rows = grade(args.submissions, args.out, args.csv, args.timeout, args.jobs)
        bad = sorted({r["submission"] for r in rows if r["status"] == "error"})
        print(f"{len({r['submission'] for r in rows})} submissions graded into {args.csv or args.out / 'grades.csv'}"
              + (f"; with errors: {', '.join(bad)}" if bad else ""))


if __name__ == "__main__":
    main()
