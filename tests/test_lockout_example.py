"""The lock-out example end to end, through the real command line (examples/lockout).

A spec whose refusals count (the third wrong password is refused and locks the account), a
hand-written service that knows nothing of authspec, its adapter and four mutants: the
check passes the service and kills every mutant; validate, simulate, diagram and report
work on the spec.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "lockout"
SPECS = EXAMPLE / "specs"
MUTANTS = ("locks_after_2", "locks_after_4", "success_keeps_count", "unlock_keeps_count")


def authspec(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "authspec", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def check(backend: str, out: Path) -> subprocess.Popen[str]:
    return authspec("check", "--specs", str(SPECS), "--backend",
                    f"{EXAMPLE / 'adapter.py'}:{backend}", "--seed", "1", "--database", "none",
                    "--out", str(out), "--max-seconds", "20", "--shrink-seconds", "4",
                    "--no-coverage-table")


def test_the_service_is_independent_of_the_engine() -> None:
    text = (EXAMPLE / "service.py").read_text(encoding="utf-8")
    assert "authspec" not in text.split('"""', 2)[2]


def test_check_passes_the_service_and_kills_every_mutant(tmp_path: Path) -> None:
    runs = {name: check(name, tmp_path / name) for name in ("make_adapter", *MUTANTS)}
    results = {name: (run.wait(timeout=300), run.stdout.read() if run.stdout else "")
               for name, run in runs.items()}
    code, output = results.pop("make_adapter")
    assert code == 0 and "PASS" in output, output
    assert "rejections 12/12" in output and "states 3/3" in output, output
    for name, (code, output) in results.items():
        assert code == 1, f"{name} survived:\n{output}"
        failure = json.loads((tmp_path / name / "failure.json").read_text(encoding="utf-8"))
        assert failure["kind"] == "outcome" and len(failure["steps"]) <= 12, name


def test_authspec_mutants_runs_the_examples_own_mutant_set(tmp_path: Path) -> None:
    run = authspec("mutants", "--specs", str(SPECS), "--set",
                   f"{EXAMPLE / 'adapter.py'}:MUTANT_SET", "--out", str(tmp_path),
                   "--max-seconds", "20")
    code, output = run.wait(timeout=300), run.stdout.read() if run.stdout else ""
    assert code == 0 and "4/4 killed" in output, output
    assert all(name in output for name in MUTANTS), output


def test_validate_simulate_diagram_and_report_work_on_it(tmp_path: Path) -> None:
    runs = [authspec("validate", str(SPECS)),
            authspec("simulate", str(EXAMPLE / "trace.yaml"), "--specs", str(SPECS)),
            authspec("diagram", str(SPECS), "-o", str(tmp_path / "diagrams"), "--format",
                     "dot"),
            authspec("report", str(SPECS), "-o", str(tmp_path / "report.html"))]
    outputs = []
    for run in runs:
        code = run.wait(timeout=300)
        output = run.stdout.read() if run.stdout else ""
        assert code == 0, output
        outputs.append(output)
    assert "0 error(s), 0 warning(s)" in outputs[0]
    assert "by account.third_wrong_password" in outputs[1]
    assert "refused, and changed: account active -> locked; account.failures 2 -> 3" \
        in outputs[1]
    assert "15 steps, 0 not as expected" in outputs[1]
    dot = (tmp_path / "diagrams" / "account.dot").read_text(encoding="utf-8")
    assert "third_wrong_password" in dot
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "failures + 1" in html


@pytest.mark.parametrize("name", MUTANTS)
def test_each_mutant_differs_from_the_service_on_a_short_trace(name: str) -> None:
    """Sanity of the mutants themselves, without the harness: each answers differently
    from the correct service on some short sequence of the example trace's kind."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        import adapter  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EXAMPLE))
    steps = [("create", {"password": "Secret123"}), *[("login", {"password": "Wrong1234"})] * 2,
             ("login", {"password": "Secret123"}), *[("login", {"password": "Wrong1234"})] * 3,
             ("unlock", {}), *[("login", {"password": "Wrong1234"})] * 2,
             ("login", {"password": "Secret123"})]
    good, bad = adapter.make_adapter(), getattr(adapter, name)()
    answers = [(good.perform(e, p), bad.perform(e, p)) for e, p in steps]
    assert any(a != b for a, b in answers)
