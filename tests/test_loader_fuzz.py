"""Whatever a spec author types, the loader answers with located errors, never a traceback.

Random edits of the door spec (lines deleted, duplicated, swapped, tokens replaced) must
load, or fail with ``SpecErrors`` whose every error has a file, a line and a hint.

And a deterministic fuzz (tests/fuzz_specs.py) of ``authspec validate`` over mutated copies
of the shipped specs and of the door spec, hostile inputs included: 1,000 cases in the
default run (about a minute on 2 cores), 10,000 in the slow one (``-m slow``). Each case
must exit 0, 1 or 2 with no traceback, every error and warning located at a line, within
the time limit. By hand, with figures: ``python tests/fuzz_specs.py 10000 2``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from fuzz_specs import run_cases, summary
from hypothesis import given, settings
from hypothesis import strategies as st

from authspec.model import SpecErrors, load
from authspec.model.checks import check_system

DOOR = Path(__file__).parent / "specs" / "door"
TOKENS = ["closed", "open", "locked", "opened_times", "3", "-1", "R9", "Q7", "~", "[]", "{}",
          "'", '"', ":", "- ", "true", "null", "&a", "*a", "!!str", "when: x", "matches(code)",
          "opened_times +", "door.state == 'x'", "1e3", "0x10", "\t", "é", "rules: [R1]"]


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(["door.yaml", "system.yaml"]))
    lines = (DOOR / name).read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "token", "indent"]))
        if kind == "delete" and len(lines) > 1:
            del lines[index]
        elif kind == "duplicate":
            lines.insert(index, lines[index])
        elif kind == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif kind == "token":
            line = lines[index]
            cut = draw(st.integers(0, len(line)))
            end = draw(st.integers(cut, len(line)))
            lines[index] = line[:cut] + draw(st.sampled_from(TOKENS)) + line[end:]
        else:
            lines[index] = "  " + lines[index]
    return name, "\n".join(lines) + "\n"


@settings(max_examples=300)
@given(edits())
def test_random_edits_give_located_errors_or_a_valid_spec(edit: tuple[str, str]) -> None:
    name, text = edit
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "door"
        shutil.copytree(DOOR, folder)
        (folder / name).write_text(text, encoding="utf-8")
        try:
            system = load(folder)
        except SpecErrors as err:
            assert err.errors
            for error in err.errors:
                assert error.span.file and error.span.line >= 1, error.format()
                assert error.hint, error.format()
            return
        for finding in check_system(system):
            assert finding.span.line >= 0 and finding.hint


#: (base spec, first seed) of each chunk of 100 cases: the door spec loads in a tenth of the
#: time of the shipped specs, so it gets more of the minute.
FAST = [("door", start) for start in range(0, 800, 100)] + [
    ("specs", start) for start in range(0, 200, 100)]
SLOW = [(base, start) for base in ("door", "specs") for start in range(1000, 6000, 100)]


def _assert_clean(base: str, start: int, tmp_path: Path) -> None:
    outcomes = run_cases(base, range(start, start + 100), tmp_path)
    problems = [f"{o.base} seed {o.seed}: {p}" for o in outcomes for p in o.problems]
    assert not problems, "\n".join(problems[:20]) + "\n" + summary(outcomes)


@pytest.mark.parametrize(("base", "start"), FAST)
def test_mutated_specs_never_crash_validate(base: str, start: int, tmp_path: Path) -> None:
    _assert_clean(base, start, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("base", "start"), SLOW)
def test_ten_thousand_mutated_specs_never_crash_validate(base: str, start: int,
                                                         tmp_path: Path) -> None:
    _assert_clean(base, start, tmp_path)
