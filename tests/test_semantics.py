"""The pure step (model/semantics.py): pure, and equal to the python-statemachine composition.

The differential test runs 2,030 random traces (Hypothesis, derandomized: 1,000 and 30 with
steps repeated a thousand times on the shipped specs, 500 each on the door and tiny specs)
through both ``Semantics.step`` and ``statechart.Composition`` (the charts python-statemachine
runs as parallel regions) and asserts the same outcome, reason, fired transitions, configuration and
values after every event. The runtime checks: an effect leaving its variable's range and a
division by zero are located model errors, never a silent overflow or a ZeroDivisionError.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spec_variants import door_copy

from authspec.model import Executable, ModelError, load
from authspec.model.ir import Event, System
from authspec.model.semantics import Semantics, Snapshot, semantics_of
from authspec.model.statechart import Composition, SharedModel, chart_classes, new_chart

TESTS = Path(__file__).parent
DOOR = TESTS / "specs" / "door"
SHIPPED = load()
LOCKOUT = TESTS.parent / "examples" / "lockout" / "specs"
SPECS = {"shipped": SHIPPED, "door": load(DOOR), "tiny": load(TESTS / "harness_specs" / "tiny"),
         "lockout": load(LOCKOUT)}

#: Values that make the shipped specs' events accepted often enough to reach deep states.
PASSWORDS = ["123456", "246810", "Login2024", "Pay2024x", "abc123", "12345", "", "LOGIN2024"]
REGISTER = dict(local_account=True, registration_form=True, agreement_acknowledged=True,
                card_application_form=False, id_document="valid", card="registered_card",
                own_ukey=False, ukey_presented=False, ukey_brand="brand_a",
                initial_login_password="123456", initial_payment_password="246810")


def draw_params(rng: random.Random, event: Event, values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters from each declared domain, steered by the current values: the strings the
    model holds (the right passwords) and, for ints, the distances to the int variables'
    boundaries (the amount that lands exactly on a quota), so deep states are reached."""
    strings = [v for v in values.values() if isinstance(v, str)] + PASSWORDS
    ints = [v for v in values.values() if isinstance(v, int) and not isinstance(v, bool)]
    params: dict[str, Any] = {}
    for param in event.params:
        typ = param.type
        if typ.kind == "bool":
            params[param.name] = rng.random() < 0.5
        elif typ.kind == "int":
            lo = typ.min if typ.min is not None else -5
            hi = typ.max if typ.max is not None else 5
            near = sorted({lo, hi, min(max(1, lo), hi)} | {
                n for v in ints for c in (30_000, 1000, 3) if lo <= (n := c - v) <= hi})
            params[param.name] = (rng.choice(near) if rng.random() < 0.75
                                  else rng.randint(lo, min(hi, lo + 40_000)))
        elif typ.kind == "enum":
            params[param.name] = rng.choice(typ.values)
        else:
            params[param.name] = rng.choice(strings)
    return params


SHORT_REPEATS = [1] * 14 + [2, 3]
LONG_REPEATS = [1] * 6 + [999, 1000]
SEEDS = st.integers(0, 2**32 - 1)


def steered_params(data: st.DataObject, semantics: Semantics, snapshot: Snapshot,
                   event: Event) -> dict[str, Any]:
    """Three times in four, the first of sixteen drawn parameter sets that the event accepts
    (when one does): random traces then go deep instead of being refused at the door. One
    seed drawn by Hypothesis decides them all (cheap to draw, shrinks to simpler traces)."""
    rng = random.Random(data.draw(SEEDS))
    values = semantics.values_of(snapshot)
    first = draw_params(rng, event, values)
    if rng.random() < 0.25:
        return first
    for params in [first] + [draw_params(rng, event, values) for _ in range(15)]:
        if semantics.step(snapshot, event.name, params)[0].accepted:
            return params
    return first


_COMPOSITIONS: dict[str, Composition] = {}


def assert_same_run(system: System, data: st.DataObject, length: int = 20,
                    repeats: list[int] = SHORT_REPEATS) -> None:
    """A random trace, drawn step by step against the current state, through both
    implementations, compared after every event. A step may be repeated (``repeats``) to
    cross the counters' boundaries."""
    semantics = semantics_of(system)
    composition = _COMPOSITIONS.get(system.name)
    if composition is None:
        composition = _COMPOSITIONS[system.name] = Composition(system)
    composition.reset()
    snapshot = semantics.initial
    assert composition.snapshot() == snapshot
    events = st.sampled_from(system.events)
    start = system is SHIPPED and data.draw(st.booleans())
    for index in range(length):
        if start and index == 0:
            name, params, times = "register", REGISTER, 1
        else:
            possible = [e for e in system.events if semantics.may_accept(snapshot, e.name)]
            event = data.draw(st.sampled_from(possible) if possible and data.draw(
                st.booleans()) else events)
            name, params = event.name, steered_params(data, semantics, snapshot, event)
            times = data.draw(st.sampled_from(repeats))
        for _ in range(times):
            before = snapshot
            outcome, snapshot = semantics.step(snapshot, name, params)
            expected = composition.step(name, params)
            where = f"step {index + 1} {name}({params})"
            assert outcome == expected, where
            assert snapshot == composition.snapshot(), where
            assert semantics.states_of(snapshot) == composition.model.states, where
            assert semantics.values_of(snapshot) == composition.model.values, where
            if not outcome.accepted and snapshot is before:  # a refusal that changed nothing
                break


@settings(max_examples=1000)
@given(st.data())
def test_pure_step_equals_the_statechart_composition_on_the_shipped_specs(
        data: st.DataObject) -> None:
    assert_same_run(SHIPPED, data)


@settings(max_examples=30)
@given(st.data())
def test_pure_step_equals_the_statechart_composition_across_counters(
        data: st.DataObject) -> None:
    """Steps repeated up to a thousand times: the OTP card's 1000th use and beyond."""
    assert_same_run(SHIPPED, data, length=40, repeats=LONG_REPEATS)


@pytest.mark.parametrize("name", ["door", "tiny", "lockout"])
def test_pure_step_equals_the_statechart_composition_on_other_specs(name: str) -> None:
    system = SPECS[name]

    @settings(max_examples=500)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        assert_same_run(system, data)

    check()


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(SHIPPED.events), st.data()), max_size=30))
def test_step_is_pure(events: list) -> None:
    """The same snapshot and event always give the same answer; a refusal returns the very
    snapshot it was given; snapshots are hashable values."""
    semantics = semantics_of(SHIPPED)
    snapshot = semantics.initial
    seen: dict[Snapshot, int] = {}
    for declared, data in events:
        rng = random.Random(data.draw(SEEDS))
        event, params = declared.name, draw_params(rng, declared, semantics.values_of(snapshot))
        before = snapshot
        outcome, snapshot = semantics.step(before, event, dict(params))
        again = semantics.step(before, event, dict(params))
        assert again == (outcome, snapshot)
        if not outcome.accepted:
            assert snapshot is before
        seen[snapshot] = seen.get(snapshot, 0) + 1


def test_executable_keeps_its_api_over_the_pure_step() -> None:
    model = Executable(SHIPPED)
    start = model.snapshot()
    outcome = model.send("register", **REGISTER)
    assert outcome.accepted and model.configuration["account"] != "unregistered"
    assert model.values["payment_password.current"] == "246810"
    with pytest.raises(TypeError):
        model.values["payment_password.current"] = "x"  # type: ignore[index]
    after = model.snapshot()
    model.restore(start)
    assert model.configuration["account"] == "unregistered"
    assert model.with_state(lambda: model.send("register", **REGISTER)).accepted
    assert model.snapshot() == start
    model.restore(after)
    assert model.snapshot() == after
    with pytest.raises(ModelError, match="another system"):
        model.restore(Snapshot(("x",), ()))


def test_exported_charts_are_python_statemachine_classes_on_a_shared_model() -> None:
    system = SPECS["door"]
    shared = SharedModel.initial(system)
    charts = {name: new_chart(cls, name, shared) for name, cls in chart_classes(system).items()}
    door = charts["door"]
    shared.params = {"code": "1234"}
    door.send("e_open")
    assert [s.id for s in door.configuration] == ["s_open"]
    assert shared.door_state == "s_open"  # type: ignore[attr-defined]
    assert shared.pending == [("door.opened_times", 1)]


def _door_variant(tmp_path: Path, old: str, new: str) -> System:
    return load(door_copy(tmp_path, (old, new)))


def test_an_effect_out_of_its_range_is_a_located_model_error(tmp_path: Path) -> None:
    system = _door_variant(tmp_path, "do: {opened_times: opened_times + 1}",
                           "do: {opened_times: opened_times * 2 + 2}")
    model = Executable(system)
    assert model.send("open", code="1234").accepted  # 0 -> 2
    assert model.send("close").accepted
    with pytest.raises(ModelError) as caught:
        model.send("open", code="1234")  # 2 -> 6, outside [0, 3]
    message = str(caught.value)
    assert "door.yaml:18:" in message and "gives 6" in message and "[0, 3]" in message
    assert "hint:" in message
    assert model.values["door.opened_times"] == 2  # nothing committed


def test_a_division_by_zero_is_a_located_model_error(tmp_path: Path) -> None:
    system = _door_variant(tmp_path, "when: opened_times < 3\n",
                           "when: 6 // opened_times > 1 or opened_times == 0\n")
    model = Executable(system)
    with pytest.raises(ModelError) as caught:
        model.send("open", code="1234")
    message = str(caught.value)
    assert "door.yaml:17:" in message and "door.open" in message
    assert "division" in message and "hint:" in message


def test_a_secret_parameter_is_never_shown_in_an_error() -> None:
    model = Executable(SHIPPED)
    with pytest.raises(ModelError) as caught:
        model.step("register", {**REGISTER, "initial_login_password": 987654})
    assert "987654" not in str(caught.value) and "<secret int>" in str(caught.value)


def test_invariants_checked_after_a_step_are_those_it_can_break(tmp_path: Path) -> None:
    """Executable evaluates after an accepted step only the invariants the step touched;
    the answer must equal a full evaluation, also when an invariant does break."""
    system = _door_variant(tmp_path, "expr: opened_times <= 3", "expr: opened_times <= 1")
    semantics = semantics_of(system)
    model = Executable(system)
    steps = [("open", {"code": "1234"}), ("close", {}), ("open", {"code": "0000"}),
             ("open", {"code": "1234"}), ("close", {}), ("open", {"code": "1234"})]
    broken_at = []
    for index, (event, params) in enumerate(steps):
        model.step(event, params)
        assert model.violated_invariants() == semantics.violated_invariants(model.current)
        if model.violated_invariants():
            broken_at.append(index)
    assert broken_at == [3, 4, 5]
    touched = semantics.invariants_touched(model.step("close", {}))
    assert [i.invariant.id for i in touched] == []  # close writes no variable the invariant reads
