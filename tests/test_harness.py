"""Tests of the conformance harness (issue 3) against the model itself and tiny adapters.

The tiny spec (tests/harness_specs/tiny) has a card good for 1000 uses with a PIN policy and
a 100 yuan wallet; tests/harness_specs/adapters.py implements it by hand, correctly and
with one fault each. Every run is seeded, with the example database off, so the suite is
deterministic.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authspec.harness.adapter import Response
from authspec.harness.backends import (
    BackendNotFound,
    ModelAdapter,
    load_object,
    open_backend,
    resolve_backend,
)
from authspec.harness.console import trace_lines
from authspec.harness.options import CheckOptions
from authspec.harness.records import conforms
from authspec.harness.replay_file import replay_source
from authspec.harness.roadmap import Roadmap
from authspec.harness.run import check
from authspec.harness.runfiles import RUN_FORMAT, coverage_record, read_coverage
from authspec.harness.strategies import Memory, analyse, draw_params, params_strategy, shapes
from authspec.model import Executable, Outcome, load

HERE = Path(__file__).parent
TINY = str(HERE / "harness_specs" / "tiny")
ADAPTERS = str(HERE / "harness_specs" / "adapters.py")


def tiny(factory: str, **overrides) -> CheckOptions:
    options = {"backend": f"{ADAPTERS}:{factory}", "specs": TINY, "seed": 1,
               "database": None, "out": None, "examples": 40, "max_seconds": 20.0,
               "timeout": 2.0}
    options.update(overrides)
    return CheckOptions(**options)


# -- backends -----------------------------------------------------------------------------------


def test_registered_names_and_module_factory_resolve():
    assert resolve_backend("model").__name__ == "make_model_adapter"
    assert callable(resolve_backend(f"{ADAPTERS}:make_tiny"))
    assert callable(load_object("authspec.harness.backends:make_model_adapter"))


@pytest.mark.parametrize("name", ["nosuch", "no.such.module:make", "authspec.harness:nothing",
                                  "mutant", ""])
def test_unresolvable_backends_are_usage_errors(name):
    with pytest.raises(BackendNotFound):
        resolve_backend(name)
    result = check(CheckOptions(backend=name, specs=TINY, database=None, out=None))
    assert result.status == "error" and result.exit_code == 2 and result.usage


def test_model_adapter_answers_like_the_model():
    system = load(TINY)
    adapter, model = ModelAdapter(system), Executable(system)
    for event, params in [("use", {"pin": "a1b2c3"}), ("issue", {"pin": "a1b2c3"}),
                          ("use", {"pin": "a1b2c3"}), ("use", {"pin": "A1B2C3"})]:
        outcome = model.step(event, params)
        assert conforms(outcome, adapter.perform(event, params))
    assert adapter.observe().states == model.configuration
    assert "card.secret_pin" not in adapter.observe().variables


def test_conforms_compares_acceptance_and_reason():
    accepted = Outcome("e", True)
    refused = Outcome("e", False, "weak_pin")
    assert conforms(accepted, Response.ok())
    assert not conforms(accepted, Response.rejected("weak_pin"))
    assert conforms(refused, Response.rejected("weak_pin"))
    assert not conforms(refused, Response.rejected("wrong_pin"))
    assert not conforms(refused, Response.ok())


# -- strategies -----------------------------------------------------------------------------------


def test_int_boundaries_follow_the_model_state():
    system = load(TINY)
    analysis, model = analyse(system), Executable(system)
    amount = system.event("spend").param("amount")
    assert analysis.int_boundaries(model, "spend", amount)[:3] == [9999, 10000, 10001]
    model.step("spend", {"amount": 2500})
    assert analysis.int_boundaries(model, "spend", amount)[:3] == [7499, 7500, 7501]


def test_counters_are_derived_from_guards():
    system = load(TINY)
    analysis, model = analyse(system), Executable(system)
    (counter,) = analysis.counters
    assert counter.variable == "card.uses" and counter.step == 1
    assert set(counter.transitions) == {"card.use", "card.last_use"}
    assert counter.remaining(model.values, model.states) == [998, 999, 1000, 1001]


def test_policy_violations_break_the_policy_one_way_each():
    from authspec.model.expr import policy_checker

    system = load(TINY)
    pin = system.policy("pin")
    fits = policy_checker(pin)
    shape = shapes(pin)
    assert fits(shape.example(6)) and fits(shape.example(12))
    violations = shape.violations()
    assert not any(fits(v) for v in violations)
    lengths = {len(v) for v in violations}
    assert {5, 13} <= lengths
    assert any(v.isalpha() for v in violations) and any(v.isdigit() for v in violations)


@functools.cache
def tiny_system():
    return load(TINY)


@settings(max_examples=200, database=None, derandomize=True)
@given(st.data())
def test_drawn_amounts_are_in_range_and_mostly_at_boundaries(data):
    system = tiny_system()
    analysis, model, memory = analyse(system), Executable(system), Memory()
    amount = draw_params(data.draw, analysis, model, "spend", memory)["amount"]
    assert 1 <= amount <= 100000


def test_string_draws_reach_each_category():
    from hypothesis import find

    system = tiny_system()
    analysis, model, memory = analyse(system), Executable(system), Memory()
    model.step("issue", {"pin": "abc123"})
    memory.note(model, analysis.str_variables)

    def pins():
        return params_strategy(analysis, model, "use", memory).map(lambda p: p["pin"])

    quick = settings(database=None, max_examples=2000, derandomize=True)
    assert find(pins(), lambda p: p == "abc123", settings=quick) == "abc123"
    assert find(pins(), lambda p: p == "ABC123", settings=quick) == "ABC123"
    assert len(find(pins(), lambda p: len(p) == 5, settings=quick)) == 5
    assert len(find(pins(), lambda p: len(p) == 13, settings=quick)) == 13


def test_repair_reaches_acceptance_and_chosen_refusals():
    system = load()
    analysis, model, memory = analyse(system), Executable(system), Memory()
    from authspec.harness.strategies import candidates

    raw = {p.name: False if p.type.kind == "bool" else
           (p.type.values[-1] if p.type.kind == "enum" else "") for p in
           system.event("register").params}
    options = candidates(analysis, model, "register", memory)
    accepted = analysis.repair(model, "register", raw, options)
    assert model.with_state(lambda: model.step("register", accepted)).accepted
    for rejection in analysis.applicable_rejections(model, "register"):
        params = analysis.repair(model, "register", raw, options, refuse_by=rejection.id)
        outcome = model.with_state(lambda p=params: model.step("register", p))
        if analysis.refusal_score(model, "register", params, rejection.id) == 0:
            assert outcome.rejection == rejection.id


def test_roadmap_routes_reach_their_goals():
    system = load()
    roadmap = Roadmap(system, analyse(system))
    model = Executable(system)
    by_id = {g.id: g for g in roadmap.goals}
    for goal_id in ("ukey.pay_without_certificate", "otp_card.b2c_before_login",
                    "otp_card.pay_last_use"):
        route = roadmap.route(by_id[goal_id])
        assert route is not None
        model.reset()
        for event, params, times in route:
            for _ in range(times):
                assert model.step(event, params).accepted
        assert roadmap.find(by_id[goal_id]) is not None
    assert roadmap.route(by_id["otp_card.pay_last_use"])[-1][2] == 999


# -- runs ---------------------------------------------------------------------------------------


def test_the_model_conforms_to_itself_on_the_tiny_spec():
    result = check(tiny("make_tiny", backend="model", examples=12, steps=25))
    assert result.status == "pass", result.failure
    assert result.coverage.uncovered("transitions") == []
    assert result.coverage.uncovered("rejections") == []


def test_the_model_conforms_to_itself_on_the_shipped_specs():
    # No time budget: on a loaded machine it would cut the sweep short (the counts bound it).
    result = check(CheckOptions(backend="model", seed=3, database=None, out=None,
                                examples=15, steps=20, max_seconds=None))
    assert result.status == "pass", result.failure
    summary = result.coverage.summary()
    assert summary["transitions"][0] == summary["transitions"][1]
    assert summary["rejections"][0] >= summary["rejections"][1] - 1


def test_a_hand_written_implementation_conforms():
    result = check(tiny("make_tiny", examples=15, steps=30))
    assert result.status == "pass", result.failure and trace_lines(load(TINY), result.failure)


def test_a_wrong_adapter_is_caught_at_the_right_step():
    result = check(tiny("make_weak_pin"))
    assert result.status == "fail" and result.exit_code == 1
    failure = result.failure
    assert len(failure.steps) == 1
    step = failure.last
    assert step.event == "issue" and len(step.params["pin"]) == 5
    assert str(step.expected) == "rejected(weak_pin)" and step.actual == Response.ok()
    assert failure.kind == "outcome" and "R1" in failure.rules


def test_observations_are_compared_and_secrets_are_not():
    result = check(tiny("make_wrong_observation"))
    assert result.status == "fail" and result.failure.kind == "observation"
    assert any("wallet.spent" in d for d in result.failure.differences)


@pytest.mark.parametrize(("factory", "kind"), [("make_raising", "exception"),
                                               ("make_hanging", "timeout"),
                                               ("make_garbage", "garbage")])
def test_backend_failures_are_errors_not_nonconformances(factory, kind):
    result = check(tiny(factory, timeout=0.5))
    assert result.status == "error" and result.exit_code == 2
    assert result.failure is None and result.error.kind == kind
    assert result.error.call == "perform(use)"
    assert result.error_steps[-1].event == "use" and result.error_steps[-1].actual is None


def test_a_hang_is_caught_on_the_worker_thread_too():
    system = load(TINY)
    backend = open_backend(f"{ADAPTERS}:make_hanging", system, TINY, timeout=0.3,
                           mode="thread")
    try:
        backend.reset()
        assert backend.perform("issue", {"pin": "abc123"}) == Response.ok()
        with pytest.raises(Exception, match="timeout"):
            backend.perform("use", {"pin": "abc123"})
        assert backend.broken is not None
    finally:
        backend.close()


def test_the_repeat_rule_reaches_the_1000th_use():
    # Only the Hypothesis machine (no roadmap, no sweep): the repeat rule must get there.
    options = tiny("make_uses_1001", roadmap=False, sweep=False, observe=False,
                   examples=60, shrink_seconds=4)
    result = check(options)
    assert result.status == "fail", "the 1001st use went unnoticed"
    assert len(result.failure.steps) >= 1001
    assert result.failure.last.event == "use"
    without = check(tiny("make_uses_1001", roadmap=False, sweep=False, observe=False,
                         repeat=False, examples=60, max_seconds=6))
    assert without.status == "pass"  # uniform steps do not get there


def test_the_sweep_finds_an_early_retirement_with_a_short_trace():
    result = check(tiny("make_uses_999", observe=False))
    assert result.status == "fail"
    assert 999 <= len(result.failure.steps) <= 1001
    assert result.failure.last.expected.accepted


def test_runs_are_deterministic_with_a_seed():
    # No time budget: a run cut short by a busy machine would not repeat (the counts bound it).
    first = check(tiny("make_tiny", backend="model", examples=6, steps=15, max_seconds=None))
    second = check(tiny("make_tiny", backend="model", examples=6, steps=15, max_seconds=None))
    assert first.steps == second.steps
    assert coverage_record(first.coverage) == coverage_record(second.coverage)


def test_the_replay_file_runs_and_fails_at_the_divergent_step(tmp_path):
    result = check(tiny("make_weak_pin", out=str(tmp_path)))
    assert result.replay_path is not None and result.replay_path.exists()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(result.replay_path)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "step 1 issue: the spec expects rejected(weak_pin)" in run.stdout
    fixed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(result.replay_path)], capture_output=True, text=True,
                           cwd=tmp_path, timeout=120,
                           env={**_env(), "AUTHSPEC_REPLAY_BACKEND": f"{ADAPTERS}:make_tiny"})
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_the_replay_source_compresses_repeats():
    result = check(tiny("make_uses_999", observe=False))
    source = replay_source(load(TINY), result.failure, "x:y", TINY)
    assert "replay.repeat(" in source and source.count("replay.step(") <= 3
    compile(source, "replay.py", "exec")


def test_coverage_json_uses_the_ir_ids(tmp_path):
    result = check(tiny("make_tiny", backend="model", out=str(tmp_path), examples=4,
                        steps=10))
    assert result.coverage_path == tmp_path / "coverage.json"
    data = json.loads((tmp_path / "coverage.json").read_text())
    assert data["format"] == RUN_FORMAT and data["file"] == "coverage"
    assert read_coverage(tmp_path / "coverage.json") == data
    system = load(TINY)
    assert set(data["transitions"]) == {t.id for t in system.transitions}
    assert {r.id for r in system.rejections} <= set(data["rejections"])
    assert "card.active" in data["states"] and data["transitions"]["card.issue"] > 0
    assert data["totals"]["transitions"] == {"covered": 5, "declared": 5}
    assert set(data["events"]["use"]) == {"sent", "accepted", "rejected"}


def test_saved_failures_are_replayed_first(tmp_path):
    database = str(tmp_path / "db")
    first = check(tiny("make_weak_pin", database=database))
    assert first.status == "fail"
    from hypothesis.database import DirectoryBasedExampleDatabase

    from authspec.harness.run import _sweep_key

    db = DirectoryBasedExampleDatabase(database)
    assert list(db.fetch(_sweep_key(tiny("make_weak_pin"), load(TINY))))
    second = check(tiny("make_weak_pin", database=database))
    assert second.status == "fail" and second.steps <= 3  # found again by the first replay


def test_every_error_authspec_raises_derives_from_authspec_error():
    from authspec.harness.adapter import InvalidResponse
    from authspec.harness.backends import BackendFailure, BackendModeError
    from authspec.harness.mutation import MutantSetError
    from authspec.harness.records import BackendAbort, Nonconformance, RunInterrupt, RunOver
    from authspec.harness.replay import ReplayMismatch
    from authspec.harness.run import UsageError
    from authspec.harness.runfiles import RunFileError
    from authspec.model.errors import AuthspecError

    for error in (BackendNotFound, BackendFailure, BackendModeError, UsageError,
                  Nonconformance, ReplayMismatch, MutantSetError, RunFileError, InvalidResponse):
        assert issubclass(error, AuthspecError), error
    assert issubclass(Nonconformance, AssertionError) and issubclass(MutantSetError, ValueError)
    assert issubclass(RunFileError, ValueError) and issubclass(InvalidResponse, ValueError)
    with pytest.raises(InvalidResponse, match="needs the reason code"):
        Response(False)
    for interrupt in (BackendAbort, RunOver):  # let through by Hypothesis: not an Exception
        assert issubclass(interrupt, RunInterrupt) and issubclass(interrupt, KeyboardInterrupt)
        assert not issubclass(interrupt, Exception)
