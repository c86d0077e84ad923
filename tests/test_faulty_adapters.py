"""The gallery of faulty adapters (tests/faulty_adapters/gallery.py) through the real
``authspec check`` command line: the verdict and the exit code each must get (issue 9,
"Verdicts a backend cannot fake"). Deadlines are short (``--timeout 1``) and budgets small,
so the whole gallery takes well under a minute on two workers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from authspec.harness.adapter import InvalidResponse, Response
from authspec.harness.backends import BackendFailure, open_backend
from authspec.harness.options import CheckOptions
from authspec.harness.run import check
from authspec.model import load

HERE = Path(__file__).parent
TINY = str(HERE / "harness_specs" / "tiny")
GALLERY = str(HERE / "faulty_adapters" / "gallery.py")


def authspec_check(factory: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "authspec", "check", "--backend", f"{GALLERY}:{factory}",
            "--specs", TINY, "--seed", "1", "--database", "none", "--out", str(out),
            "--examples", "8", "--steps", "20", "--max-seconds", "3", "--timeout", "1",
            "--no-coverage-table", *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=out)


# factory, extra options, exit code, what the output must say
GALLERY_CASES = [
    ("make_correct", ("--max-seconds", "1"), 0, ["PASS"]),
    ("make_correct", ("--max-seconds", "1", "--backend-mode", "process"), 0, ["PASS"]),
    ("make_raising", (), 2, ["BACKEND ERROR", "exception in perform(use)",
                             "database is locked"]),
    ("make_hanging", (), 2, ["timeout in perform(use)", "no answer within 1 s"]),
    ("make_hanging_in_c", ("--backend-mode", "process"), 2,
     ["timeout in perform(use)", "worker process was killed"]),
    ("make_hanging_in_c", ("--backend-mode", "thread"), 2, ["timeout in perform(use)"]),
    ("make_hanging_in_c", (), 2, ["backend error: timeout at step",
                                  "without yielding to the alarm"]),
    ("make_swallowing", (), 2, ["timeout in perform(use)", "caught the deadline's alarm"]),
    ("make_swallowing_every_alarm", ("--backend-mode", "process"), 2,
     ["timeout in perform(use)", "worker process was killed"]),
    ("make_swallowing_every_alarm", (), 2, ["backend error: timeout at step"]),
    ("make_garbage", (), 2, ["garbage in perform(use)", "'yes' (str), not a Response"]),
    ("make_response_no", (), 2, ["exception in perform(use)",
                                 "accepted must be True or False, not 'no'"]),
    ("make_sys_exit", (), 2, ["exception in perform(use)", "called sys.exit(0)"]),
    ("make_os_exit", (), 2, ["the run ended without a verdict (exit code 0) at step"]),
    ("make_os_exit", ("--backend-mode", "process"), 2,
     ["crash in perform(use)", "worker process ended (exit code 0)"]),
    ("make_interrupting", (), 2, ["exception in perform(use)",
                                  "raised KeyboardInterrupt (no Ctrl-C was pressed)"]),
    ("make_malformed_states", (), 2, ["garbage in observe()", "states are None"]),
    ("make_malformed_variables", (), 2, ["garbage in observe()", "card.uses = '0' (str)"]),
    ("make_unknown_state", (), 2, ["garbage in observe()", "not a state of card"]),
    ("make_crafted_reason", (), 2, ["garbage in perform(", "does not declare",
                                    "declared: already_issued"]),
    ("make_hanging_close", ("--max-seconds", "1"), 2, ["timeout in close()"]),
    ("make_rarely_wrong", (), 1, ["FLAKY", "passed when replayed", "minimised trace"]),
    ("make_slow", ("--max-seconds", "1"), 0, ["PASS, but incomplete:", "never reached"]),
    ("make_slow", ("--max-seconds", "1", "--require-coverage"), 1,
     ["PASS, but incomplete:", "exit 1 (--require-coverage)"]),
]


@pytest.mark.parametrize(("factory", "extra", "code", "says"), GALLERY_CASES,
                         ids=[" ".join([c[0][5:], *c[1]]) for c in GALLERY_CASES])
def test_each_faulty_adapter_gets_its_verdict(tmp_path, factory, extra, code, says):
    result = authspec_check(factory, tmp_path, *extra)
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    for text in says:
        assert text in output, output
    assert "Traceback" not in output
    if code == 2:
        assert "PASS" not in output and "NONCONFORMANCE" not in output
        assert not (tmp_path / "failure.json").exists()
    assert not (tmp_path / "pwned").exists()


def test_a_ctrl_c_ends_the_check_with_130_and_no_verdict(tmp_path):
    """A real Ctrl-C (SIGINT to the command's process group) is not the adapter's
    KeyboardInterrupt: the check says it was interrupted and exits 130, never 0."""
    args = [sys.executable, "-m", "authspec", "check", "--backend", f"{GALLERY}:make_slow",
            "--specs", TINY, "--seed", "1", "--database", "none", "--out", str(tmp_path),
            "--max-seconds", "60"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True, cwd=tmp_path)
    time.sleep(5)
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "interrupted" in output and "PASS" not in output


# -- the same faults through the Python API ------------------------------------------------


def test_a_response_whose_accepted_is_not_a_bool_is_refused():
    with pytest.raises(InvalidResponse, match="accepted must be True or False"):
        Response("no")  # type: ignore[arg-type]
    with pytest.raises(InvalidResponse, match="must be a str"):
        Response(False, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(("factory", "mode", "says"), [
    ("make_swallowing", "signal", "caught the deadline's alarm"),
    ("make_swallowing_every_alarm", "process", "worker process was killed"),
    ("make_os_exit", "process", "worker process ended (exit code 0)"),
])
def test_a_call_that_defeats_the_deadline_is_a_backend_error(factory, mode, says):
    backend = open_backend(f"{GALLERY}:{factory}", load(TINY), TINY, timeout=0.3, mode=mode)
    steps = [("issue", {"pin": "abc123"}), ("use", {"pin": "abc123"})]
    answers: list[object] = [backend.reset()]
    with pytest.raises(BackendFailure, match=re.escape(says)):
        answers.extend(backend.perform(event, params) for event, params in steps)
    assert answers == [None, Response.ok()] and backend.broken is not None
    assert backend.close() is None  # a broken backend is not called again


@pytest.mark.parametrize(("factory", "status", "kind"), [
    ("make_hanging_close", "error", "timeout"),
    ("make_crafted_reason", "error", "garbage"),
    ("make_malformed_states", "error", "garbage"),
    ("make_sys_exit", "error", "exception"),
])
def test_check_reports_each_fault_as_a_backend_error(factory, status, kind):
    result = check(CheckOptions(backend=f"{GALLERY}:{factory}", specs=TINY, seed=1,
                                database=None, out=None, examples=8, steps=20,
                                max_seconds=5.0, timeout=0.5))
    assert result.status == status and result.exit_code == 2
    assert result.error is not None and result.error.kind == kind
