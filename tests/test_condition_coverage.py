"""Condition coverage and MC/DC (issue 10, weaknesses 2 and 3).

A refusal counts as covered when any one of its cases was sent; its guard may have two
routes of which only one was ever taken. The run therefore also records, from the model's
own evaluation of every step, each atomic condition of each guard seen true and seen false
and its MC/DC pair, proves the impossible gaps with Z3, reports all of it (summary,
coverage.json, report), and the sweep targets what is still missing on the roadmap's
shortest route.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from authspec.diagrams.dot import Options, machine_dot
from authspec.diagrams.overlay import Coverage as OverlayCoverage
from authspec.diagrams.report import Report
from authspec.harness.backends import Backend, make_model_adapter
from authspec.harness.conditions import goal_steps
from authspec.harness.console import coverage_summary
from authspec.harness.coverage import ConditionGap, Coverage, _impossible, condition_guards
from authspec.harness.driver import RunState
from authspec.harness.options import CheckOptions
from authspec.harness.roadmap import Goal, Roadmap
from authspec.harness.run import check
from authspec.harness.runfiles import coverage_record, read_coverage, write_coverage
from authspec.harness.strategies import Memory, analyse, candidates
from authspec.harness.sweep import sweep, sweep_conditions
from authspec.model import Executable, load
from authspec.model.checks import condition_possible, pair_possible
from authspec.model.loader import default_spec_dir
from authspec.model.semantics import condition_values, guard_conditions, semantics_of

SHIPPED = load()
SHIPPED_DIR = default_spec_dir()
BEYOND = "static_password.pay_beyond_quota"  # method == 'static' and spent + amount > 30000


def _active_static(spent: int) -> Any:
    semantics = semantics_of(SHIPPED)
    initial = semantics.initial
    states = list(initial.states)
    states[semantics.machine_index["static_password"]] = "active"
    values = list(initial.values)
    values[semantics.variable_index["static_password.spent"]] = spent
    return type(initial)(tuple(states), tuple(values))


def _pay(method: str, amount: int) -> dict[str, Any]:
    event = SHIPPED.event("pay")
    params: dict[str, Any] = {p.name: p.type.values[0] if p.type.kind == "enum" else
                              0 if p.type.kind == "int" else
                              False if p.type.kind == "bool" else "x" for p in event.params}
    return {**params, "method": method, "amount": amount}


def test_the_semantics_gives_each_condition_of_a_guard() -> None:
    semantics = semantics_of(SHIPPED)
    rejection = next(r for r in SHIPPED.rejections if r.id == BEYOND)
    assert rejection.guard is not None
    conditions = guard_conditions(semantics, rejection.guard.tree)
    assert [c.source for c in conditions.conditions] == [
        "method == 'static'", "static_password.spent + amount > 30000"]
    snapshot = _active_static(29000)
    assert condition_values(conditions, snapshot, _pay("static", 2000)) == (True, True)
    assert condition_values(conditions, snapshot, _pay("otp", 1000)) == (False, False)
    # In 'a and b', a decides alone only where b holds.
    assert conditions.decides((True, True), 0) and not conditions.decides((True, False), 0)
    assert conditions.outcome((True, True)) and not conditions.outcome((False, True))


def test_a_run_records_true_false_and_the_mcdc_pair_of_what_the_model_evaluates() -> None:
    coverage = Coverage(SHIPPED)
    semantics = semantics_of(SHIPPED)
    analysis = analyse(SHIPPED)
    roadmap = Roadmap(SHIPPED, analysis)
    index = roadmap.find(Goal("rejection", BEYOND, "pay"))
    assert index is not None
    model = Executable(SHIPPED)
    model.restore(roadmap.nodes[index].snapshot)
    options = candidates(analysis, model, "pay", Memory())
    refused = analysis.repair(model, "pay", roadmap.defaults("pay", options), options,
                              refuse_by=BEYOND)
    snapshot = model.current
    for params in (refused, {**refused, "amount": 1}):
        outcome, _after = semantics.step(snapshot, "pay", params)
        coverage.record_conditions(snapshot, params, outcome)
    status = coverage.condition_status(BEYOND)
    # method true both times: never false, so no pair for it; the amount's condition was
    # true then false with the method holding: its MC/DC pair.
    assert (status[0].true, status[0].false, status[0].pair) == (True, False, None)
    assert status[1].true and status[1].false
    assert status[1].pair == ((True, True), (True, False))
    ids = {g.id for g in coverage.condition_gaps()}
    assert f"{BEYOND}[0]=false" in ids and f"{BEYOND}[1]=mcdc" not in ids


def test_a_guard_the_model_does_not_reach_is_not_counted() -> None:
    coverage = Coverage(SHIPPED)
    semantics = semantics_of(SHIPPED)
    snapshot = semantics.initial  # static_password unavailable: its pay guards are not tried
    params = _pay("static", 2000)
    outcome, _after = semantics.step(snapshot, "pay", params)
    coverage.record_conditions(snapshot, params, outcome)
    assert BEYOND not in coverage.vectors


def test_z3_proves_impossible_gaps_and_allows_possible_ones() -> None:
    # install_driver's guard (the driver's brand is the U-key's: brand == 'brand_a' and
    # key_brand == 'brand_a' or ... 'brand_b') is tried only once the refusal of a wrong
    # brand did not apply: it is never false where it is evaluated, so no condition of it
    # can be false and alone decide it; each can be false (the other brand's route holds).
    for index in range(4):
        assert condition_possible(SHIPPED, "ukey.install_driver", index, False,
                                  deciding=True) == "unsat"
        assert condition_possible(SHIPPED, "ukey.install_driver", index, False) == "sat"
        assert condition_possible(SHIPPED, "ukey.install_driver", index, True) == "sat"
    assert condition_possible(SHIPPED, BEYOND, 1, False, deciding=True) == "sat"


class Recorder:
    """The model as a backend."""

    def __init__(self) -> None:
        self.inner = make_model_adapter(SHIPPED)

    def reset(self) -> None:
        self.inner.reset()

    def perform(self, event: str, params: dict[str, Any]) -> Any:
        return self.inner.perform(event, params)

    def close(self) -> None:
        pass


def test_the_sweep_targets_the_conditions_the_goal_sweep_left() -> None:
    backend = Backend(Recorder, SHIPPED, name="recorder")
    run = RunState(SHIPPED, backend, CheckOptions(backend="recorder", max_seconds=60))
    assert sweep(run, list(run.roadmap.goals)) is None  # the goals alone
    before = {g.id for g in run.coverage.condition_gaps()}
    assert sweep_conditions(run) is None
    after = {g.id for g in run.coverage.condition_gaps()}
    assert after < before, sorted(before - after)


def test_summary_coverage_json_and_report_show_condition_coverage(tmp_path: Path) -> None:
    result = check(CheckOptions(backend="model", examples=3, steps=10, seed=1,
                                database=None, out=str(tmp_path), max_seconds=30,
                                sweep=False))
    assert result.coverage is not None
    line = coverage_summary(result.coverage)
    assert "conditions " in line and "MC/DC " in line and "unreachable" in line
    data = read_coverage(tmp_path / "coverage.json")
    assert data["transitions"] and data["totals"]  # the earlier keys stay
    totals = data["condition_totals"]
    declared = sum(len(c.conditions) for _k, c in condition_guards(SHIPPED).values())
    assert totals["mcdc"]["declared"] == declared
    assert totals["conditions"]["declared"] == 2 * declared
    assert data["conditions"][BEYOND]["conditions"][1]["source"] == \
        "static_password.spent + amount > 30000"
    assert "ukey.install_driver[0]=mcdc" in data["unreachable"]
    assert set(data["condition_gaps"]).isdisjoint(data["unreachable"])
    overlay = OverlayCoverage.from_run_file(data, "coverage.json")
    assert overlay.conditions_line().startswith("conditions ")
    html = Report(SHIPPED, coverage=overlay).html()
    assert 'id="conditions"' in html and "Proven unreachable" in html
    dot = machine_dot(SHIPPED, SHIPPED.machine("otp_card"), Options(coverage=overlay))
    assert overlay.conditions_line() in dot


def test_coverage_files_without_condition_keys_still_read(tmp_path: Path) -> None:
    path = write_coverage(tmp_path, Coverage(SHIPPED))
    data = json.loads(path.read_text())
    for key in ("conditions", "condition_totals", "condition_gaps", "unreachable"):
        del data[key]
    path.write_text(json.dumps(data))
    assert read_coverage(path)["steps"] == 0
    assert OverlayCoverage.from_run_file(data, "old").conditions_line() == ""
    assert set(coverage_record(Coverage(SHIPPED))) >= set(data)


# -- the gaps the shipped specs left: proven by invariants, or reached by the sweep -------------

#: the gaps of a correct run of the bank that only a cross-machine or machine invariant makes
#: impossible (the invariant's id: specs/system.yaml, otp_card.yaml, ukey.yaml)
PROVEN_BY_INVARIANTS = {
    # a registered customer has a login password, so a login that reaches the counter
    # password's transition always has one of the two: not counter_set means customer_set
    ("session.login_with_counter_password", 0, "false"): "login_password_set_at_registration",
    ("session.login_with_counter_password", 0, "mcdc"): "login_password_set_at_registration",
    # uses + 1 == 1000 false where pay (uses + 1 < 1000) did not fire: only at 1000 uses
    ("otp_card.pay_last_use", 1, "mcdc"): "active_card_has_a_use_left",
    # key_brand == 'brand_a' (or 'brand_b') changing alone needs a U-key held without a
    # brand (the bank's mutant ukey_brand_not_recorded is one)
    ("ukey.driver_of_other_brand", 1, "mcdc"): "held_ukey_has_a_brand",
    ("ukey.driver_of_other_brand", 3, "mcdc"): "held_ukey_has_a_brand",
}


def _verdict(system: Any, element: str, index: int, what: str) -> str:
    if what == "mcdc":
        return pair_possible(system, element, index)
    return condition_possible(system, element, index, what == "true")


def _without_invariant(tmp_path: Path, invariant: str) -> Any:
    """The shipped specs, copied, with ``invariant`` left out of its file."""
    specs = tmp_path / invariant
    shutil.copytree(Path(SHIPPED_DIR), specs)
    for path in specs.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        kept = [i for i in doc.get("invariants", []) or [] if i["id"] != invariant]
        if len(kept) != len(doc.get("invariants", []) or []):
            if kept:
                doc["invariants"] = kept
            else:
                del doc["invariants"]
            path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    return load(specs)


def test_the_invariants_prove_the_gaps_a_correct_bank_run_left(tmp_path: Path) -> None:
    systems: dict[str, Any] = {}
    for (element, index, what), invariant in PROVEN_BY_INVARIANTS.items():
        assert _verdict(SHIPPED, element, index, what) == "unsat", (element, index, what)
        if invariant not in systems:
            systems[invariant] = _without_invariant(tmp_path, invariant)
        without = systems[invariant]
        assert _verdict(without, element, index, what) == "sat", (element, index, invariant)


def test_an_mcdc_pair_of_coupled_conditions_is_proven_impossible() -> None:
    # brand == 'brand_a' and brand == 'brand_b' (a two-valued enum) each decide the wrong
    # brand's refusal at some point, but neither changes while the other stays: no pair
    for index in (0, 2):
        assert condition_possible(SHIPPED, "ukey.driver_of_other_brand", index, True,
                                  deciding=True) == "sat"
        assert pair_possible(SHIPPED, "ukey.driver_of_other_brand", index) == "unsat"
    assert pair_possible(SHIPPED, BEYOND, 1) == "sat"  # spent + amount > 30000 alone
    gap = ConditionGap("rejection", "ukey.driver_of_other_brand", 0, "brand == 'brand_a'",
                       "mcdc")
    assert "differ in 'brand == 'brand_a'' alone" in (_impossible(SHIPPED, gap) or "")


def test_the_roadmap_reaches_a_ukey_payment_at_the_999th_use_of_a_card() -> None:
    # otp_card.pay_last_use[0]: method == 'otp' alone deciding the last use, the other side
    # of the pair a U-key payment at 999 uses; the roadmap explores past the counted state
    # (the 999th use) apart from the same abstract state with fewer uses, and the repair
    # stuck on a static payment (refused: superseded) restarts from a U-key one
    roadmap = Roadmap(SHIPPED, analyse(SHIPPED))
    goal = Goal("condition", "otp_card.pay_last_use", "pay", 0, "mcdc")
    index = roadmap.find(goal)
    assert index is not None
    roadmap.model.restore(roadmap.nodes[index].snapshot)
    assert roadmap.model.values["otp_card.uses"] == 999
    steps = goal_steps(roadmap, roadmap.analysis, roadmap.model, goal, Memory())
    assert steps is not None
    assert [s["method"] for s in steps] == ["otp", "ukey"]


@pytest.mark.slow
def test_a_correct_bank_run_has_complete_condition_coverage(tmp_path: Path) -> None:
    result = check(CheckOptions(backend="bank", seed=1, database=None, out=str(tmp_path)))
    assert result.coverage is not None
    proven = result.coverage.unreachable()
    left = [g.id for g in result.coverage.condition_gaps() if g not in proven]
    # every gap is reached or proven unreachable (the last two by held_ukey_has_a_brand)
    assert left == []
