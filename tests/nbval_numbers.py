"""Compare re-executed notebooks with their stored outputs: words exact, numbers within measured tolerances.

A pytest plugin on top of nbval (``-p tests.nbval_numbers``). nbval compares each output string
after sanitising it; this plugin splits both strings into a *skeleton* (the text with every number
replaced by a placeholder and runs of spaces collapsed) and the list of numbers. The skeletons must be
equal: a changed word, column name, chosen name ("worst partner") or row order fails. Each number
must lie within the tolerance declared for it in ``tests/nbval_tolerances.json``, keyed by notebook,
cell id, output field and position; a number without a declared tolerance must be equal.

The tolerances are derived by ``benchmarks/nbval_spread.py`` from re-executions of every notebook
under perturbations that stand in for another machine (one thread; no bfloat16 and AVX2 kernels):
twice the largest deviation measured, and at least one unit in the last printed digit for a decimal
printed next to one that moved. A number that did not move under any perturbation stays exact.

``--nbval-strict`` (``make test STRICT=1``) restores nbval's exact comparison, for the machine that
has just refreshed the outputs.
"""
from __future__ import annotations

import difflib
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

# A number not glued to a word on its left ("k1", "PQ48", "x2" stay words): optional sign (ASCII or
# Unicode minus), digits with an optional fraction, optional exponent.
NUMBER = re.compile(r"(?<![\w.])[-+\u2212]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?!\w)")
SPACES = re.compile(r"[ \t]+")
PLACEHOLDER = "\u2039#\u203a"  # what a number becomes in the skeleton
SKIP_KEYS = ("metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
             "image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json")
DEFAULT_TOLERANCES = Path(__file__).with_name("nbval_tolerances.json")


@dataclass(frozen=True)
class Token:
    text: str
    value: float

    @property
    def quantum(self) -> float:
        """One unit in the last printed digit (0 for an integer)."""
        mantissa = re.split(r"[eE]", self.text)[0]
        if "." not in mantissa:
            return 0.0
        decimals = len(mantissa.split(".")[1])
        exponent = int(re.split(r"[eE]", self.text)[1]) if re.search(r"[eE]", self.text) else 0
        return 10.0 ** (exponent - decimals)


def split_numbers(text: str) -> tuple[str, list[Token]]:
    """(skeleton, numbers) of ``text``: every number replaced by a placeholder, spaces collapsed."""
    tokens = []

    def take(match: re.Match) -> str:
        raw = match.group(0)
        tokens.append(Token(raw, float(raw.replace("\u2212", "-"))))
        return PLACEHOLDER

    skeleton = NUMBER.sub(take, text)
    return SPACES.sub(" ", skeleton), tokens


def flatten(outputs, sanitize=lambda s: s) -> dict[str, list]:
    """nbval's view of a cell's outputs: {field: [sanitised value per output]} (streams keyed by name),
    except that an output with an HTML form is compared by its HTML only."""
    flat = defaultdict(list)
    for out in outputs:
        out = dict(out)
        if out.get("output_type") == "stream":
            out = {"output_type": "stream", out["name"]: out["text"]}
        for key, value in out.items():
            if key in SKIP_KEYS:
                continue
            if key == "data":
                for mime, data in value.items():
                    # A table shown as HTML also carries a text/plain layout of the same cells, whose
                    # line wrapping follows the width of its numbers: the HTML alone is compared.
                    if mime not in SKIP_KEYS and not (mime == "text/plain" and "text/html" in value):
                        flat[mime].append(sanitize(data))
            else:
                flat[key].append(sanitize(value))
    return dict(flat)


def word_changes(ref_skeleton: str, test_skeleton: str) -> list[tuple[str, str]] | None:
    """The phrases replaced between two skeletons, word by word ([(stored, re-run)]), or None when
    words were inserted or deleted, or a number placeholder moved (a change of structure, not of a word)."""
    a, b = re.findall(r"[^ \n]+|\n", ref_skeleton), re.findall(r"[^ \n]+|\n", test_skeleton)
    changes = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        old, new = " ".join(a[i1:i2]), " ".join(b[j1:j2])
        if op != "replace" or old.count(PLACEHOLDER) != new.count(PLACEHOLDER):
            return None
        changes.append((old, new))
    return changes


# The neutral verdicts: of a difference ("no measurable difference") and of an interval against a
# reference level ("covers", as in "its interval covers one in eight").
NEUTRAL = ("no measurable difference", "not distinguishable", "covers")


def verdict_flip(stored: str, rerun: str) -> bool:
    """True for a verdict that moved between "no measurable difference" and a direction ("better",
    "a gain", ...): what an interval with a bound near zero does between machines. A flip between two
    directions, or of a name ("worst partner: cr" / "subj"), is not one."""
    return (any(n in stored for n in NEUTRAL)) != (any(n in rerun for n in NEUTRAL))


def _skeleton_diff(ref: str, test: str) -> str:
    ref_lines, test_lines = ref.splitlines(), test.splitlines()
    for i, (a, b) in enumerate(zip(ref_lines, test_lines)):
        if a != b:
            return f"line {i + 1}: stored {a!r}\n          re-run {b!r}"
    return f"stored has {len(ref_lines)} lines, re-run {len(test_lines)}"


def compare_text(ref, test, tolerances: dict | None = None) -> list[str]:
    """Why ``test`` does not match ``ref`` (empty when it does).

    ``tolerances``: {"n": count of numbers in ref, "abs": {position: tolerance}}; None: numbers exact.
    """
    if ref == test:
        return []
    if not isinstance(ref, str) or not isinstance(test, str):
        return [f"stored {ref!r} != re-run {test!r}"]
    ref_skeleton, ref_numbers = split_numbers(ref)
    test_skeleton, test_numbers = split_numbers(test)
    if ref_skeleton != test_skeleton and tolerances and tolerances.get("words"):
        allowed = {tuple(pair) for pair in tolerances["words"]}  # verdicts measured to flip between machines
        changes = word_changes(ref_skeleton, test_skeleton)
        if changes is not None and all(c in allowed for c in changes):
            test_skeleton = ref_skeleton
    if ref_skeleton != test_skeleton:
        return ["text differs (not only numbers): " + _skeleton_diff(ref_skeleton, test_skeleton)]
    allowed = {}
    stale = ""
    if tolerances:
        if tolerances.get("n") == len(ref_numbers):
            allowed = {int(k): v for k, v in tolerances.get("abs", {}).items()}
        else:
            stale = (f" (the tolerances declared for this output were measured on {tolerances.get('n')} numbers,"
                     f" it has {len(ref_numbers)}: rerun benchmarks/nbval_spread.py)")
    problems = []
    for i, (a, b) in enumerate(zip(ref_numbers, test_numbers)):
        tol = allowed.get(i, 0.0)
        diff = abs(a.value - b.value)
        if diff > tol * (1 + 1e-9) and not (math.isnan(a.value) and math.isnan(b.value)):
            context = ref_skeleton.split(PLACEHOLDER)
            before = context[i][-40:] if i < len(context) else ""
            problems.append(f"number {i} ({before.strip()!r} ...): stored {a.text}, re-run {b.text}, "
                            f"|difference| {diff:.6g} > tolerance {tol:.6g}{stale}")
    return problems


def load_tolerances(path: str | Path = DEFAULT_TOLERANCES) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no tolerance file (make it with benchmarks/nbval_spread.py derive)")
    return json.loads(path.read_text())


def cell_tolerances(table: dict, notebook: str, cell_id: str) -> dict:
    return table.get("notebooks", {}).get(notebook, {}).get(cell_id, {})


def compare_cell(ref_outputs, test_outputs, tolerances: dict, sanitize=lambda s: s) -> list[str]:
    """Compare two cells' outputs as nbval does (same fields, same counts), numbers within ``tolerances``."""
    ref, test = flatten(ref_outputs, sanitize), flatten(test_outputs, sanitize)
    if set(ref) != set(test):
        return [f"output fields differ: stored {sorted(ref)}, re-run {sorted(test)}"]
    problems = []
    for key in ref:
        if len(ref[key]) != len(test[key]):
            problems.append(f"{key}: stored has {len(ref[key])} outputs, re-run {len(test[key])}")
            continue
        for j, (a, b) in enumerate(zip(ref[key], test[key])):
            problems += [f"{key}[{j}]: {p}" for p in compare_text(a, b, tolerances.get(f"{key}:{j}"))]
    return problems


# ---------------------------------------------------------------- measuring spreads, deriving tolerances

def measure_spread(stored: dict, runs: dict[str, dict], sanitize=None) -> tuple[dict, list[str]]:
    """Per cell and output field, each number's stored value and its deviation in each run.

    ``stored``: {cell id: outputs}; ``runs``: {run name: {cell id: outputs}}. Returns (spread, findings):
    spread[cell][field:j] = {"n": count, "values": [stored], "dev": {run: [|re-run - stored|]}, "q": [...]},
    findings = every output whose text (not only numbers) differs in some run.
    """
    sanitize = sanitize or default_sanitizer()
    spread, findings = {}, []
    for cell_id, ref_outputs in stored.items():
        ref = flatten(ref_outputs, sanitize)
        for name, run in runs.items():
            if cell_id not in run:
                findings.append(f"cell {cell_id}: missing from run {name}")
        for key, values in ref.items():
            for j, ref_text in enumerate(values):
                if not isinstance(ref_text, str):
                    continue
                skeleton, numbers = split_numbers(ref_text)
                entry = {"n": len(numbers), "values": [t.text for t in numbers],
                         "q": [t.quantum for t in numbers], "dev": {}, "skeleton": skeleton}
                for name, run in runs.items():
                    test = flatten(run.get(cell_id, []), sanitize).get(key, [])
                    if j >= len(test):
                        findings.append(f"cell {cell_id} {key}[{j}]: absent in run {name}")
                        continue
                    test_skeleton, test_numbers = split_numbers(test[j])
                    if test_skeleton != skeleton or len(test_numbers) != len(numbers):
                        changes = word_changes(skeleton, test_skeleton) if len(test_numbers) == len(numbers) else None
                        if changes and not all(verdict_flip(*c) for c in changes):
                            changes = None  # a name, a direction or any other word: never tolerated
                        findings.append(f"cell {cell_id} {key}[{j}] under {name}: "
                                        + (f"words changed {changes}" if changes else "")
                                        + _skeleton_diff(skeleton, test_skeleton))
                        if not changes:
                            continue
                        entry.setdefault("words", {})[name] = changes
                    entry["dev"][name] = [abs(a.value - b.value) for a, b in zip(numbers, test_numbers)]
                if numbers or entry.get("words"):
                    spread.setdefault(cell_id, {})[f"{key}:{j}"] = entry
    return spread, findings


SAFETY = 2.0  # tolerance = SAFETY x the largest deviation measured


def derive_tolerances(spread: dict) -> dict:
    """{"rule": ..., "notebooks": {nb: {cell: {field:j: {"n": count, "abs": {position: tol}}}}}}."""
    out = {}
    for nb, cells in spread.items():
        for cell_id, fields in cells.items():
            for field, entry in fields.items():
                devs = [max(d) for d in zip(*entry["dev"].values())] if entry["dev"] else [0.0] * entry["n"]
                moved = any(d > 0 for d in devs)
                tols = {}
                for i, (dev, q) in enumerate(zip(devs, entry["q"])):
                    tol = SAFETY * dev
                    if moved and q > 0:
                        tol = max(tol, q)
                    if tol > 0:
                        tols[str(i)] = float(f"{tol:.3g}")
                declared = {"n": entry["n"], "abs": tols}
                if entry.get("words"):
                    declared["words"] = sorted({tuple(c) for changes in entry["words"].values() for c in changes})
                out.setdefault(nb, {}).setdefault(cell_id, {})[field] = declared
    return {"rule": f"{SAFETY:g} x the largest deviation measured (benchmarks/results/nbval_spread.json); "
                    "at least one unit in the last printed digit for a decimal in an output where any number "
                    "moved; exact where nothing moved. 'words': phrases (verdicts) measured to change between "
                    "the runs, accepted in place of the stored phrase in that output only",
            "notebooks": out}


def default_sanitizer(cfg: str | Path = Path(__file__).with_name("nbval_sanitize.cfg")):
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns(Path(cfg).read_text())

    def sanitize(s):
        if not isinstance(s, str):
            return s
        for regex, replace in patterns:
            s = re.sub(regex, replace, s)
        return s

    return sanitize


# ---------------------------------------------------------------- the pytest plugin

def pytest_addoption(parser):
    group = parser.getgroup("nbval")
    group.addoption("--nbval-tolerances", default=str(DEFAULT_TOLERANCES),
                    help="JSON file of per-number tolerances (tests/nbval_tolerances.json)")
    group.addoption("--nbval-strict", action="store_true",
                    help="compare numbers exactly, as plain nbval does (the machine that refreshed the outputs)")


def pytest_configure(config):
    if config.getoption("--nbval-strict", default=False) or not getattr(config.option, "nbval", False):
        return
    from nbval.plugin import IPyNbCell

    table = load_tolerances(config.getoption("--nbval-tolerances"))

    def compare_outputs(self, test, ref, skip_compare=None):
        notebook = Path(str(self.fspath)).name
        tolerances = cell_tolerances(table, notebook, self.cell.get("id", ""))
        problems = compare_cell(ref, test, tolerances, sanitize=self.sanitize)
        self.comparison_traceback = [f"{notebook} cell {self.cell_num} (id {self.cell.get('id')}):"] + problems
        return not problems

    IPyNbCell.compare_outputs = compare_outputs
