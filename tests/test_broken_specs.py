"""Each deliberately broken spec in tests/broken_specs fails with a located, explained error.

The folders are made by tools/make_broken_specs.py from tests/specs/door, one fault each.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from authspec.model import SpecErrors, load
from authspec.model.checks import check_system

BROKEN = Path(__file__).parent / "broken_specs"

# case -> (file, line, column, words the message must contain)
EXPECTED = {
    "alias_bomb": ("system.yaml", 45, 14, "more than 100 aliases"),
    "assign_other_machine": ("door.yaml", 18, 42, "door has no variable 'missing_var'"),
    "bad_yaml": ("system.yaml", 25, 11, "invalid YAML"),
    "dead_end_state": ("door.yaml", 11, 3, "[dead-end-state]"),
    "duplicate_id": ("door.yaml", 20, 10, "two elements of door have the id 'open'"),
    "duplicate_machine": ("door2.yaml", 4, 7, "two machines are named 'door'"),
    "duplicate_key": ("door.yaml", 11, 3, "duplicate key 'closed' (first at line 9)"),
    "effect_out_of_range": ("door.yaml", 18, 10, "[effect-out-of-range]"),
    "enum_typo": ("door.yaml", 17, 46, "'closd' is not a value of state of door"),
    "expr_syntax": ("door.yaml", 17, 25, "expected a value, found the end of the expression"),
    "initial_out_of_range": ("door.yaml", 6, 54, "initial value 7 does not fit"),
    "invariant_broken_initially": ("door.yaml", 27, 5, "[invariant-broken-initially]"),
    "missing_machine_file": ("system.yaml", 7, 23, "machine file 'window.yaml' not found"),
    "no_initial_state": ("door.yaml", 9, 3, "has 0 initial states"),
    "nondeterminism": ("door.yaml", 21, 5, "[nondeterminism]"),
    "python_eval_attempt": ("door.yaml", 17, 11, "unknown function '__import__'"),
    "python_tag": ("door.yaml", 6, 17, "is not allowed"),
    "shadowed_refusal": ("door.yaml", 24, 5, "warning: refusal door.twice_wrong (wrong_code) "
                         "never decides"),
    "tab_indent": ("door.yaml", 9, 1, "found character '\\t'"),
    "type_error": ("door.yaml", 17, 26, "expected int, but this is str literal"),
    "unanswered_question": ("../../specs/door/rules.yaml", 11, 5, "[unanswered-question]"),
    "unbounded_int": ("door.yaml", 6, 24, "an int needs both min and max"),
    "uncited_rule": ("../../specs/door/rules.yaml", 9, 5, "[uncited-rule]"),
    "unknown_citation": ("door.yaml", 20, 5, "cites R99"),
    "unknown_event": ("door.yaml", 20, 24, "unknown event 'shut'"),
    "unknown_key": ("door.yaml", 15, 5, "unknown key 'fro'"),
    "unknown_name": ("door.yaml", 17, 11, "unknown name 'times_opened'"),
    "unknown_policy": ("door.yaml", 23, 97, "must name a policy"),
    "unknown_reason": ("door.yaml", 24, 80, "unknown reason 'worn_down'"),
    "unknown_state": ("door.yaml", 20, 47, "unknown state 'clsoed'"),
    "unreachable_state": ("door.yaml", 12, 3, "[unreachable-state]"),
    # hostile inputs that once gave tracebacks (issue 9)
    "control_char": ("door.yaml", 10, 10, "control character U+0001 is not allowed"),
    "huge_int": ("door.yaml", 6, 42, "an integer of 4400 characters; the limit is 18 digits"),
    "deep_yaml": ("door.yaml", 8, 56, "nested more than 50 levels deep"),
    "tag_on_scalar": ("door.yaml", 4, 7, "this value is not a valid timestamp"),
    "map_tag_on_scalar": ("door.yaml", 10, 9, "tag !!map on a single value"),
    "machine_is_folder": ("system.yaml", 7, 23, "doors: this is a folder, not a file"),
    "machine_is_device": ("system.yaml", 7, 23, "/dev/zero: this is not a regular file"),
    "rules_is_folder": ("system.yaml", 6, 8, "specs: this is a folder, not a file"),
    "long_file_name": ("system.yaml", 7, 23, "File name too long"),
    "deep_parentheses": ("door.yaml", 17, 43, "nests more than 32 levels deep"),
    "minus_chain": ("door.yaml", 17, 58, "nests more than 32 levels deep"),
    "list_compare": ("door.yaml", 17, 32, "a list may only follow 'in' or 'not in'"),
    "modulo_by_zero": ("door.yaml", 17, 15, "divides by door.opened_times, which can be 0"),
}


def test_every_broken_spec_has_an_expectation() -> None:
    assert sorted(p.name for p in BROKEN.iterdir() if p.is_dir()) == sorted(EXPECTED)


def _messages(case: Path) -> list[tuple[Path, int, int, str, str]]:
    """(file, line, column, message, hint) of each finding, from loading and checking."""
    try:
        findings = [f.as_error() for f in check_system(load(case))]
    except SpecErrors as err:
        findings = err.errors
    return [(Path(e.span.file).resolve(), e.span.line, e.span.column, e.format(), e.hint)
            for e in findings]


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_broken_spec_is_reported_where_it_is_broken(case: str) -> None:
    file, line, column, words = EXPECTED[case]
    found = _messages(BROKEN / case)
    assert found, f"{case}: no error reported"
    where = (BROKEN / case / file).resolve()
    located = [m for m in found if m[0] == where and m[1] == line and m[2] == column]
    assert located, f"{case}: nothing at {file}:{line}:{column}; got {found}"
    assert any(words in m[3] for m in located), located
    assert all(m[4] for m in located), "every error says what to do"


@pytest.mark.parametrize("case", ["nondeterminism", "unknown_state", "alias_bomb", "bad_yaml",
                                  "control_char", "huge_int", "deep_yaml", "tag_on_scalar",
                                  "machine_is_device", "deep_parentheses", "list_compare",
                                  "modulo_by_zero"])
def test_validate_command_exits_non_zero_with_location(case: str) -> None:
    result = subprocess.run([sys.executable, "-m", "authspec", "validate", str(BROKEN / case)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert re.search(r"\.yaml:\d+:\d+: error: ", result.stdout), result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_warnings_fail_validate_only_when_strict() -> None:
    case = str(BROKEN / "shadowed_refusal")
    lenient = subprocess.run([sys.executable, "-m", "authspec", "validate", case],
                             capture_output=True, text=True, timeout=120)
    strict = subprocess.run([sys.executable, "-m", "authspec", "validate", case, "--strict"],
                            capture_output=True, text=True, timeout=120)
    assert lenient.returncode == 0 and "[shadowed-refusal]" in lenient.stdout
    assert strict.returncode == 1
