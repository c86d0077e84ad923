"""Refusals that change state: ``do:`` and ``to:`` on a ``rejects`` entry.

The lock-out example (examples/lockout/specs) counts wrong passwords with refusals: the
third is refused *and* locks the account. These tests pin the language (schema, loader
errors, IR), the semantics (the deciding refusal's effects committed, read before the
event; no transition fires; the outcome stays a refusal), the second implementation
(statechart.Composition) and the static checks over refusal effects and targets.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from spec_variants import spec_copy

from authspec.model import Executable, SpecErrors, load
from authspec.model.checks import check_system
from authspec.model.semantics import semantics_of
from authspec.model.statechart import Composition

LOCKOUT = Path(__file__).parent.parent / "examples" / "lockout" / "specs"
RIGHT, WRONG = "Secret123", "Wrong1234"


def edited(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the lock-out spec with one text replaced in account.yaml."""
    return spec_copy(LOCKOUT, tmp_path, (old, new), file="account.yaml")


def created() -> Executable:
    model = Executable(load(LOCKOUT), check_invariants=True)
    assert model.send("create", password=RIGHT).accepted
    return model


def test_the_ir_holds_a_refusals_effects_and_target() -> None:
    system = load(LOCKOUT)
    third = next(r for r in system.rejections if r.id == "account.third_wrong_password")
    assert third.target == "locked" and third.changes_state
    assert [(a.variable, a.value.source) for a in third.effects] == [
        ("failures", "failures + 1")]
    plain = next(r for r in system.rejections if r.id == "account.not_locked")
    assert plain.effects == () and plain.target is None and not plain.changes_state


def test_the_third_wrong_password_is_refused_and_locks_the_account() -> None:
    model = created()
    for count in (1, 2):
        outcome = model.send("login", password=WRONG)
        assert (outcome.accepted, outcome.reason) == (False, "wrong_password")
        assert outcome.transitions == () and outcome.rejection == "account.wrong_password"
        assert model.values["account.failures"] == count
        assert model.states["account"] == "active"
    third = model.send("login", password=WRONG)
    assert (third.accepted, third.reason, third.rejection) == (
        False, "wrong_password", "account.third_wrong_password")
    assert model.states["account"] == "locked" and model.values["account.failures"] == 3
    assert model.send("login", password=RIGHT).reason == "account_locked"
    assert model.values["account.failures"] == 3  # a refusal without effects changes nothing
    assert model.send("unlock").accepted and model.values["account.failures"] == 0


def test_a_success_resets_the_count() -> None:
    model = created()
    model.send("login", password=WRONG)
    model.send("login", password=WRONG)
    assert model.send("login", password=RIGHT).accepted
    assert model.values["account.failures"] == 0
    model.send("login", password=WRONG)
    assert model.states["account"] == "active"


def test_the_step_stays_pure_and_a_refusal_without_effects_returns_its_snapshot() -> None:
    semantics = semantics_of(load(LOCKOUT))
    _, active = semantics.step(semantics.initial, "create", {"password": RIGHT})
    outcome, after = semantics.step(active, "login", {"password": WRONG})
    assert not outcome.accepted and after != active
    assert semantics.values_of(active)["account.failures"] == 0  # the input is untouched
    assert semantics.step(active, "login", {"password": WRONG}) == (outcome, after)
    refused, same = semantics.step(active, "unlock", {})
    assert refused.reason == "not_locked" and same is active


def test_effects_read_the_state_before_the_event(tmp_path: Path) -> None:
    """Two assignments of one refusal both read the values before it."""
    folder = edited(tmp_path, "    do: {failures: failures + 1}\n    rules: [R2, R3]\n  - id: "
                    "change", "    do: {failures: failures + 1, before: failures}\n"
                    "    rules: [R2, R3]\n  - id: change")
    machine = folder / "account.yaml"
    machine.write_text(machine.read_text(encoding="utf-8").replace(
        "variables:\n", "variables:\n  before: {type: int, min: 0, max: 3, initial: 3}\n"),
        encoding="utf-8")
    semantics = semantics_of(load(folder))
    _, snapshot = semantics.step(semantics.initial, "create", {"password": RIGHT})
    _, snapshot = semantics.step(snapshot, "login", {"password": WRONG})
    values = semantics.values_of(snapshot)
    assert (values["account.before"], values["account.failures"]) == (0, 1)
    _, snapshot = semantics.step(snapshot, "login", {"password": WRONG})
    values = semantics.values_of(snapshot)
    assert (values["account.before"], values["account.failures"]) == (1, 2)


def test_the_composition_of_charts_does_the_same() -> None:
    system = load(LOCKOUT)
    composition, model = Composition(system), Executable(system)
    steps = [("create", {"password": RIGHT}), *[("login", {"password": WRONG})] * 3,
             ("login", {"password": RIGHT}), ("unlock", {}), ("login", {"password": WRONG}),
             ("login", {"password": RIGHT})]
    for event, params in steps:
        assert composition.step(event, params) == model.step(event, params)
        assert composition.snapshot() == model.snapshot()


@pytest.mark.parametrize(("old", "new", "where", "words"), [
    ("    do: {failures: failures + 1}\n    to: locked", "    do: {failures: failures + 1}\n"
     "    to: lockd", "account.yaml:71:9", "unknown state 'lockd' of machine account"),
    ("    do: {failures: failures + 1}\n    to: locked", "    do: {failurs: failures + 1}\n"
     "    to: locked", "account.yaml:70:10", "account has no variable 'failurs'"),
    ("    do: {failures: failures + 1}\n    to: locked", "    do: {failures: failures + 'x'}\n"
     "    to: locked", "account.yaml:70:31", "expected int"),
])
def test_a_bad_refusal_effect_or_target_is_a_located_error(tmp_path: Path, old: str, new: str,
                                                           where: str, words: str) -> None:
    with pytest.raises(SpecErrors) as caught:
        load(edited(tmp_path, old, new))
    messages = [e.format() for e in caught.value.errors]
    assert any(where in m and words in m for m in messages), messages


def test_an_effect_on_another_machines_variable_names_its_owner(tmp_path: Path) -> None:
    folder = edited(tmp_path, "    reason: not_locked\n", "    reason: not_locked\n"
                    "    do: {seen: 1}\n")
    (folder / "audit.yaml").write_text(
        "authspec: 1\nkind: machine\nname: audit\nvariables:\n"
        "  seen: {type: int, min: 0, max: 9, initial: 0}\nstates:\n  watching: {initial: true}\n"
        "transitions:\n  - {event: unlock, from: watching, to: ~, when: seen < 9, "
        "do: {seen: seen + 1}, rules: [R5]}\n", encoding="utf-8")
    system_file = folder / "system.yaml"
    system_file.write_text(system_file.read_text(encoding="utf-8").replace(
        "machines: [account.yaml]", "machines: [account.yaml, audit.yaml]"), encoding="utf-8")
    with pytest.raises(SpecErrors) as caught:
        load(folder)
    (error,) = caught.value.errors
    assert "account has no variable 'seen'" in error.message
    assert "'seen' is a variable of audit; a refusal assigns only its own" in error.hint


def test_refusal_effects_are_range_checked(tmp_path: Path) -> None:
    folder = edited(tmp_path, "failures == 2\n", "failures >= 2\n")
    findings = [f for f in check_system(load(folder)) if f.code == "effect-out-of-range"]
    assert [(f.span.line, "third_wrong_password" in f.message) for f in findings] == [(70, True)]
    assert check_system(load(LOCKOUT)) == []


def test_a_division_by_zero_in_a_refusal_effect_is_found(tmp_path: Path) -> None:
    folder = edited(tmp_path, "    do: {failures: failures + 1}\n    rules",
                    "    do: {failures: \"(failures + 1) // failures\"}\n    rules")
    findings = [f for f in check_system(load(folder)) if f.code == "division-by-zero"]
    assert len(findings) == 1 and "refusal account.wrong_password" in findings[0].message


def test_a_refusal_target_is_an_edge_of_the_graph(tmp_path: Path) -> None:
    """Only the third wrong password enters 'locked': without its target the state is
    unreachable; and a refusal leaving a final state is an exit."""
    unreachable = edited(tmp_path, "    to: locked\n    rules: [R2, R3]", "    rules: [R2, R3]")
    codes = {f.code for f in check_system(load(unreachable))}
    assert "unreachable-state" in codes
    unlock = ("  - id: unlock\n    event: unlock\n    from: locked\n    to: active\n"
              "    do: {failures: 0}\n    rules: [R5]\n")
    final = edited(tmp_path / "final", unlock, "")
    machine = final / "account.yaml"
    machine.write_text(machine.read_text(encoding="utf-8").replace(
        "  locked: {}", "  locked: {final: true}"), encoding="utf-8")
    assert {f.code for f in check_system(load(final))} & {
        "unreachable-state", "dead-end-state", "final-state-with-exit"} == set()
    machine.write_text(machine.read_text(encoding="utf-8").replace(
        "    reason: account_locked\n", "    reason: account_locked\n    to: active\n"),
        encoding="utf-8")
    assert "final-state-with-exit" in {f.code for f in check_system(load(final))}


def test_diagrams_report_traceability_and_diff_show_what_a_refusal_changes(
        tmp_path: Path) -> None:
    from authspec.diagrams.diff import compare
    from authspec.diagrams.dot import Options, machine_graph
    from authspec.diagrams.mermaid import markdown
    from authspec.diagrams.report import report_html
    from authspec.model.traceability import matrix

    system = load(LOCKOUT)
    mermaid = markdown(system)
    assert ("s_active --> s_locked : refused#58; login [password != stored and failures == 2]"
            " → wrong_password / failures #58;= failures + 1 · R2 R3") in mermaid
    assert "login [password != stored and failures #60; 2] → wrong_password / failures" \
        in mermaid  # the counting refusal without a target stays on its state's note
    dot = machine_graph(system, system.machine("account"), Options()).source
    assert 'id="r:account.third_wrong_password:active"' in dot
    html = report_html(system)
    assert "<th>effects → target</th>" in html and "failures + 1</code> → locked" in html
    rows = {r["id"]: r for row in matrix(system).as_json()["rules"] for r in row["rejections"]}
    assert rows["account.third_wrong_password"]["target"] == "locked"
    assert rows["account.not_locked"] == {"id": "account.not_locked", "reason": "not_locked"}
    changed = load(edited(tmp_path, "    do: {failures: failures + 1}\n    to: locked",
                          "    do: {failures: 0}\n    to: locked"))
    (change,) = compare(system, changed).changes
    assert change.key == "account.third_wrong_password"
    assert change.fields == (("effects", "failures := failures + 1", "failures := 0"),)
    assert change.rules == ("R2", "R3")


def test_the_harness_counts_refusals_and_routes_through_them() -> None:
    """The failures counter is found from the refusals that increment it, its boundaries are
    the 3rd and the 4th wrong password, and the roadmap reaches 'locked' (only a refusal
    enters it) along a route of refusals."""
    from authspec.harness.roadmap import Goal, Roadmap
    from authspec.harness.strategies import analyse

    system = load(LOCKOUT)
    analysis = analyse(system)
    (counter,) = [c for c in analysis.counters if c.variable == "account.failures"]
    assert counter.event == "login" and counter.transitions == ()
    assert set(counter.refusals) == {"account.third_wrong_password", "account.wrong_password"}
    model = created()
    assert {3, 4} <= set(counter.remaining(model.values, model.states))
    roadmap = Roadmap(system, analysis)
    route = roadmap.route(Goal("transition", "account.unlock", "unlock"))
    assert route is not None
    replay = Executable(system)
    for event, params, times in route:
        for _ in range(times):
            replay.step(event, params)
    assert replay.states["account"] == "locked" and replay.values["account.failures"] == 3
