"""The acceptance review's findings on the shipped banking specs, each fixed or recorded.

One test per finding of issue 11 ("The shipped banking specs: what the review found"): the
R6/R10 application form and e-commerce declaration, per-event citations, the extension mark
of set_payment_password, the rules the one-U-key / one-card refusals cite, the R5 citation
of a password rule, the U-key brand before any U-key, the unread card_opened, and the
cross-machine invariants (which hold on every step of a walk that reaches them).
"""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from authspec.diagrams.report import report_html
from authspec.model import Executable, Outcome
from authspec.model.expr import VarRef, walk
from authspec.model.ir import System
from authspec.model.traceability import matrix

REGISTER = dict(
    local_account=True, registration_form=True, agreement_acknowledged=True,
    card_application_form=False, id_document="valid", card="registered_card", own_ukey=False,
    ukey_presented=False, ukey_brand="brand_a", initial_login_password="123456",
    initial_payment_password="246810")
APPLICATION = dict(id_document="valid", card="registered_card", business_form=True,
                   ecommerce_declared=True)


def walk_to(system: System, *steps: tuple[str, dict[str, Any]]) -> tuple[Executable, Outcome]:
    """The model after the steps (invariants checked at each), and the last outcome."""
    model = Executable(system, check_invariants=True)
    outcome = model.step("register", REGISTER)
    assert outcome.accepted
    for event, params in steps:
        outcome = model.step(event, params)
    return model, outcome


@pytest.mark.parametrize(("event", "extra", "rule"), [
    ("apply_otp_card", {}, "R6"), ("apply_ukey", {"brand": "brand_a"}, "R10")])
@pytest.mark.parametrize(("missing", "reason"), [
    ("business_form", "business_form_missing"), ("ecommerce_declared", "ecommerce_not_declared")])
def test_r6_r10_applications_need_the_form_and_the_ecommerce_declaration(
        system: System, event: str, extra: dict, rule: str, missing: str, reason: str) -> None:
    model, outcome = walk_to(system, (event, {**APPLICATION, **extra, missing: False}))
    assert not outcome.accepted and outcome.reason == reason and rule in outcome.rules
    assert model.configuration["payment_password"] == "active"  # nothing happened
    _, accepted = walk_to(system, (event, {**APPLICATION, **extra}))
    assert accepted.accepted
    row = next(r for r in matrix(system).rules if r.rule.id == rule)
    assert {r.reason for r in row.rejections if r.event == event} >= {
        "business_form_missing", "ecommerce_not_declared", "id_invalid", "card_missing"}


def test_citations_are_per_event(system: System) -> None:
    rows = {row.rule.id: row for row in matrix(system).rules}
    events = {rule: {e.event for e in (*row.transitions, *row.rejections)}
              for rule, row in rows.items()}
    assert "reset_login_password" not in events["R6"]  # R6 is the OTP card's
    assert "install_driver" not in events["R7"]  # R7 is the card's first payment
    assert "set_payment_password" not in events["R7"]
    assert "change_payment_password" not in events["R11"]  # R11 is the U-key's
    assert "reset_login_password" in events["R19"]
    assert "install_driver" in events["R11"]
    weak = {r.id: r.rules for r in system.rejections
            if r.reason == "password_policy_violation" and r.machine == "payment_password"
            and r.event != "register"}
    assert weak == {"payment_password.change_to_weak_password": ("R7", "Q6"),
                    "payment_password.set_weak_password": ("Q6", "Q8")}


def test_set_payment_password_is_marked_as_an_extension(system: System) -> None:
    assert system.event("set_payment_password").extension == "Q8"
    extensions = {row.event.name: row for row in matrix(system).extensions}
    assert set(extensions) == {"logout", "set_payment_password"}
    assert "payment_password.set_after_invalidation" in {
        e.id for e in extensions["set_payment_password"].elements}
    assert matrix(system).as_json()["extensions"][1]["question"] == "Q8"
    html = report_html(system)
    assert ('<code>set_payment_password</code> <span class="badge open">extension Q8</span>'
            in html)


def test_trace_lists_the_extensions(system: System) -> None:
    import typer

    from authspec.model import commands

    app = typer.Typer()
    commands.register(app)
    text = CliRunner().invoke(app, ["trace", "--format", "markdown"]).output
    assert "| Extension beyond the source | Question | Elements |" in text
    assert "| set_payment_password | Q8 | payment_password.set_after_invalidation" in text


def test_one_ukey_and_one_card_at_a_time_cite_the_assumption(system: System) -> None:
    held = {r.id: r.rules for r in system.rejections if r.id.endswith(".apply_while_holding")}
    assert held == {"otp_card.apply_while_holding": ("Q3", "Q13"),
                    "ukey.apply_while_holding": ("Q13",)}
    q13 = next(a for a in system.assumptions if a.question == "Q13")
    assert "at most one U-key" in q13.choice.en and "one usable" in q13.choice.en


def test_no_password_refusal_cites_the_static_quota_rule(system: System) -> None:
    refusal = next(r for r in system.rejections
                   if r.id == "payment_password.pay_with_wrong_password")
    assert "R5" not in refusal.rules


def test_recorded_assumptions_q13_to_q17_and_the_amount_bound(system: System) -> None:
    answered = {a.question for a in system.assumptions}
    assert {f"Q{i}" for i in range(1, 18)} <= answered
    amount = system.event("pay").param("amount")
    assert amount is not None and amount.type.max == 100_000_000 and "Q14" in amount.label.en
    q14 = next(a for a in system.assumptions if a.question == "Q14")
    assert "modelling bound" in q14.choice.en and "R12" in q14.rules


def test_no_ukey_no_brand(system: System) -> None:
    model = Executable(system, check_invariants=True)
    assert model.values["ukey.key_brand"] == "none"
    model, outcome = walk_to(system, ("login", {"password": "123456"}),
                             ("change_login_password", {"old": "123456", "new": "Login2024"}),
                             ("apply_ukey", {**APPLICATION, "brand": "brand_b"}))
    assert outcome.accepted and model.values["ukey.key_brand"] == "brand_b"
    assert model.step("install_driver", {"brand": "brand_a"}).reason == "wrong_driver_brand"
    assert model.step("install_driver", {"brand": "brand_b"}).accepted
    own = Executable(system, check_invariants=True)
    assert own.step("register", {**REGISTER, "own_ukey": True, "ukey_presented": True,
                                 "ukey_brand": "brand_b"}).accepted
    assert own.values["ukey.key_brand"] == "brand_b"


def test_every_variable_is_read(system: System) -> None:
    read = set()
    expressions = [e for t in system.transitions for e in (t.guard, *(a.value for a in
                                                                      t.effects)) if e]
    expressions += [r.guard for r in system.rejections if r.guard]
    expressions += [i.expr for i in system.all_invariants]
    for expression in expressions:
        read |= {node.qualified for node in walk(expression.tree) if isinstance(node, VarRef)}
    assert "account.card_opened" in read
    assert {v.qualified for v in system.variables} <= read


@pytest.mark.parametrize("application", ["apply_otp_card", "apply_ukey"])
def test_cross_machine_invariants_hold_through_an_application(
        system: System, application: str) -> None:
    ids = {i.id for i in system.invariants}
    assert {"superseded_only_after_an_application",
            "invalidated_only_with_a_card_or_ukey"} <= ids
    extra = {"brand": "brand_a"} if application == "apply_ukey" else {}
    model, outcome = walk_to(system, ("login", {"password": "123456"}),
                             ("change_login_password", {"old": "123456", "new": "Login2024"}),
                             (application, {**APPLICATION, **extra}))
    assert outcome.accepted
    assert model.configuration["static_password"] == "superseded"
    assert model.configuration["payment_password"] == "invalidated"
    assert model.violated_invariants() == []
