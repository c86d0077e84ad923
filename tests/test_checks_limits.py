"""Static checks that cannot be fooled or stalled: divisions by zero, and Z3's time limits.

- ``division-by-zero``: a ``//`` or ``%`` whose divisor can be 0 where it is evaluated is an
  error located at the divisor (the runtime would raise there); a divisor made safe by the
  guard, by ``and``/``or`` short-circuits or by a refusal listed first is not.
- every Z3 query has a time limit and all of them a budget: twelve transitions with
  non-linear guards give located ``solver-undecided`` warnings in seconds, not minutes.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from spec_variants import door_copy

from authspec.model import load
from authspec.model.checks import check_system

ROOT = Path(__file__).resolve().parent.parent


GUARD = "when: opened_times < 3"


@pytest.mark.parametrize(("old", "new", "where"), [
    (GUARD, "when: 5 % opened_times == 0 and code != secret_code", (17, 15)),
    (GUARD, "when: opened_times < 3 and 3 // opened_times == 0", (17, 37)),
    ("do: {opened_times: opened_times + 1}", "do: {opened_times: 1 // (opened_times - 1)}",
     (18, 30)),
    ("expr: opened_times <= 3", "expr: opened_times <= 3 and 3 // opened_times >= 0", (27, 58)),
])
def test_a_divisor_that_can_be_zero_is_an_error_at_the_divisor(
        tmp_path: Path, old: str, new: str, where: tuple[int, int]) -> None:
    findings = [f for f in check_system(load(door_copy(tmp_path, (old, new))))
                if f.code == "division-by-zero"]
    assert [(f.span.line, f.span.column) for f in findings] == [where], findings
    assert findings[0].severity == "error" and "can be 0" in findings[0].message
    message = findings[0].message
    assert "'1234'" not in message and ("code=" not in message or "code=•••" in message)


@pytest.mark.parametrize(("old", "new"), [
    (GUARD, "when: opened_times > 0 and 5 % opened_times == 0 and opened_times < 3"),
    (GUARD, "when: opened_times == 0 or 5 % opened_times == 0"),
    # the refusal worn_out (opened_times >= 3) decides first, so 3 - opened_times > 0 here
    (GUARD, "when: opened_times < 3 and 6 // (3 - opened_times) > 1"),
    ("do: {opened_times: opened_times + 1}", "do: {opened_times: 3 // (3 - opened_times)}"),
    ("expr: opened_times <= 3", "expr: opened_times <= 3 and 4 // (4 - opened_times) >= 0"),
    # evaluated only when opened_times > 3, which its bounds exclude
    ("expr: opened_times <= 3", "expr: opened_times <= 3 or 3 // opened_times >= 0"),
])
def test_a_divisor_made_safe_before_the_division_is_no_finding(tmp_path: Path, old: str,
                                                               new: str) -> None:
    findings = check_system(load(door_copy(tmp_path, (old, new))))
    assert not [f for f in findings if f.severity == "error"], findings


def _hard_spec(folder: Path, transitions: int = 12) -> Path:
    """One machine, four unbounded-ish ints, transitions with non-linear guards."""
    folder.mkdir()
    (folder / "rules.yaml").write_text("authspec: 1\nkind: rules\nsource: x\nrules:\n"
                                       "  - {id: R1, clause: x, reading: x}\nquestions: []\n")
    (folder / "system.yaml").write_text(
        "authspec: 1\nkind: system\nname: hard\nrules: rules.yaml\nmachines: [m.yaml]\n"
        "reasons:\n  nope: {label: {en: nope}}\nevents:\n  go: {}\notherwise: nope\n")
    variables = "".join(f"  {v}: {{type: int, min: 0, max: 1000000000, initial: 0}}\n"
                        for v in "abcd")
    moves = "".join(f"  - {{id: t{i}, event: go, from: s, to: s, when: a * b * c == d * d * d "
                    f"+ {i} and a * a + b * b == c * d + {i + 1}, rules: [R1]}}\n"
                    for i in range(transitions))
    (folder / "m.yaml").write_text(f"authspec: 1\nkind: machine\nname: m\nvariables:\n"
                                   f"{variables}states:\n  s: {{initial: true}}\n"
                                   f"transitions:\n{moves}")
    return folder


def test_non_linear_guards_are_undecided_warnings_within_the_budget(tmp_path: Path) -> None:
    system = load(_hard_spec(tmp_path / "hard"))
    start = time.monotonic()
    findings = check_system(system, timeout_ms=200, budget_s=3)
    assert time.monotonic() - start < 15
    undecided = [f for f in findings if f.code == "solver-undecided"]
    assert undecided and all(f.severity == "warning" for f in undecided)
    assert all(f.span.file.endswith("m.yaml") and f.span.line >= 8 for f in undecided)
    assert not [f for f in findings if f.severity == "error"], findings


def test_validate_takes_a_solver_budget(tmp_path: Path) -> None:
    spec = _hard_spec(tmp_path / "hard")
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "authspec", "validate", str(spec),
                             "--solver-timeout", "200", "--solver-budget", "2"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert time.monotonic() - start < 30
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"m\.yaml:\d+:5: warning: Z3 could not decide", result.stdout), (
        result.stdout)
    strict = subprocess.run([sys.executable, "-m", "authspec", "validate", str(spec), "--strict",
                             "--solver-timeout", "100", "--solver-budget", "1"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert strict.returncode == 1
