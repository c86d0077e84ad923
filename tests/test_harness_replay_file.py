"""The generated replay file (issue 9): text from a backend or a spec never becomes code, and
replays of outcome and of observation divergences fail against the faulty backend the way
the check did, and pass against a correct one.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from authspec.harness.adapter import Response
from authspec.harness.options import CheckOptions
from authspec.harness.records import Failure, Step
from authspec.harness.replay_file import ReplayValueError, literal, replay_source
from authspec.harness.run import check
from authspec.model import Outcome, load

HERE = Path(__file__).parent
TINY = str(HERE / "harness_specs" / "tiny")
ADAPTERS = HERE / "harness_specs" / "adapters.py"

#: what a hostile backend or spec might say: every way out of a string, a docstring or a
#: comment, and what rich or str.format would read
CRAFTED = [
    'x"""\n__import__("os").system("echo INJECTED")\n"""',
    "x'''\n__import__('os').system('echo INJECTED')\n'''",
    "x\\\n__import__('os').system('echo INJECTED') # \\",
    "x {INJECTED} {0} }{ \\N{BULLET} \\x00 [bold]INJECTED[/bold]:100:",
    "x\r\n# INJECTED\n\x00\u2028INJECTED",
]


def crafted_failure(text: str, kind: str) -> Failure:
    outcome = Outcome(f"ev{text}", False, reason=f"r{text}", transitions=(f"t{text}",),
                      rejection=f"j{text}", rules=(f"R{text}",))
    steps = tuple(
        Step(index, f"ev{text}", {f"k{text}": f"v{text}", "n": 7, "b": True}, outcome,
             Response.rejected(f"a{text}"), "event")
        for index in (1, 2, 3))
    return Failure(kind, steps, f"detail{text}", (f"difference{text}",), (f"R{text}",),
                   {"states": {f"m{text}": f"s{text}"}, "variables": {f"v{text}": f"x{text}"}})


def _outside_string_literals(source: str) -> str:
    """``source`` with every string constant cut out."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for text in lines:
        offsets.append(offsets[-1] + len(text))
    spans = sorted((offsets[n.lineno - 1] + n.col_offset,
                    offsets[n.end_lineno - 1] + n.end_col_offset)  # type: ignore[operator]
                   for n in ast.walk(tree) if isinstance(n, ast.Constant)
                   and isinstance(n.value, str))
    kept, at = [], 0
    for start, end in spans:
        if start >= at:
            kept.append(source[at:start])
            at = end
    return "".join(kept) + source[at:]


ALLOWED_CALLS = {"os.environ.get", "Replayer", "replay.step", "replay.repeat",
                 "replay.expect_observation", "replay.close"}


@pytest.mark.parametrize("kind", ["outcome", "observation", "invariant"])
@pytest.mark.parametrize("text", CRAFTED)
def test_backend_and_spec_text_reaches_the_replay_file_only_as_literals(text, kind):
    system = dataclasses.replace(load(TINY), name=f"spec{text}")
    failure = dataclasses.replace(crafted_failure(text, kind),
                                  subjects=((f"m{text}", (f"S{text}",)),))
    source = replay_source(system, failure, f"backend{text}:make", f"specs{text}",
                           ((f"o{text}", f"w{text}"),))
    tree = ast.parse(source)  # it compiles
    outside = _outside_string_literals(source)
    assert "INJECTED" not in outside
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert calls <= ALLOWED_CALLS, calls - ALLOWED_CALLS
    assert [type(n).__name__ for n in tree.body] == (
        ["Expr", "Import", "ImportFrom"] + ["Assign"] * 9 + ["FunctionDef"])
    constants = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    for said in (f"spec{text}", f"backend{text}:make", f"specs{text}", f"k{text}",
                 f"v{text}", f"ev{text}", f"rejected(r{text})", f"R{text}", f"m{text}",
                 f"S{text}", f"o{text}", f"w{text}"):
        assert said in constants, said  # written, and written faithfully
    if kind == "observation":
        observed = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
                        and ast.unparse(n.func) == "replay.expect_observation")
        assert ast.literal_eval(observed.args[1]) == {
            "states": {f"m{text}": f"s{text}"}, "variables": {f"v{text}": f"x{text}"}}


class Sneaky(str):
    """A str whose repr is code."""

    def __repr__(self) -> str:
        return "__import__('os').system('echo INJECTED')"


class SneakyInt(int):
    def __repr__(self) -> str:
        return "__import__('os').system('echo INJECTED')"


def test_a_literal_is_built_from_plain_data_only():
    assert literal(Sneaky("a")) == "'a'" and literal(SneakyInt(3)) == "3"
    assert literal({"a": [1, (2.5, None)], "b": False}) == "{'a': [1, (2.5, None)], 'b': False}"
    for value in (float("nan"), object(), {1, 2}, b"x"):
        with pytest.raises(ReplayValueError, match="not plain data"):
            literal(value)


# -- end to end -------------------------------------------------------------------------------

CRAFTED_ADAPTER = '''
import sys
sys.path.insert(0, {folder!r})
from adapters import TinyCard
from authspec.harness.adapter import Response

class Crafted(TinyCard):
    def _issue(self, pin):
        return Response.rejected({reason!r})

def make_crafted():
    return Crafted()
'''


def pytest_file(path: Path, backend: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if backend is not None:
        env["AUTHSPEC_REPLAY_BACKEND"] = backend
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(path)], capture_output=True, text=True, cwd=path.parent,
                          timeout=180, env=env)


def test_a_crafted_reason_code_runs_no_code_from_the_replay_file(tmp_path):
    marker = tmp_path / "INJECTED"
    reason = (f'x"""\n__import__("pathlib").Path({str(marker)!r}).touch()\n"""'
              " ''' \\ {0} [bold]b[/bold]:100:")
    adapter = tmp_path / "crafted.py"
    adapter.write_text(CRAFTED_ADAPTER.format(folder=str(ADAPTERS.parent), reason=reason))
    out = tmp_path / "out"
    # A reason code the spec does not declare is a backend error (it names the code): no
    # replay file is written from it, and nothing of it runs.
    result = check(CheckOptions(backend=f"{adapter}:make_crafted", specs=TINY, seed=1,
                                database=None, out=str(out), examples=5, timeout=5.0))
    assert result.status == "error" and result.replay_path is None, result
    assert "does not declare" in str(result.error)
    assert not list(out.glob("replay_*.py")) and not marker.exists()


@pytest.mark.parametrize(("specs", "faulty", "correct", "kind", "says"), [
    (TINY, f"{ADAPTERS}:make_weak_pin", f"{ADAPTERS}:make_tiny", "outcome",
     "the spec expects rejected(weak_pin)"),
    (TINY, f"{ADAPTERS}:make_wrong_observation", f"{ADAPTERS}:make_tiny", "observation",
     "the backend's state differs: wallet.spent"),
    (None, "mutant:register_without_form", "bank", "outcome",
     "the spec expects rejected(registration_form_missing)"),
    (None, "mutant:half_open_registration", "bank", "observation",
     "the backend's state differs"),
])
def test_a_replay_fails_like_the_check_and_passes_against_a_correct_backend(
        tmp_path, specs, faulty, correct, kind, says):
    result = check(CheckOptions(backend=faulty, specs=specs, seed=1, database=None,
                                out=str(tmp_path), examples=30, timeout=5.0))
    assert result.status == "fail" and result.failure is not None
    assert result.failure.kind == kind and result.replay_path is not None
    against_faulty = pytest_file(result.replay_path)
    output = against_faulty.stdout + against_faulty.stderr
    assert against_faulty.returncode == 1, output
    assert "ReplayMismatch" in output and says in output and "NameError" not in output
    against_correct = pytest_file(result.replay_path, correct)
    assert against_correct.returncode == 0, against_correct.stdout + against_correct.stderr
