"""Semantics of the executable model, on the shipped specs and on the door spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authspec.model import Executable, ModelError, load
from authspec.model.ir import Event, System

DOOR = Path(__file__).parent / "specs" / "door"


def param_values(event: Event) -> st.SearchStrategy[dict[str, Any]]:
    """Plain values from each parameter's declared domain (small strings for secrets)."""
    fields = {}
    for param in event.params:
        typ = param.type
        if typ.kind == "bool":
            fields[param.name] = st.booleans()
        elif typ.kind == "int":
            fields[param.name] = st.integers(typ.min, typ.max) | st.sampled_from(
                [typ.min, typ.max, 1, 100, 29_999, 30_000])
        elif typ.kind == "enum":
            fields[param.name] = st.sampled_from(typ.values)
        else:
            fields[param.name] = st.sampled_from(
                ["123456", "246810", "Abc123", "abc123", "12345", "Login2024", "1234", "12ab"])
    return st.fixed_dictionaries(fields)


def events(system: System) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    return st.one_of([st.tuples(st.just(e.name), param_values(e)) for e in system.events])


SHIPPED = load()


@settings(max_examples=150, stateful_step_count=50)
@given(st.lists(events(SHIPPED), max_size=40))
def test_refusals_change_nothing_and_invariants_always_hold(steps: list) -> None:
    model = Executable(SHIPPED, check_invariants=True)  # raises on a broken invariant
    for event, params in steps:
        before = model.snapshot()
        outcome = model.step(event, params)
        if not outcome.accepted:
            assert model.snapshot() == before, f"{event} refused but changed the state"
            assert outcome.reason in {r.code for r in SHIPPED.reasons}
        else:
            assert outcome.transitions and outcome.rules


@settings(max_examples=60)
@given(st.lists(events(SHIPPED), max_size=30))
def test_charts_agree_with_the_configuration(steps: list) -> None:
    """The python-statemachine charts and the model's configuration never drift apart."""
    model = Executable(SHIPPED)
    for event, params in steps:
        model.step(event, params)
        for machine, state in model.configuration.items():
            active = [s.id for s in model.chart(machine).configuration]
            assert active == [f"s_{state}"]


@settings(max_examples=60)
@given(st.lists(events(SHIPPED), max_size=25), st.data())
def test_snapshot_restore_replays_identically(steps: list, data: st.DataObject) -> None:
    model = Executable(SHIPPED)
    cut = data.draw(st.integers(0, len(steps)))
    for event, params in steps[:cut]:
        model.step(event, params)
    saved = model.snapshot()
    first = [model.step(e, p) for e, p in steps[cut:]]
    end = model.snapshot()
    model.restore(saved)
    assert [model.step(e, p) for e, p in steps[cut:]] == first
    assert model.snapshot() == end


def test_restore_out_of_a_final_state() -> None:
    door = Executable(load(DOOR))
    start = door.snapshot()
    assert door.send("lock", key=True).accepted
    assert door.configuration["door"] == "locked"
    (active,) = door.chart("door").configuration
    assert active.id == "s_locked" and active.final
    door.restore(start)
    assert door.send("open", code="1234").accepted
    assert door.configuration["door"] == "open"


def test_guards_and_effects_read_the_state_before_the_event() -> None:
    door = Executable(load(DOOR))
    for _ in range(3):
        assert door.send("open", code="1234").accepted
        assert door.send("close").accepted
    refused = door.send("open", code="1234")
    assert (refused.accepted, refused.reason, refused.rejection) == (False, "worn_out",
                                                                    "door.worn_out")
    assert door.values["door.opened_times"] == 3


def test_otherwise_reason_when_no_machine_moves() -> None:
    door = Executable(load(DOOR))
    outcome = door.send("close")
    assert (outcome.accepted, outcome.reason, outcome.rejection) == (False, "not_applicable",
                                                                    None)


@pytest.mark.parametrize(("event", "params", "words"), [
    ("fly", {}, "unknown event 'fly'"),
    ("open", {}, "missing code"),
    ("open", {"code": "1234", "extra": 1}, "unknown extra"),
    ("lock", {"key": "yes"}, "key='yes' is not a bool"),
])
def test_wrong_calls_are_model_errors(event: str, params: dict, words: str) -> None:
    door = Executable(load(DOOR))
    with pytest.raises(ModelError, match=words):
        door.step(event, params)


def test_outcome_names_transitions_and_rules(system: System) -> None:
    model = Executable(system)
    outcome = model.send("register", local_account=True, registration_form=True,
                         agreement_acknowledged=True, card_application_form=False,
                         id_document="valid", card="registered_card", own_ukey=False,
                         ukey_presented=False, ukey_brand="brand_a",
                         initial_login_password="123456", initial_payment_password="246810")
    assert outcome.accepted
    assert set(outcome.transitions) == {
        "account.register_with_local_account", "login_password.set_at_registration",
        "payment_password.set_at_registration", "static_password.open"}
    assert {"R1", "R2", "R5", "R20", "Q11"} <= set(outcome.rules)
