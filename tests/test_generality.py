"""The report, the diagrams and the console fit any spec, not only the banking example.

Tried on examples/lockout/specs (English only, rules R1-R6 and one question): no 中文
column, no banking rule IDs, counts in the singular for one, a failure's details as a list
and a table, self-loops on separate sides, a transition's count once; and ``check --backend
model`` on a spec that breaks its own invariant says SPEC BUG, not NONCONFORMANCE.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from spec_variants import DOOR, door_copy, spec_copy
from typer.testing import CliRunner

from authspec.diagrams.common import plural
from authspec.diagrams.dot import Options, machine_dot, overview_dot
from authspec.diagrams.overlay import Coverage, Failure, Step
from authspec.diagrams.report import report_html
from authspec.harness import commands
from authspec.model import load

ROOT = Path(__file__).resolve().parents[1]
LOCKOUT = ROOT / "examples" / "lockout" / "specs"
BANKING_IDS = re.compile(r"\bR(7|8|9|1\d|2[0-2])\b|\bQ([2-9]|1\d)\b|R1-R22|Q1-Q1[27]")


@pytest.fixture(scope="module")
def lockout():
    return load(LOCKOUT)


def _coverage(system, transitions: dict[str, int], failures=()) -> Coverage:
    return Coverage(source="test", transitions=transitions,
                    rejections={r.id: 1 for r in system.rejections},
                    states={f"{s.machine}.{s.name}": 1 for s in system.states_all},
                    failures=list(failures))


def test_plural_words_one_in_the_singular() -> None:
    assert plural(1, "transition") == "1 transition"
    assert plural(0, "refusal") == "0 refusals"
    assert plural(2, "transition") == "2 transitions"
    assert Options().count(1, "refusal") == "1 refusal"
    assert Options(lang="zh").count(3, "transition") == "3 迁移"


def test_report_of_an_english_spec_has_no_chinese_column_and_no_banking_ids(lockout) -> None:
    html = report_html(lockout, spec_name="lockout")
    assert "中文" not in html and 'lang="zh"' not in html
    text = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    assert not BANKING_IDS.search(text), BANKING_IDS.search(text)
    assert "Traceability: rules R1-R6" in text
    assert "traceability R1-R6" in text and "assumptions Q1" in text
    # one machine: the card says "machine", not "machines"
    assert "<b>1</b>machine</div>" in text


def test_report_of_the_banking_spec_keeps_its_chinese_columns(system) -> None:
    html = report_html(system)
    assert "<th>中文</th>" in html and "Traceability: rules R1-R22" in html


def test_report_counts_in_the_singular_and_renders_failure_details(lockout) -> None:
    never = "account.unlock"
    counts = {t.id: (0 if t.id == never else 3) for t in lockout.transitions}
    failure = Failure(
        steps=(Step("create", {"password": "Secret123"}, ("account.create",), None,
                    "accepted", "rejected(weak_password)", ("R1",)),),
        title="step 1 (create) differs", divergent=0,
        extra={"kind": "outcome", "differences": ["account: active vs absent"],
               "view": {"states": {"account": "active"}, "variables": {"failures": 0}},
               "format": "authspec-run/1", "secrets_masked": True})
    html = report_html(lockout, coverage=_coverage(lockout, counts, [failure]))
    text = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    assert "Never exercised (1 transition, 0 refusals)" in text
    assert "<b>1</b>failure</div>" in text
    details = text[text.index('id="failure-1"'):]
    # the view is a table, the differences a list: no JSON text, no dict repr
    assert '<table class="details"><tr><th>states</th><td><table class="details">' in details
    assert "<code>account: active vs absent</code>" in details
    assert "{&quot;" not in details and "{'" not in details and "&quot;states" not in details
    assert "format" not in details.split("<table>")[0]  # bookkeeping keys are left out
    assert "Secret123" not in html  # the secret parameter stays masked
    assert "<code>password</code> = " in details


def test_self_loops_sit_on_separate_sides(lockout) -> None:
    dot = machine_dot(lockout, lockout.machine("account"))
    loops = re.findall(r"account__active -> account__active \[(.*?)\]\n", dot, re.S)
    assert len(loops) == 2
    ports = sorted(re.search(r'tailport=(\w+)', loop).group(1) for loop in loops)
    assert ports == ["n", "s"]
    assert all(re.search(r'headport=(\w+)', loop) for loop in loops)


def test_crowded_self_loops_use_xlabels(tmp_path) -> None:
    spec = spec_copy(LOCKOUT, tmp_path, ("rejects:\n", """  - id: ping
    event: unlock
    from: active
    to: ~
    rules: [R5]
rejects:
"""), file="account.yaml")
    system = load(spec)
    dot = machine_dot(system, system.machine("account"))
    loops = re.findall(r"account__active -> account__active \[(.*?)\]\n", dot, re.S)
    assert len(loops) == 3
    assert all("xlabel=" in loop and " label=" not in loop for loop in loops)
    assert "forcelabels=true" in dot


def test_a_transition_with_several_sources_shows_its_count_once(system) -> None:
    several = next(t for t in system.transitions if len(t.sources) > 1)
    machine = system.machine(several.machine)
    counts = {t.id: 7 for t in system.transitions}
    counts[several.id] = 4242
    dot = machine_dot(system, machine, Options(coverage=_coverage(system, counts)))
    assert dot.count("×4242") == 1
    assert dot.count(f't:{several.id}:') == len(several.sources)


def test_overview_cluster_counts_in_the_singular(tmp_path) -> None:
    spec = door_copy(tmp_path, (
        "  - {id: close, event: close, from: open, to: closed, rules: [R2]}\n"
        "  - {id: lock, event: lock, from: closed, to: locked, when: key, rules: [R3]}\n", ""),
        ("  - {id: worn_out, event: open, from: closed, when: opened_times >= 3, reason: "
         "worn_out, rules: [R2]}\n", ""),
        ("  - {id: locked, event: [open, lock], from: locked, reason: locked, rules: [R3]}\n",
         ""))
    assert "1 transition, 1 refusal<" in overview_dot(load(spec))
    assert "3 transitions, 4 refusals<" in overview_dot(load(DOOR))


# -- check --backend model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    commands.register(app)
    return app


def test_model_backend_reports_a_broken_invariant_as_a_spec_bug(app, tmp_path) -> None:
    spec = spec_copy(LOCKOUT, tmp_path, ("""    to: active
    do: {failures: 0}
    rules: [R5]""", """    to: active
    rules: [R5]"""), file="account.yaml")
    result = CliRunner().invoke(app, [
        "check", "--backend", "model", "--specs", str(spec), "--seed", "1", "--database",
        "none", "--out", str(tmp_path / "out"), "--max-seconds", "20"],
        catch_exceptions=False)
    out = result.output
    assert result.exit_code == 1, out
    assert "SPEC BUG" in out and "NONCONFORMANCE" not in out
    assert "breaks its own invariant account.locked_after_three" in out
    assert "this is not a difference of model" in out
    # where: the invariant's file:line:column; what to do: fix the unlock transition
    assert re.search(r"account\.yaml:\d+:\d+: invariant account\.locked_after_three", out)
    assert "fix the spec: the effects or target of account.unlock" in out


def test_model_backend_passes_the_lockout_spec(app, tmp_path) -> None:
    result = CliRunner().invoke(app, [
        "check", "--backend", "model", "--specs", str(LOCKOUT), "--seed", "1", "--database",
        "none", "--out", str(tmp_path), "--max-seconds", "10", "--examples", "20"],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "SPEC BUG" not in result.output


# -- the pytest plugin's items ----------------------------------------------------------------

HARNESS = ROOT / "tests" / "harness_specs"


def test_plugin_items_one_per_goal_spread_over_workers_with_classnames(tmp_path) -> None:
    from xml.etree import ElementTree

    from authspec.harness.pytest_plugin import sweep_goals

    adapters = HARNESS / "adapters.py"
    xml = tmp_path / "report.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-n", "2",
         "--rootdir", str(tmp_path), "--authspec-backend", f"{adapters}:make_weak_pin",
         "--authspec-specs", str(HARNESS / "tiny"), "--authspec-seed", "1",
         "--authspec-examples", "5", "--authspec-max-seconds", "3", f"--junitxml={xml}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    goals = sweep_goals(load(HARNESS / "tiny"))
    cases = list(ElementTree.parse(xml).getroot().iter("testcase"))
    names = sorted(case.get("name") for case in cases)
    assert names == sorted([f"sweep[{goal}]" for goal in goals] + ["explore"])
    assert len(goals) > 5
    # every case has the class of its backend's check
    assert {case.get("classname") for case in cases} == {
        f"authspec:{str(adapters).replace('/', '.')}:make_weak_pin"}
    # both workers ran items of the one check
    assert "[gw0]" in run.stdout and "[gw1]" in run.stdout
    failed = {case.get("name"): case.find("failure") for case in cases}
    message = failed["sweep[card.weak_pin]"].text
    assert failed["sweep[card.issue]"] is None
    # the message's sentences are whole lines: the verdict line is longer than a console
    verdict = next(text for text in message.splitlines() if text.startswith("NONCONFORMANCE"))
    assert re.fullmatch(r"NONCONFORMANCE \S+make_weak_pin differs from tiny_card, found after "
                        r"[\d.]+ s \(\d+ examples, \d+ steps in [\d.]+ s\)", verdict), verdict
    assert len(verdict) > 120
    assert "Minimal failing trace (1 step):" in message
