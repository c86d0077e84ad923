"""Step properties: conditions on one whole step (before, event, parameters, outcome, after).

These tests pin the language (``before.``/``after.`` names, parameters of the listed events,
``event``/``accepted``/``reason``; located errors for what does not resolve or type), the
pure evaluation (``Semantics.violated_step_properties``), and what each tool makes of them:
simulate marks the step that breaks one, check reports a property the model breaks as a spec
bug with the step and the rules, trace and the report list them. The shipped specs state the
step properties the rules imply (specs/step_properties.yaml) and hold them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from spec_variants import DOOR, door_copy, spec_copy

from authspec.diagrams.report import report_html
from authspec.harness.options import CheckOptions
from authspec.harness.run import check
from authspec.model import SpecErrors, load
from authspec.model.checks import check_system
from authspec.model.expr import unparse
from authspec.model.semantics import Outcome, Snapshot, semantics_of
from authspec.model.simulate import read_trace, run_trace
from authspec.model.traceability import matrix

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "specs"
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))

#: A door whose every accepted opening counts once (a machine file's own names).
COUNTS = """invariants:
  - {id: at_most_three, expr: opened_times <= 3, rules: [R2]}
step_properties:
  - id: each_opening_counts
    label: {en: Each accepted opening counts once, zh: 每次开门计一次}
    events: [open]
    holds: accepted implies after.opened_times == before.opened_times + 1
    rules: [R2]
  - id: refusals_change_nothing
    holds: not accepted implies after.state == before.state
    rules: [R1]
"""
INVARIANTS = "invariants:\n  - {id: at_most_three, expr: opened_times <= 3, rules: [R2]}\n"


def door_with(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    return door_copy(tmp_path, (INVARIANTS, COUNTS), *edits)


def shipped_edited(tmp_path: Path, file: str, old: str, new: str) -> Path:
    return spec_copy(SPECS, tmp_path, (old, new), file=file)


# -- the language -------------------------------------------------------------------------------

def test_the_shipped_specs_state_the_rules_step_properties() -> None:
    system = load()  # the embedded default: the properties file ships with the package
    ids = {p.id for p in system.step_properties}
    assert {"no_session_payment_while_logged_out", "login_only_with_current_password",
            "counter_reset_takes_effect_at_once",
            "no_payment_with_invalidated_payment_password"} <= ids
    prop = next(p for p in system.step_properties if p.id == "no_session_payment_while_logged_out")
    assert prop.events == ("pay",) and prop.machine is None and "R16" in prop.rules
    assert str(prop.span).endswith("step_properties.yaml:13:5")
    assert "before.session.state == 'logged_in'" in unparse(prop.holds.tree)


def test_a_machine_files_properties_name_its_own_values_and_get_its_prefix(
        tmp_path: Path) -> None:
    system = load(door_with(tmp_path))
    counts, refusals = system.step_properties
    assert counts.id == "door.each_opening_counts" and counts.machine == "door"
    assert unparse(counts.holds.tree) == (
        "accepted implies after.door.opened_times == before.door.opened_times + 1")
    assert refusals.events == () and refusals.applies_to("lock")


@pytest.mark.parametrize(("holds", "where", "message"), [
    ("accepted implies opened_times == 1", "32:29",
     "say whether 'opened_times' is meant before or after the step"),
    ("accepted implies door.state == 'open'", "32:29",
     "say whether 'door.state' is meant before or after the step"),
    ("accepted implies before.dor.state == 'open'", "32:29", "unknown machine 'dor'"),
    ("accepted implies after.state == 'opened'", "32:44", "'opened' is not a value of state"),
    ("accepted implies after.times == 1", "32:29", "machine 'door' has no variable 'times'"),
    ("accepted implies key", "32:29", "unknown name 'key'"),
    ("reason == 'worn'", "32:22", "'worn' is not a value of reason"),
    ("event == 'lock'", "32:21", "'lock' is not a value of event"),
    ("accepted + 1 > 0", "32:12", "expected int, but this is bool"),
    ("accepted implies before == 1", "32:29", "'before' needs a name after it"),
])
def test_a_bad_expression_is_a_located_error(tmp_path: Path, holds: str, where: str,
                                             message: str) -> None:
    spec = door_with(tmp_path, ("holds: accepted implies after.opened_times == "
                                "before.opened_times + 1", f"holds: {holds}"))
    with pytest.raises(SpecErrors) as caught:
        load(spec)
    (error,) = caught.value.errors
    assert f"door.yaml:{where}" in error.format() and message in error.message
    assert "step property door.each_opening_counts" in error.message


def test_parameters_must_be_declared_alike_by_every_listed_event(tmp_path: Path) -> None:
    spec = door_with(tmp_path, ("events: [open]\n    holds: accepted implies after.opened",
                                "events: [open, lock]\n    holds: code == '' or after.opened"))
    with pytest.raises(SpecErrors) as caught:
        load(spec)
    (error,) = caught.value.errors
    assert "parameter 'code' is not declared alike by every event" in error.message
    assert "lock" in error.hint


@pytest.mark.parametrize(("old", "new", "message"), [
    ("events: [open]", "events: [opne]", "unknown event 'opne'"),
    ("id: refusals_change_nothing", "id: each_opening_counts", "is used twice"),
    ("    events: [open]\n", "    on: [open]\n", "unknown key True"),
])
def test_bad_events_ids_and_the_yaml_on_trap_are_located(tmp_path: Path, old: str, new: str,
                                                         message: str) -> None:
    with pytest.raises(SpecErrors) as caught:
        load(door_with(tmp_path, (old, new)))
    assert any(message in e.message and "door.yaml:" in e.format()
               for e in caught.value.errors), caught.value
    if "True" in message:
        assert "'events:'" in caught.value.errors[0].hint


def test_a_parameter_named_like_an_outcome_name_is_refused(tmp_path: Path) -> None:
    spec = door_copy(tmp_path, (INVARIANTS, COUNTS))
    system_file = spec / "system.yaml"
    system_file.write_text(system_file.read_text().replace("key: {type: bool}",
                                                           "accepted: {type: bool}"))
    (spec / "door.yaml").write_text((spec / "door.yaml").read_text().replace(
        "when: key", "when: accepted").replace("events: [open]", "events: [lock]"))
    with pytest.raises(SpecErrors) as caught:
        load(spec)
    assert any("parameter 'accepted' has the name of what a step property reads" in e.message
               for e in caught.value.errors)


def test_a_properties_file_must_exist_and_be_of_its_kind(tmp_path: Path) -> None:
    missing = shipped_edited(tmp_path / "a", "system.yaml", "  - step_properties.yaml",
                             "  - step_props.yaml")
    with pytest.raises(SpecErrors) as caught:
        load(missing)
    assert "properties file 'step_props.yaml' not found" in caught.value.errors[0].message
    wrong = shipped_edited(tmp_path / "b", "step_properties.yaml", "kind: properties",
                           "kind: machine")
    with pytest.raises(SpecErrors) as caught:
        load(wrong)
    assert "expected kind: properties" in caught.value.errors[0].message


def test_validate_reports_an_unknown_citation_of_a_step_property(tmp_path: Path) -> None:
    system = load(door_with(tmp_path, ("    rules: [R1]\n", "    rules: [R9]\n")))
    found = [f for f in check_system(system) if f.code == "unknown-citation"]
    assert [f.message.split(" cites")[0] for f in found] == [
        "step property door.refusals_change_nothing"]


# -- the pure evaluation ------------------------------------------------------------------------

def test_the_evaluation_reads_before_after_parameters_and_outcome(tmp_path: Path) -> None:
    semantics = semantics_of(load(door_with(tmp_path)))
    before = Snapshot(("closed",), (1, "1234"))
    right = Snapshot(("open",), (2, "1234"))
    accepted = Outcome("open", True, None, ("door.open",))
    params = {"code": "1234"}
    assert semantics.violated_step_properties(before, "open", params, accepted, right) == []
    wrong = Snapshot(("open",), (1, "1234"))
    (broken,) = semantics.violated_step_properties(before, "open", params, accepted, wrong)
    assert broken.id == "door.each_opening_counts"
    refused = Outcome("open", False, "wrong_code", (), "door.wrong_code")
    assert [p.id for p in semantics.violated_step_properties(
        before, "open", params, refused, right)] == ["door.refusals_change_nothing"]
    # pure: nothing it is given changes, and asking again answers the same
    again = semantics.violated_step_properties(before, "open", params, refused, right)
    assert [p.id for p in again] == ["door.refusals_change_nothing"]
    assert before == Snapshot(("closed",), (1, "1234")) and params == {"code": "1234"}


def test_reason_is_no_code_on_an_accepted_step(tmp_path: Path) -> None:
    spec = door_with(tmp_path, ("holds: not accepted implies after.state == before.state",
                                "holds: reason != 'wrong_code' and not (reason == 'locked')"))
    semantics = semantics_of(load(spec))
    state = Snapshot(("closed",), (0, "1234"))
    assert semantics.violated_step_properties(
        state, "close", {}, Outcome("close", True), state) == []
    (broken,) = semantics.violated_step_properties(
        state, "close", {}, Outcome("close", False, "locked"), state)
    assert broken.id == "door.refusals_change_nothing"


# -- the tools ----------------------------------------------------------------------------------

#: A spec bug: opening no longer counts, so the property on openings breaks.
NOT_COUNTED = ("do: {opened_times: opened_times + 1}", "do: {opened_times: opened_times}")


def test_simulate_marks_the_step_that_breaks_a_property(tmp_path: Path) -> None:
    spec = door_with(tmp_path, NOT_COUNTED)
    trace = tmp_path / "trace.yaml"
    trace.write_text("- {event: open, params: {code: '1234'}, expect: accepted}\n"
                     "- {event: close, expect: accepted}\n")
    system = load(spec)
    first, second = run_trace(system, read_trace(trace, system))
    assert not first.as_expected and second.as_expected
    assert first.broken_step_properties[0].startswith("door.each_opening_counts (accepted ")
    assert "door.yaml:29:5; rules R2" in first.broken_step_properties[0]
    done = subprocess.run([sys.executable, "-m", "authspec", "simulate", str(trace), "--specs",
                           str(spec)], capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "  1. open(code='<secret:4>')" in done.stdout
    assert "<-- step property broken: door.each_opening_counts" in done.stdout
    assert "2 steps, 1 not as expected" in done.stdout
    as_json = subprocess.run([sys.executable, "-m", "authspec", "simulate", str(trace),
                              "--specs", str(spec), "--json"], capture_output=True, text=True,
                             check=False)
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [len(line["broken_step_properties"]) for line in lines] == [1, 0]


def test_check_reports_a_property_the_model_breaks_as_a_spec_bug(tmp_path: Path) -> None:
    spec = door_with(tmp_path, NOT_COUNTED)
    result = check(CheckOptions(backend="model", specs=str(spec), seed=1, database=None,
                                out=None, examples=20, steps=10, max_seconds=20,
                                shrink_seconds=3))
    assert result.status == "fail" and result.failure is not None
    failure = result.failure
    assert failure.kind == "invariant" and failure.last.event == "open"
    assert failure.detail.startswith("the model breaks step properties of the spec: "
                                     "door.each_opening_counts (accepted implies")
    assert "door.yaml:29:5" in failure.detail and failure.rules == ("R2",)
    assert failure.last.expected.accepted  # the model's own step, not the backend's answer


def test_check_reports_a_shipped_property_broken_by_a_spec_variant(tmp_path: Path) -> None:
    # A spec bug: a U-key application no longer invalidates the payment password (R22), so
    # the first accepted application (a goal the sweep always reaches) breaks a property.
    spec = shipped_edited(tmp_path, "payment_password.yaml",
                          "    event: [apply_otp_card, apply_ukey]\n    from: [active, "
                          "invalidated]", "    event: [apply_otp_card]\n    from: [active, "
                          "invalidated]")
    result = check(CheckOptions(backend="model", specs=str(spec), seed=2, database=None,
                                out=None, examples=10, steps=20, max_seconds=None,
                                shrink_seconds=3))
    assert result.status == "fail" and result.failure is not None, result.stopped
    failure = result.failure
    assert failure.kind == "invariant" and failure.last.event == "apply_ukey"
    assert "application_invalidates_payment_password" in failure.detail
    assert set(failure.rules) == {"R21", "R22"}


def test_the_shipped_model_holds_its_step_properties_on_every_example_trace(system) -> None:
    for path in EXAMPLES:
        results = run_trace(system, read_trace(path, system))
        assert not [r.number for r in results if r.broken_step_properties], path


def test_a_variant_of_the_shipped_specs_is_caught_by_simulate(tmp_path: Path) -> None:
    # A spec bug: an invalidated payment password still authorises OTP payments (R22).
    spec = shipped_edited(tmp_path, "payment_password.yaml",
                          "    from: invalidated\n    when: method in ['static', 'otp']\n",
                          "    from: invalidated\n    when: method == 'static'\n")
    # The card example up to its first accepted card payment, then a U-key application
    # (which invalidates the payment password again, R22) and a card payment with it.
    text = (REPO / "examples" / "otp_card.yaml").read_text(encoding="utf-8")
    paid = "  - {event: pay, params: {channel: online_banking}, expect: accepted}\n"
    trace = tmp_path / "trace.yaml"
    trace.write_text(text[:text.index(paid) + len(paid)]
                     + "  - {event: apply_ukey, params: {id_document: valid, card: "
                     "registered_card, business_form: true, ecommerce_declared: true, "
                     "brand: brand_a}, expect: accepted}\n"
                     "  - {event: pay, params: {channel: online_banking}, "
                     "expect: payment_password_invalidated}\n", encoding="utf-8")
    shipped = load()
    assert all(r.as_expected for r in run_trace(shipped, read_trace(trace, shipped)))
    system = load(spec)
    results = run_trace(system, read_trace(trace, system))
    broken = [(r.number, r.broken_step_properties) for r in results if not r.as_expected]
    assert len(broken) == 1 and broken[0][0] == len(results)
    assert broken[0][1][0].startswith("no_payment_with_invalidated_payment_password (")
    assert broken[0][1][0].endswith("rules R5, R7, R22)")


def test_trace_and_report_show_step_properties(system) -> None:
    rows = {row["id"]: row for row in matrix(system).as_json()["rules"]}
    assert "no_session_payment_while_logged_out" in rows["R16"]["step_properties"]
    assert "counter_reset_takes_effect_at_once" in rows["R19"]["step_properties"]
    html = report_html(system)
    assert '<section id="step-properties"><h2>Step properties</h2>' in html
    assert '<a href="#step-properties">step properties</a>' in html
    assert "<code>step property no_session_payment_while_logged_out</code>" in html


def test_the_report_masks_a_secret_compared_in_a_step_property(tmp_path: Path) -> None:
    spec = shipped_edited(tmp_path, "step_properties.yaml",
                          "holds: accepted implies after.payment_password.state == "
                          "'invalidated'", "holds: after.payment_password.current != "
                          "'Hunter22' or accepted")
    html = report_html(load(spec))
    assert "Hunter22" not in html
    assert "after.payment_password.current != " in html


def test_a_spec_without_step_properties_loads_and_reports_as_before() -> None:
    system = load(DOOR)
    assert system.step_properties == ()
    assert semantics_of(system).step_properties["open"] == ()
    html = report_html(system)
    assert "step-properties" not in html and "step property" not in html
