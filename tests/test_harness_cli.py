"""The harness's command line (check, init-adapter, mutants) and its pytest plugin."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
import typer
from typer.testing import CliRunner

from authspec.harness import commands, mutation
from authspec.model import load

HERE = Path(__file__).parent
TINY = str(HERE / "harness_specs" / "tiny")
ADAPTERS = str(HERE / "harness_specs" / "adapters.py")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    commands.register(app)
    return app


def invoke(app: typer.Typer, *args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def check_args(backend: str, out: Path, *extra: str) -> list[str]:
    return ["check", "--backend", backend, "--specs", TINY, "--seed", "1", "--database",
            "none", "--out", str(out), "--examples", "8", "--steps", "20",
            "--max-seconds", "10", *extra]


def test_check_exit_0_on_pass(app, tmp_path):
    result = invoke(app, *check_args(f"{ADAPTERS}:make_tiny", tmp_path))
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "coverage: states 5/5, transitions 5/5" in result.output
    assert json.loads((tmp_path / "coverage.json").read_text())["transitions"]["card.use"] > 0


def test_check_exit_1_on_nonconformance_with_masked_trace(app, tmp_path):
    result = invoke(app, *check_args(f"{ADAPTERS}:make_weak_pin", tmp_path))
    assert result.exit_code == 1, result.output
    out = result.output
    assert "NONCONFORMANCE" in out and "1. issue(pin=" in out
    assert "expected: rejected(weak_pin)" in out and "actual:   accepted" in out
    assert "R1" in out and "发卡须设置" in out and "A card is issued with a PIN" in out
    step = out[out.index("1. issue(pin="):]
    assert "5 chars" in step and "\u2022" in step  # the PIN itself is masked
    replay = next(tmp_path.glob("replay_*.py"))
    assert f"replay: pytest {replay}" in out.replace("\n", "")
    shown = invoke(app, *check_args(f"{ADAPTERS}:make_weak_pin", tmp_path, "--show-secrets"))
    assert "1. issue(pin='" in shown.output


@pytest.mark.parametrize("args", [
    ["check", "--backend", "no_such_backend", "--specs", TINY, "--database", "none"],
    ["check", "--backend", "no.such.module:make", "--specs", TINY, "--database", "none"],
    ["check", "--specs", TINY],  # no backend
    ["check", "--backend", "model", "--specs", "/no/such/folder", "--database", "none"],
    ["check", "--backend", "model", "--specs", TINY, "--database", "redis://127.0.0.1:1/0"],
])
def test_check_exit_2_on_usage_errors(app, tmp_path, args):
    result = invoke(app, *args, "--out", str(tmp_path))
    assert result.exit_code == 2, result.output


def test_check_exit_2_on_a_backend_error(app, tmp_path):
    result = invoke(app, *check_args(f"{ADAPTERS}:make_raising", tmp_path))
    assert result.exit_code == 2, result.output
    assert "BACKEND ERROR" in result.output and "database is locked" in result.output
    assert "NONCONFORMANCE" not in result.output


def test_init_adapter_lists_every_event_and_reason(app, tmp_path):
    path = tmp_path / "ourbank_adapter.py"
    result = invoke(app, "init-adapter", "ourbank", "--out", str(path))
    assert result.exit_code == 0, result.output
    text = path.read_text()
    system = load()
    compile(text, str(path), "exec")
    for event in system.events:
        assert f"def _on_{event.name}(self" in text
        for param in event.params:
            assert f"{param.name}: " in text
    for reason in system.reasons:
        assert repr(reason.code) in text
    assert invoke(app, "init-adapter", "ourbank", "--out", str(path)).exit_code == 2
    # The skeleton runs, and reports its unwritten handlers as a backend error.
    run = invoke(app, "check", "--backend", f"{path}:make_adapter", "--database", "none",
                 "--out", str(tmp_path / "out"), "--max-seconds", "5")
    assert run.exit_code == 2 and "NotImplementedError" in run.output


def test_mutants_command_prints_the_table(app, tmp_path):
    pytest.importorskip("authspec.bank.mutants")
    result = invoke(app, "mutants", "--only", "quota_limit_29999", "--only",
                    "login_password_no_digit", "--out", str(tmp_path), "--max-seconds", "20")
    assert result.exit_code == 0, result.output
    assert "quota_limit_29999" in result.output and "login_password_no_digit" in result.output
    assert "2/2 killed" in result.output


def test_pytest_plugin_with_junit_and_xdist(tmp_path):
    xml = tmp_path / "report.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2",
         "--rootdir", str(tmp_path), "--authspec-backend", f"{ADAPTERS}:make_tiny",
         "--authspec-backend", f"{ADAPTERS}:make_weak_pin", "--authspec-specs", TINY,
         "--authspec-seed", "1", "--authspec-examples", "8", "--authspec-max-seconds", "8",
         f"--junitxml={xml}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    cases = ElementTree.parse(xml).getroot().iter("testcase")
    outcomes = {(case.get("classname").rsplit(":", 1)[-1], case.get("name")):
                [child.tag for child in case] for case in cases}
    assert outcomes[("make_tiny", "explore")] == []
    assert outcomes[("make_tiny", "sweep[card.weak_pin]")] == []
    assert "failure" in outcomes[("make_weak_pin", "sweep[card.weak_pin]")]
    assert "expected: rejected(weak_pin)" in xml.read_text()


def test_the_fixture_runs_a_check_inside_a_test(tmp_path):
    test = tmp_path / "test_ours.py"
    test.write_text(
        "def test_ours(authspec_check):\n"
        f"    result = authspec_check(backend={ADAPTERS + ':make_tiny'!r}, specs={TINY!r},\n"
        "                            seed=2, examples=6, max_seconds=8)\n"
        "    assert result.coverage.summary()['transitions'] == (5, 5)\n"
        "\n"
        "def test_theirs(authspec_check):\n"
        f"    authspec_check(backend={ADAPTERS + ':make_weak_pin'!r}, specs={TINY!r},\n"
        "                   seed=2, examples=6, max_seconds=8)\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                          str(test)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert "1 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    assert "NONCONFORMANCE" in run.stdout


def test_failure_json_feeds_the_diagram_overlay_and_the_report(app, tmp_path):
    """The harness's own output, not a hand-made file, is what the overlay and report read."""
    from authspec.cli import app as main_app

    out = tmp_path / "run"
    result = invoke(app, *check_args(f"{ADAPTERS}:make_weak_pin", out))
    assert result.exit_code == 1, result.output
    record = json.loads((out / "failure.json").read_text())
    assert record["format"] == "authspec-run/1" and record["file"] == "failure"
    assert record["kind"] == "outcome"
    last = record["steps"][record["divergent"]]
    assert last["event"] == "issue" and last["expected"] == "rejected(weak_pin)"
    assert last["actual"] == "accepted" and "R1" in last["rules"]
    assert "\u2022" in last["params"]["pin"]  # masked: secrets stay out of the files
    assert f"failure written to {out / 'failure.json'}" in result.output.replace("\n", "")

    runner = CliRunner()
    drawn = runner.invoke(main_app, ["diagram", TINY, "-o", str(tmp_path / "d"), "--format",
                                     "dot", "--trace", str(out / "failure.json")])
    assert drawn.exit_code == 0, drawn.output
    overview = (tmp_path / "d" / "overview.dot").read_text()
    assert "\u2717 step 1: issue" in overview  # the divergent step marked on its state
    assert "expected: rejected(weak_pin); actual: accepted" in overview
    report = runner.invoke(main_app, ["report", TINY, "--run", str(out), "-o",
                                      str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    html = (tmp_path / "r.html").read_text()
    assert "Failures (1)" in html and "weak_pin" in html

    # A passing run into the same folder leaves no stale failure behind.
    assert invoke(app, *check_args(f"{ADAPTERS}:make_tiny", out)).exit_code == 0
    assert not (out / "failure.json").exists()



def test_run_files_are_checked_when_read_and_earlier_formats_still_read(app, tmp_path):
    from authspec.cli import app as main_app
    from authspec.harness.runfiles import RunFileError, read_coverage, read_failure

    out = tmp_path / "run"
    assert invoke(app, *check_args(f"{ADAPTERS}:make_weak_pin", out)).exit_code == 1
    failure = read_failure(out / "failure.json")
    assert failure["steps"][failure["divergent"]]["event"] == "issue"
    assert read_coverage(out / "coverage.json")["file"] == "coverage"
    broken = tmp_path / "broken.json"
    cases = [
        ({**failure, "divergent": "last"}, "broken.json: at divergent: 'last' is not of type"),
        ({**failure, "format": "authspec-run/2"}, "is not a failure file authspec reads"),
        ({**failure, "divergent": 5}, "divergent is 5 but there are only 1 steps"),
        ({"steps": []}, "not an authspec run file: no \"format\" key"),
    ]
    for data, message in cases:
        broken.write_text(json.dumps(data))
        with pytest.raises(RunFileError, match=re.escape(message)):
            read_failure(broken)
    broken.write_text("{")
    with pytest.raises(RunFileError, match=re.escape("broken.json: not JSON")):
        read_failure(broken)
    with pytest.raises(RunFileError, match="file 'failure' is not a coverage file"):
        read_coverage(out / "failure.json")

    # The files written before authspec-run/1 are still read, by the overlay too.
    earlier = {k: v for k, v in failure.items() if k != "file"}
    (out / "failure.json").write_text(json.dumps({**earlier, "format": "authspec-failure/1"}))
    assert read_failure(out / "failure.json")["kind"] == "outcome"
    runner = CliRunner()
    drawn = runner.invoke(main_app, ["diagram", TINY, "-o", str(tmp_path / "d"), "--format",
                                     "dot", "--trace", str(out / "failure.json")])
    assert drawn.exit_code == 0, drawn.output
    assert "\u2717 step 1: issue" in (tmp_path / "d" / "overview.dot").read_text()
    # A run file with a wrong key is an error that names the file, never a guess.
    (out / "failure.json").write_text(json.dumps({**failure, "steps": "none"}))
    refused = runner.invoke(main_app, ["report", TINY, "--run", str(out), "-o",
                                       str(tmp_path / "r.html")])
    assert refused.exit_code == 2
    assert "failure.json: at steps: 'none' is not of type 'array'" in refused.output
    (out / "failure.json").write_text("{")
    garbled = runner.invoke(main_app, ["diagram", TINY, "-o", str(tmp_path / "d"), "--format",
                                       "dot", "--trace", str(out / "failure.json")])
    assert garbled.exit_code == 2 and "failure.json: not JSON" in garbled.output


def test_mutants_markdown_table_and_gaps(app, tmp_path):
    pytest.importorskip("authspec.bank.mutants")
    table = tmp_path / "mutants.md"
    result = invoke(app, "mutants", "--only", "quota_limit_29999", "--out", str(tmp_path),
                    "--max-seconds", "20", "--markdown", str(table))
    assert result.exit_code == 0, result.output
    text = table.read_text()
    assert text.startswith("| mutant | rules | invariants | killed |")
    assert "| `quota_limit_29999` | R5 Q1 | exhausted_means_300_spent | yes |" in text
    # One mutant leaves most rules and invariants untargeted, and says so.
    assert "cited rules no mutant targets: R1 R2" in result.output.replace("\n", " ")
    assert "invariants no mutant targets:" in text


def test_mutants_in_black_box_mode(app, tmp_path):
    pytest.importorskip("authspec.bank.mutants")
    result = invoke(app, "mutants", "--no-observe", "--only", "quota_counts_refused",
                    "--out", str(tmp_path), "--max-seconds", "20")
    assert result.exit_code == 0, result.output
    assert "1/1 killed" in result.output and "(black box)" in result.output
    assert (tmp_path / "mutants-black-box" / "quota_counts_refused").is_dir()


def test_mutants_table_in_both_modes(app, tmp_path):
    pytest.importorskip("authspec.bank.mutants")
    table = tmp_path / "mutants.md"
    result = invoke(app, "mutants", "--both-modes", "--only", "register_form_or_agreement",
                    "--out", str(tmp_path), "--max-seconds", "20", "--markdown", str(table))
    assert result.exit_code == 0, result.output
    text = table.read_text()
    assert text.startswith("| mutant | rules | invariants | killed | time to kill | "
                           "shortest trace | killed (black box) |")
    assert "| `register_form_or_agreement` | R1 |  | yes | " in text
    row = next(r for r in text.splitlines() if r.startswith("| `register_form_or_agreement`"))
    assert row.count("| yes |") == 2
    assert "1/1 killed in" in text and "(observed); 1/1 killed in" in text
    assert "black box" in result.output


def test_every_cited_rule_and_invariant_has_a_mutant():
    mutants = pytest.importorskip("authspec.bank.mutants")
    assert mutation.mutant_gaps(load(), list(mutants.MUTANTS)) == []
