"""Issue 10, "Also found": the rules of what diverged, the step numbers of a backend error,
``--backend-option``, a team's own mutant sets, and per-state observe exclusions
(``unobserved_in``). Every run here is on the tiny spec with a small budget and a seed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from rich.console import Console
from spec_variants import spec_copy
from typer.testing import CliRunner

from authspec import cli
from authspec.harness import commands
from authspec.harness.backends import (
    BackendNotFound,
    BackendOptionError,
    Fault,
    check_backend_options,
    resolve_backend,
)
from authspec.harness.options import CheckOptions, parse_backend_option, parse_backend_options
from authspec.harness.replay import Replayer, ReplayMismatch
from authspec.harness.replay_file import replay_source
from authspec.harness.run import CheckResult, check
from authspec.harness.runfiles import failure_record, read_failure
from authspec.harness.supervise import run_position
from authspec.model import SpecErrors, load

HERE = Path(__file__).parent
TINY_DIR = HERE / "harness_specs" / "tiny"
TINY = str(TINY_DIR)
FAULTS = str(HERE / "harness_specs" / "tiny_faults.py")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    """The ``authspec`` command line itself."""
    return cli.app


def invoke(app: typer.Typer, *args: str):
    """Run a command of ``app``; its result (exit code and output)."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def run(factory: str, specs: str = TINY, **options) -> CheckResult:
    values = {"backend": f"{FAULTS}:{factory}", "specs": specs, "seed": 1, "database": None,
              "out": None, "examples": 8, "steps": 20, "max_seconds": 10.0, **options}
    return check(CheckOptions(**values))


def printed(result: CheckResult, options: CheckOptions | None = None) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, no_color=True, highlight=False)
    commands.print_verdict(console, result, options or CheckOptions(backend=result.backend),
                           show_coverage=False)
    return buffer.getvalue()


# -- the rules of what diverged ---------------------------------------------------------------


def test_rules_of_a_variable_and_of_a_machine():
    system = load(TINY)
    # issue assigns uses (R1); use and last_use assign and read it (R2); the invariant (R2)
    assert system.rules_of("card.uses") == ("R1", "R2")
    assert system.rules_of("card.secret_pin") == ("R1", "R2")  # set by issue, read by wrong_pin
    assert system.rules_of("wallet.spent") == ("R3",)
    # the machine: issue (none -> active, R1) and last_use (active -> used_up, R2) move it
    assert system.rules_of("card") == ("R1", "R2")
    assert system.rules_of("nothing") == ()
    shipped = load(None)
    assert shipped.rules_of("otp_card.login_since_issue") == ("R6", "R8", "R9", "Q4")


def test_an_observation_divergence_cites_the_step_and_the_variable():
    result = run("IssueCountsAsUse")
    assert result.status == "fail" and result.failure is not None
    failure = result.failure
    assert failure.kind == "observation"
    assert failure.step_rules == ("R1",)  # the issue step
    assert failure.subjects == (("card.uses", ("R1", "R2")),)
    assert failure.cited == ("R1", "R2")
    text = printed(result)
    assert "of step 1 (issue): R1" in text and "of card.uses: R1 R2" in text
    assert "R2  卡可使用1000次" in text  # the variable's rule, with its clause
    record = failure_record(result.system, failure, result.backend)
    assert record["rules"] == ["R1"] and record["subject_rules"] == {"card.uses": ["R1", "R2"]}
    source = replay_source(result.system, failure, result.backend, TINY)
    assert "SUBJECT_RULES = {'card.uses': ['R1', 'R2']}" in source


def test_an_outcome_divergence_prints_as_before(tmp_path):
    result = run("make_card", backend_options=(("min_pin", 5),), out=str(tmp_path))
    assert result.status == "fail" and result.failure is not None
    assert result.failure.subjects == ()
    assert "of step" not in printed(result)
    data = read_failure(tmp_path / "failure.json")
    assert data["subject_rules"] == {} and data["rules"] == ["R1"]


# -- the step numbers of a backend error ------------------------------------------------------


def test_a_backend_error_at_the_first_step_is_numbered_as_listed():
    result = run("FailsAtOnce")
    assert result.status == "error" and len(result.error_steps) == 1
    text = printed(result)
    assert "after 0 steps" not in text
    assert ("at step 1 (issue), the last one listed, which got no answer; no step of this "
            "example answered before it:") in text
    assert "        1. issue(" in text and "-> no answer" in text


def test_a_failing_observe_is_after_the_step_that_answered():
    result = run("ObserveFails")
    assert result.status == "error" and result.error is not None
    assert result.error.call == "observe()"
    text = printed(result)
    assert "in observe() after step 1 (issue), the last one listed, which answered:" in text
    assert "1. issue(" in text and "-> accepted" in text


def test_a_failing_reset_is_before_step_1():
    result = run("ResetFails")
    assert result.status == "error" and result.error_steps == ()
    assert "in reset(), before step 1 of an example" in printed(result)


def test_the_supervisor_counts_the_steps_of_the_whole_run():
    assert run_position(0) == "before its first step"
    assert run_position(7) == "at step 7 of the run (counted over all its examples)"


# -- --backend-option -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "pair"), [
    ("min_pin=5", ("min_pin", 5)),
    ("ratio=2.5", ("ratio", 2.5)),
    ("durable=true", ("durable", True)),
    ("durable=false", ("durable", False)),
    ("clock=null", ("clock", None)),
    ('name="5"', ("name", "5")),
    ("path=/tmp/bank.sqlite3", ("path", "/tmp/bank.sqlite3")),
    ("empty=", ("empty", "")),
    ("items=[1, 2]", ("items", "[1, 2]")),  # JSON lists stay text
    ("url=http://h:1/?a=b", ("url", "http://h:1/?a=b")),  # the first '=' splits
])
def test_a_backend_option_value_is_a_json_scalar_or_the_text(text, pair):
    assert parse_backend_option(text) == pair


@pytest.mark.parametrize("text", ["min_pin", "=5", "min-pin=5", "2x=1"])
def test_a_backend_option_must_be_key_equals_value(text):
    with pytest.raises(BackendOptionError, match="give KEY=VALUE"):
        parse_backend_option(text)


def test_a_backend_option_given_twice_is_an_error():
    with pytest.raises(BackendOptionError, match="min_pin given more than once"):
        parse_backend_options(["min_pin=5", "limit=3", "min_pin=6"])


def test_check_options_keep_the_pairs_as_tuples():
    options = CheckOptions(backend="x", backend_options=[["min_pin", 5]])  # type: ignore[arg-type]
    assert options.backend_options == (("min_pin", 5),)
    assert hash(options) == hash(CheckOptions(backend="x", backend_options=(("min_pin", 5),)))


def test_an_option_the_factory_does_not_take_names_what_it_takes():
    factory = resolve_backend(f"{FAULTS}:make_card")
    check_backend_options(factory, "card", [("min_pin", 5), ("limit", 3)])
    with pytest.raises(BackendOptionError) as raised:
        check_backend_options(factory, "card", [("min_pin", 5), ("pin_length", 5)])
    message = str(raised.value)
    assert "--backend-option pin_length" in message and "make_card" in message
    assert "the options it takes: min_pin, limit" in message
    with pytest.raises(BackendOptionError, match="the harness itself gives the factory"):
        check_backend_options(factory, "card", [("specs", "x")])
    # **kwargs takes anything (the factory decides); a fault factory's fault name is not an
    # option
    check_backend_options(resolve_backend("bank"), "bank", [("kdf_iterations", 64)])
    faulty = resolve_backend(f"{FAULTS}:make_faulty[weak_pin]")
    assert isinstance(faulty, Fault)
    check_backend_options(faulty, "faulty", [("limit", 3)])
    with pytest.raises(BackendOptionError, match="takes no keyword argument 'fault'"):
        check_backend_options(faulty, "faulty", [("fault", "none")])


def test_backend_options_reach_the_factory_in_every_mode():
    assert run("make_card").status == "pass"
    weak = run("make_card", backend_options=(("min_pin", 5),))
    assert weak.status == "fail" and weak.failure is not None
    assert weak.failure.last.expected.reason == "weak_pin"
    low = run("make_card", backend_options=(("limit", 50),), backend_mode="process")
    assert low.status == "fail" and low.failure is not None
    assert low.failure.last.expected.accepted  # the backend refused a spend the spec allows
    wrong = run("make_card", backend_options=(("pin", 5),))
    assert wrong.status == "error" and wrong.usage is not None
    assert "takes no keyword argument 'pin'" in wrong.usage


def test_the_check_command_takes_backend_options(app, tmp_path):
    args = ["check", "--backend", f"{FAULTS}:make_card", "--specs", TINY, "--seed", "1",
            "--database", "none", "--out", str(tmp_path), "--examples", "8", "--max-seconds",
            "10", "--no-coverage-table"]
    weak = invoke(app, *args, "--backend-option", "min_pin=5")  # supervised: a JSON trip
    assert weak.exit_code == 1, weak.output
    assert "expected: rejected(weak_pin)" in weak.output
    replay = next(tmp_path.glob("replay_*.py")).read_text(encoding="utf-8")
    assert "BACKEND_OPTIONS = {'min_pin': 5}" in replay
    assert "Replayer(BACKEND, SPECS, options=BACKEND_OPTIONS, here=__file__)" in replay
    bad = invoke(app, *args, "--backend-option", "min_pin")
    assert bad.exit_code == 2 and "give KEY=VALUE" in bad.output
    unknown = invoke(app, *args, "--backend-option", "nope=1", "--no-supervise")
    assert unknown.exit_code == 2 and "takes no keyword argument 'nope'" in unknown.output


def test_a_replay_is_made_with_the_same_options():
    replay = Replayer(f"{FAULTS}:make_card", TINY, options={"min_pin": 5})
    try:
        with pytest.raises(ReplayMismatch, match="step 1 issue: the spec expects "
                                                 "rejected\\(weak_pin\\)"):
            replay.step(1, "issue", {"pin": "abc12"}, "rejected(weak_pin)")
    finally:
        replay.close()


def test_the_pytest_plugin_takes_backend_options(tmp_path):
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir",
               str(tmp_path), "--authspec-backend", f"{FAULTS}:make_card", "--authspec-specs",
               TINY, "--authspec-seed", "1", "--authspec-examples", "8",
               "--authspec-max-seconds", "8"]
    weak = subprocess.run([*command, "--authspec-backend-option", "min_pin=5"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert weak.returncode == 1 and "expected: rejected(weak_pin)" in weak.stdout, weak.stdout


# -- a team's own mutant sets -----------------------------------------------------------------


def mutants(app, tmp_path, *args: str):
    return invoke(app, "mutants", "--specs", TINY, "--examples", "8", "--steps", "20",
                  "--max-seconds", "10", "--out", str(tmp_path), *args)


def test_a_sequence_of_our_own_mutants(app, tmp_path):
    result = mutants(app, tmp_path, "--mutant-set", f"{FAULTS}:MUTANTS",
                     "--markdown", str(tmp_path / "table.md"))
    assert result.exit_code == 0, result.output
    assert "2/2 killed" in result.output and "beyond_limit" in result.output
    table = (tmp_path / "table.md").read_text(encoding="utf-8")
    assert "| `weak_pin` | R1 |" in table and "cited rules no mutant targets: R2" in table
    assert (tmp_path / "mutants" / "beyond_limit" / "failure.json").is_file()
    only = mutants(app, tmp_path, "--set", f"{FAULTS}:MUTANTS", "--only", "weak_pin")
    assert only.exit_code == 0 and "1/1 killed" in only.output


def test_a_factory_of_faults_with_the_faults_named(app, tmp_path):
    result = mutants(app, tmp_path, "--set", f"{FAULTS}:make_faulty", "--mutant",
                     "weak_pin=R1", "--mutant", "beyond_limit=R3", "--mutant", "none",
                     "--backend-option", "limit=10000")
    assert result.exit_code == 1, result.output  # "none" is the correct card: it survives
    assert "2/3 killed" in result.output and "survivors: none" in result.output
    assert "weak_pin     │ R1" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (("--set", f"{FAULTS}:make_faulty"), "is a factory: name the faults to give it with "
                                         "--mutant NAME"),
    (("--set", f"{FAULTS}:MUTANTS", "--mutant", "weak_pin"), "select among them with --only"),
    (("--set", f"{FAULTS}:BROKEN"), "item 1 (<object object"),
    (("--set", f"{FAULTS}:NOTHING"), "has no attribute 'NOTHING'"),
    (("--mutant", "weak_pin"), "to select mutants of a declared set use --only"),
])
def test_a_mutant_set_that_cannot_run_says_why(app, tmp_path, args, message):
    result = mutants(app, tmp_path, *args)
    assert result.exit_code == 2 and message in result.output.replace("\n", " "), result.output


def test_our_mutants_are_backends_named_set_and_name():
    assert resolve_backend(f"{FAULTS}:MUTANTS[weak_pin]")().MIN_PIN == 5
    assert resolve_backend(f"{FAULTS}:make_faulty[beyond_limit]")().LIMIT == 10001
    with pytest.raises(BackendNotFound, match=r"has no mutant named 'x' \(known: weak_pin, "
                                              r"beyond_limit\)"):
        resolve_backend(f"{FAULTS}:MUTANTS[x]")


# -- unobserved_in ----------------------------------------------------------------------------

UNOBSERVED = ("spent: {type: int, min: 0, max: 10000, initial: 0, unit: fen}",
              "spent: {type: int, min: 0, max: 10000, initial: 0, unit: fen, "
              "unobserved_in: [full]}")


def test_a_variable_left_unobserved_in_a_state_is_not_compared_there(tmp_path):
    strict = run("ForgetsSpentWhenFull")
    assert strict.status == "fail" and strict.failure is not None
    assert strict.failure.differences == ("wallet.spent: the model has 10000, the backend 0",)
    assert strict.failure.subjects == (("wallet.spent", ("R3",)),)
    spec = spec_copy(TINY_DIR, tmp_path, UNOBSERVED, file="wallet.yaml")
    variable = next(v for v in load(spec).variables if v.name == "spent")
    assert variable.unobserved_in == ("wallet.full",)  # a bare state is of its own machine
    lenient = run("ForgetsSpentWhenFull", specs=str(spec))
    assert lenient.status == "pass", printed(lenient)
    assert lenient.coverage is not None and lenient.coverage.states["wallet.full"] > 0
    # still compared in the other states
    off = run("OffWhileOpen", specs=str(spec))
    assert off.status == "fail" and off.failure is not None
    assert off.failure.kind == "observation"


def test_an_unknown_state_in_unobserved_in_is_a_located_error(tmp_path):
    edit = (UNOBSERVED[0], UNOBSERVED[1].replace("[full]", "[full, card.gone]"))
    spec = spec_copy(TINY_DIR, tmp_path, edit, file="wallet.yaml")
    with pytest.raises(SpecErrors) as raised:
        load(spec)
    (error,) = raised.value.errors
    line = (spec / "wallet.yaml").read_text(encoding="utf-8").splitlines()[6]
    assert str(error.span).endswith(f"wallet.yaml:7:{line.index('card.gone') + 1}")
    assert "no state 'card.gone'" in error.message and "card.none" in error.hint


def test_unobserved_in_is_in_the_schema_and_checked_by_it(tmp_path):
    schema = json.loads((HERE.parent / "model" / "schema" / "authspec.schema.json").read_text(
        encoding="utf-8"))
    key = schema["$defs"]["variable"]["properties"]["unobserved_in"]
    assert "not compare" in key["description"]
    edit = (UNOBSERVED[0], UNOBSERVED[1].replace("[full]", "[Full]"))
    with pytest.raises(SpecErrors, match="'Full' is not a valid name"):
        load(spec_copy(TINY_DIR, tmp_path, edit, file="wallet.yaml"))


def test_today_specs_compare_every_variable_everywhere():
    assert all(v.unobserved_in == () for v in load(TINY).variables)
    variable = next(v for v in load(None).variables if v.qualified == "otp_card.login_since_issue")
    assert variable.unobserved_in == ("otp_card.used_up",)
    assert variable.observed_in({"otp_card": "active"})
    assert not variable.observed_in({"otp_card": "used_up"})
