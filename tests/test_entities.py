"""Entities: many customers, and what is theirs (model/entities.py).

The language (declared instances, machines per instance, events naming their instance,
explicit references to another instance), the pure step over a grounded system, the
partition of snapshots and histories by instance, the static checks, and the two-customer
version of the shipped specs against the reference bank."""

from __future__ import annotations

from pathlib import Path

import pytest

from authspec.model import expr as ex
from authspec.model.checks import check_system
from authspec.model.entities import (
    acting_instance,
    cross_instance_reads,
    partition,
    project,
    project_history,
)
from authspec.model.errors import ModelError, SpecErrors
from authspec.model.expr import unparse
from authspec.model.loader import load
from authspec.model.semantics import semantics_of

ROOT = Path(__file__).resolve().parent.parent
TWO = ROOT / "examples" / "two_customers"
TRANSFER = Path(__file__).parent / "entity_specs" / "transfer"


@pytest.fixture(scope="module")
def two():
    return load(TWO)


@pytest.fixture(scope="module")
def transfer():
    return load(TRANSFER)


# -- loading ---------------------------------------------------------------------------------


def test_the_two_customer_specs_reuse_the_shipped_machines(two):
    one = load(ROOT / "specs")
    assert one.entities == () and two.entities[0].instances == ("alice", "bob")
    assert [m.name for m in two.machines] == [
        f"{m.name}[{c}]" for m in one.machines for c in ("alice", "bob")]
    assert len(two.transitions) == 2 * len(one.transitions)
    assert len(two.rejections) == 2 * len(one.rejections)
    assert {m.file for m in two.machines} == {m.file for m in one.machines}
    # every event acts on a customer: the implicit first parameter, drawn like an enum
    for event, original in zip(two.events, one.events, strict=True):
        first, *rest = event.params
        assert (first.name, first.implicit, first.type.values) == (
            "customer", True, ("alice", "bob"))
        assert tuple(rest) == original.params


def test_instance_elements_are_named_after_their_machine(two):
    login = next(t for t in two.transitions if t.id == "session[bob].login")
    assert login.machine == "session[bob]"
    assert login.guard.source.startswith("customer == 'bob' and (")
    refs = {n.machine for n in ex.walk(login.guard.tree) if isinstance(n, ex.StateRef)}
    assert refs == {"login_password[bob]"}  # the same customer's password, unqualified
    assert two.machine("static_password[alice]").variables[0].qualified == \
        "static_password[alice].spent"
    assert two.machine("session[alice]").template == "session"


def test_a_spec_without_entities_is_unchanged():
    one = load(ROOT / "specs")
    assert all(not m.entity and not m.instance and not m.template for m in one.machines)
    assert all(not p.implicit for e in one.events for p in e.params)
    assert "session.login" in {t.id for t in one.transitions}


def test_short_forms_and_shared_machines(transfer):
    entity = transfer.entity("customer")
    assert entity.machines == ("session", "wallet")
    assert [m.name for m in transfer.machines] == [
        "session[alice]", "session[bob]", "wallet[alice]", "wallet[bob]", "desk"]
    assert transfer.event("open_desk").params == ()  # only a shared machine takes it
    payee = transfer.event("transfer").param("payee")
    assert payee.entity == "customer" and not payee.implicit
    assert [i.id for i in transfer.invariants] == ["capped[alice]", "capped[bob]"]


def test_instances_given_as_a_number(tmp_path):
    folder = _variant(tmp_path, "instances: [alice, bob]", "instances: 3")
    system = load(folder)
    assert system.entity("customer").instances == ("customer1", "customer2", "customer3")
    assert "wallet[customer3].transfer" in {t.id for t in system.transitions}


# -- the pure step ---------------------------------------------------------------------------


def test_the_event_instance_selects_the_configuration(transfer):
    sem = semantics_of(transfer)
    start = sem.initial
    outcome, after = sem.step(start, "login", {"customer": "bob"})
    assert outcome.accepted and outcome.transitions == ("session[bob].login",)
    assert sem.states_of(after)["session[bob]"] == "in"
    assert sem.states_of(after)["session[alice]"] == "out"
    assert hash(after) != hash(start) and after != start
    again, same = sem.step(start, "login", {"customer": "bob"})
    assert (again, same) == (outcome, after)  # pure
    with pytest.raises(ModelError, match="customer"):
        sem.step(start, "login", {})


def test_another_instance_is_read_through_its_parameter(transfer):
    sem = semantics_of(transfer)
    snap = sem.initial
    for who in ("alice",):
        _, snap = sem.step(snap, "login", {"customer": who})
    refused, _ = sem.step(snap, "transfer", {"customer": "alice", "payee": "bob", "amount": 2})
    assert refused.reason == "payee_offline"
    _, snap = sem.step(snap, "login", {"customer": "bob"})
    done, snap = sem.step(snap, "transfer", {"customer": "alice", "payee": "bob", "amount": 2})
    assert done.accepted and sem.values_of(snap)["wallet[alice].sent"] == 2
    assert sem.values_of(snap)["wallet[bob].sent"] == 0
    bobs, _ = sem.step(snap, "transfer", {"customer": "bob", "payee": "alice", "amount": 5})
    assert bobs.transitions == ("wallet[bob].transfer",)


def test_a_shared_machine_reads_the_acting_instance(transfer):
    sem = semantics_of(transfer)
    _, snap = sem.step(sem.initial, "open_desk", {})
    _, snap = sem.step(snap, "login", {"customer": "alice"})
    assert sem.values_of(snap)["desk.logins"] == 1
    twice, snap = sem.step(snap, "login", {"customer": "alice"})
    assert not twice.accepted  # alice is in: neither her session nor the desk moves
    _, snap = sem.step(snap, "login", {"customer": "bob"})
    assert sem.values_of(snap)["desk.logins"] == 2


# -- partitions ------------------------------------------------------------------------------


def test_a_snapshot_projects_onto_one_instance(transfer):
    sem = semantics_of(transfer)
    bob = partition(sem, "customer", "bob")
    assert bob.machines == ("session[bob]", "wallet[bob]")
    before = bob.of(sem.initial)
    snap = sem.initial
    for event in ("login", "logout", "login"):
        _, snap = sem.step(snap, event, {"customer": "alice"})
        assert bob.of(snap) == before  # what alice does is not bob's
    _, snap = sem.step(snap, "login", {"customer": "bob"})
    assert project(sem, snap, "customer", "bob").states == ("in", "open")
    assert project(sem, snap, "customer", "alice").states == ("in", "open")
    with pytest.raises(ModelError, match="carol"):
        partition(sem, "customer", "carol")


def test_a_history_projects_onto_one_instance(transfer):
    history = [("login", {"customer": "alice"}), ("open_desk", {}),
               ("login", {"customer": "bob"}), ("logout", {"customer": "alice"})]
    assert project_history(transfer, history, "customer", "alice") == [history[0], history[3]]
    assert project_history(transfer, history, "customer", "bob") == [history[2]]
    assert acting_instance(transfer, "open_desk", {}, "customer") is None


def test_cross_instance_reads_are_listed(transfer, two):
    found = cross_instance_reads(transfer)
    assert "wallet[alice].transfer" in found and "desk.count" in found
    assert "session[alice].login" not in found
    assert cross_instance_reads(two) == []  # the shipped policy is per customer throughout


# -- static checks and errors ----------------------------------------------------------------


def test_the_checks_run_on_grounded_systems(transfer):
    findings = check_system(transfer)
    assert not [f for f in findings if f.severity == "error"], findings


def test_a_range_error_behind_a_selected_reference_is_found(tmp_path):
    folder = _variant(tmp_path, " and sent + amount <= 10", "", file="wallet.yaml")
    errors = [f for f in check_system(load(folder)) if f.severity == "error"]
    assert {f.code for f in errors} == {"effect-out-of-range"}
    assert "payee=" in errors[0].message


@pytest.mark.parametrize(("old", "new", "message"), [
    ("session[payee].state == 'in' and sent", "session[amount].state == 'in' and sent",
     "'amount' is not a parameter naming a customer"),
    ("session[payee].state == 'in' and sent", "session['carol'].state == 'in' and sent",
     "'carol' is not an instance of customer"),
    ("session[payee].state == 'in' and sent", "desk[payee].state == 'open' and sent",
     "machine 'desk' does not exist once per instance"),
])
def test_bad_instance_references_are_located(tmp_path, old, new, message):
    folder = _variant(tmp_path, old, new, file="wallet.yaml")
    with pytest.raises(SpecErrors) as caught:
        load(folder)
    text = str(caught.value)
    assert message in text and "wallet.yaml:13:" in text


def test_a_shared_event_must_name_the_instance(tmp_path):
    folder = _variant(tmp_path, "- {id: open, event: open_desk, from: closed, to: open,",
                      "- {id: open, event: open_desk, from: closed, to: open, "
                      "when: \"session.state == 'in'\",", file="desk.yaml")
    with pytest.raises(SpecErrors) as caught:
        load(folder)
    assert "session.state exists once per customer" in str(caught.value)
    assert "desk.yaml:10:65:" in str(caught.value)


def test_an_implicit_parameter_cannot_be_declared(tmp_path):
    folder = _variant(tmp_path, "  login: {}", "  login: {params: {customer: {type: str}}}")
    with pytest.raises(SpecErrors, match="has the name of an entity kind"):
        load(folder)


def test_extends_takes_only_names_and_entities(tmp_path):
    (tmp_path / "system.yaml").write_text(
        f"authspec: 1\nkind: system\nextends: {TRANSFER / 'system.yaml'}\n"
        "otherwise: refused\n", encoding="utf-8")
    with pytest.raises(SpecErrors, match="'otherwise' cannot be given beside 'extends'"):
        load(tmp_path)


def _variant(tmp_path: Path, old: str, new: str, file: str = "system.yaml") -> Path:
    for source in TRANSFER.glob("*.yaml"):
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"),
                                            encoding="utf-8")
    target = tmp_path / file
    text = target.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    target.write_text(text.replace(old, new), encoding="utf-8")
    return tmp_path


def test_the_two_customer_trace_runs_as_documented(two):
    from authspec.model.simulate import read_trace, run_trace

    steps = read_trace(TWO / "trace.yaml", two)
    results = run_trace(two, steps)
    assert len(results) == 11 and all(r.as_expected for r in results)
    refused = next(r for r in results if r.step.event == "install_driver")
    assert refused.outcome.rejection == "session[bob].install_driver_logged_out"


def test_step_properties_speak_of_the_acting_customer(two):
    """The shipped 'no payment while logged out' property, grounded: with alice logged in
    and bob logged out, an accepted U-key payment breaks it for bob and not for alice."""
    from authspec.model.semantics import Outcome, semantics_of

    semantics = semantics_of(two)
    (prop,) = [p for p in two.step_properties if p.id == "no_session_payment_while_logged_out"]
    assert "before.session[customer].state" in unparse(prop.holds.tree)
    states = dict(semantics.states_of(semantics.initial))
    states["session[alice]"] = "logged_in"
    before = semantics.snapshot_of(states, semantics.values_of(semantics.initial))
    pay = {"method": "ukey", "channel": "b2c", "amount": 1, "password": "x",
           "otp_code_correct": False, "ukey_connected": True, "ukey_password_correct": True}
    accepted = Outcome("pay", True)
    for customer, broken in (("alice", []), ("bob", [prop])):
        params = {"customer": customer, **pay}
        assert semantics.violated_step_properties(before, "pay", params, accepted,
                                                  before) == broken


# -- the harness -----------------------------------------------------------------------------


def test_routes_to_another_instance_are_the_first_instances_renamed(two):
    from authspec.harness.roadmap import Goal, Roadmap
    from authspec.harness.strategies import analyse

    roadmap = Roadmap(two, analyse(two))
    alice = roadmap.route(Goal("transition", "session[alice].logout", "logout"))
    bob = roadmap.route(Goal("transition", "session[bob].logout", "logout"))
    assert [(e, p["customer"]) for e, p, _ in alice] == [("register", "alice"),
                                                          ("login", "alice")]
    assert [(e, p["customer"]) for e, p, _ in bob] == [("register", "bob"), ("login", "bob")]
    assert [{k: v for k, v in p.items() if k != "customer"} for _, p, _ in bob] == [
        {k: v for k, v in p.items() if k != "customer"} for _, p, _ in alice]
    routed = list(roadmap.routes_by_depth(roadmap.goals))
    assert len(routed) == len(roadmap.goals)  # every goal of both customers has a route
    assert len(roadmap.nodes) < 400  # the first customer's states, not the product


def test_a_twin_route_walks_every_instance_side_by_side(two):
    from authspec.model.entities import twin_route

    route = [("register", {"customer": "alice", "x": 1}, 1),
             ("login", {"customer": "alice"}, 2)]
    assert twin_route(two, route) == [
        ("register", {"customer": "alice", "x": 1}, 1),
        ("register", {"customer": "bob", "x": 1}, 1),
        ("login", {"customer": "alice"}, 2), ("login", {"customer": "bob"}, 2)]


def test_the_bank_adapter_plays_one_real_customer_per_instance(two):
    from authspec.bank.adapter import CUSTOMERS, make_adapter

    adapter = make_adapter(system=two)
    try:
        register = _registration()
        assert adapter.perform("register", {"customer": "bob", **register}).accepted
        assert adapter.perform("login", {"customer": "bob", "password": "123456"}).accepted
        seen = adapter.observe()
        assert seen.states["account[bob]"] == "registered"
        assert seen.states["session[bob]"] == "restricted"
        assert seen.states["account[alice]"] == "unregistered"
        assert seen.variables["static_password[alice].spent"] == 0
        assert adapter.bank.snapshot(CUSTOMERS[1][0]).registered
        assert not adapter.bank.snapshot(CUSTOMERS[0][0]).registered
        with pytest.raises(ValueError, match="carol"):
            adapter.perform("logout", {"customer": "carol"})
    finally:
        adapter.close()


def test_the_reference_bank_passes_with_two_customers():
    from authspec.harness.options import CheckOptions
    from authspec.harness.run import check

    result = check(CheckOptions(backend="bank", specs=str(TWO), seed=3, database=None, out=None,
                                examples=1, steps=1, max_seconds=30))
    assert result.status == "pass", result.failure or result.error
    summary = result.coverage.summary()
    covered, declared = summary["transitions"]
    assert declared == 70 and covered >= 64  # both customers' transitions, by the sweep


@pytest.mark.parametrize("name", ["quota_booked_on_other_customer", "session_of_other_customer",
                                  "counter_reset_ends_every_session"])
def test_isolation_mutants_are_killed_with_two_customers_only(name):
    from authspec.harness.options import CheckOptions
    from authspec.harness.run import check

    two = check(CheckOptions(backend=f"isolation:{name}", specs=str(TWO), seed=0,
                             database=None, out=None, max_seconds=20))
    assert two.status == "fail", f"{name} survived the two-customer check (20 s budget)"
    acting = {step.params.get("customer") for step in two.failure.steps}
    assert acting == {"alice", "bob"}  # it takes both customers to see it


def _registration() -> dict:
    return dict(local_account=True, registration_form=True, agreement_acknowledged=True,
                card_application_form=False, id_document="valid", card="registered_card",
                own_ukey=False, ukey_presented=False, ukey_brand="brand_a",
                initial_login_password="123456", initial_payment_password="654321")
