"""Each rule R1-R22 of the source, walked through the shipped specs: accepted and refused cases,
with the boundaries the rules draw (300.00 yuan, the 1000th use, 5/6/30/31 characters...)."""

from __future__ import annotations

from typing import Any

import pytest

from authspec.model import Executable, Outcome
from authspec.model.ir import System

REGISTER = dict(
    local_account=True, registration_form=True, agreement_acknowledged=True,
    card_application_form=False, id_document="valid", card="registered_card", own_ukey=False,
    ukey_presented=False, ukey_brand="brand_a", initial_login_password="123456",
    initial_payment_password="246810")
PAY = dict(method="static", channel="b2c", amount=100, password="246810",
           otp_code_correct=True, ukey_connected=True, ukey_password_correct=True)
COUNTER = dict(id_document="valid", card="registered_card")
# a card or U-key application: ID, card, the business form and the e-commerce declaration
APPLICATION = dict(**COUNTER, business_form=True, ecommerce_declared=True)
LOGIN_PASSWORD = "Login2024"
PAYMENT_PASSWORD = "Pay2024ok"


class Customer:
    """Drives the model through the usual steps, so each test says only what it is about."""

    def __init__(self, system: System):
        self.model = Executable(system, check_invariants=True)

    def do(self, event: str, **params: Any) -> Outcome:
        return self.model.step(event, params)

    def register(self, **changes: Any) -> Outcome:
        return self.do("register", **{**REGISTER, **changes})

    def pay(self, **changes: Any) -> Outcome:
        return self.do("pay", **{**PAY, **changes})

    def state(self, machine: str) -> str:
        return self.model.configuration[machine]

    def value(self, name: str) -> Any:
        return self.model.values[name]

    def online(self) -> Customer:
        """Registered, logged in, login password changed to letters and digits."""
        assert self.register().accepted
        assert self.do("login", password="123456").accepted
        assert self.do("change_login_password", old="123456", new=LOGIN_PASSWORD).accepted
        return self

    def with_otp_card(self) -> Customer:
        self.online()
        assert self.do("apply_otp_card", **APPLICATION).accepted
        assert self.do("set_payment_password", new=PAYMENT_PASSWORD).accepted
        assert self.do("activate_otp_card").accepted
        assert self.do("logout").accepted
        assert self.do("login", password=LOGIN_PASSWORD).accepted
        return self

    def with_ukey(self, brand: str = "brand_a") -> Customer:
        self.online()
        assert self.do("apply_ukey", **APPLICATION, brand=brand).accepted
        assert self.do("install_driver", brand=brand).accepted
        assert self.do("download_certificate", route="online", ukey_connected=True).accepted
        return self


def refused(outcome: Outcome, reason: str) -> bool:
    return not outcome.accepted and outcome.reason == reason


@pytest.fixture
def customer(system: System) -> Customer:
    return Customer(system)


# -- Registration: R1-R4 ------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "reason"), [
    ({"registration_form": False}, "registration_form_missing"),
    ({"agreement_acknowledged": False}, "agreement_not_acknowledged"),
    ({"id_document": "expired"}, "id_invalid"),
    ({"id_document": "other_person"}, "id_invalid"),
    ({"card": "none"}, "card_missing"),
    ({"card": "other_card"}, "card_missing"),
    ({"local_account": False, "card": "none"}, "card_application_missing"),
    ({"own_ukey": True, "ukey_presented": False}, "ukey_medium_missing"),
    ({"initial_login_password": "12345"}, "password_policy_violation"),
    ({"initial_payment_password": "123456789"}, "password_policy_violation"),
])
def test_r1_r4_registration_refused_without_what_the_counter_needs(
        customer: Customer, changes: dict, reason: str) -> None:
    outcome = customer.register(**changes)
    assert refused(outcome, reason)
    assert customer.state("account") == "unregistered"


def test_r2_registration_with_local_account(customer: Customer) -> None:
    outcome = customer.register()
    assert outcome.accepted and {"R1", "R2"} <= set(outcome.rules)
    assert customer.state("account") == "registered" and customer.value("account.card_opened") \
        is False
    assert refused(customer.register(), "already_registered")


def test_r3_registration_without_local_account_opens_a_card(customer: Customer) -> None:
    outcome = customer.register(local_account=False, card="none", card_application_form=True)
    assert outcome.accepted and "R3" in outcome.rules
    assert customer.value("account.card_opened") is True


def test_r4_own_ukey_presented_is_held_from_registration(customer: Customer) -> None:
    assert customer.register(own_ukey=True, ukey_presented=True, ukey_brand="brand_b").accepted
    assert customer.state("ukey") == "issued" and customer.value("ukey.key_brand") == "brand_b"


def test_nothing_works_before_registration(customer: Customer) -> None:
    assert refused(customer.do("login", password="123456"), "not_registered")
    assert refused(customer.pay(), "not_registered")
    assert refused(customer.do("apply_ukey", **APPLICATION, brand="brand_a"), "not_registered")


# -- Static password: R5 -------------------------------------------------------------------

def test_r5_quota_boundary_exactly_300_yuan(customer: Customer) -> None:
    customer.register()
    assert customer.pay(amount=29_999).accepted
    assert refused(customer.pay(amount=2), "quota_exceeded")          # 300.01 in total
    assert customer.value("static_password.spent") == 29_999          # a refusal counts nothing
    assert customer.pay(amount=1).accepted                             # exactly 300.00
    assert customer.state("static_password") == "exhausted"
    assert refused(customer.pay(amount=1), "quota_exhausted")


def test_r5_single_payment_over_300_refused(customer: Customer) -> None:
    customer.register()
    assert refused(customer.pay(amount=30_001), "quota_exceeded")
    assert customer.pay(amount=30_000).accepted


def test_r5_wrong_payment_password_is_refused_and_not_counted(customer: Customer) -> None:
    customer.register()
    assert refused(customer.pay(password="246811"), "wrong_payment_password")
    assert customer.value("static_password.spent") == 0


def test_q2_static_payments_stop_after_a_card_application(customer: Customer) -> None:
    customer.online()
    assert customer.do("apply_otp_card", **APPLICATION).accepted
    assert customer.do("set_payment_password", new=PAYMENT_PASSWORD).accepted
    assert refused(customer.pay(password=PAYMENT_PASSWORD), "static_superseded")


# -- OTP card: R6-R9 -------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "reason"), [
    ({"id_document": "none"}, "id_invalid"), ({"card": "other_card"}, "card_missing")])
def test_r6_card_application_needs_id_and_registered_card(
        customer: Customer, changes: dict, reason: str) -> None:
    customer.register()
    assert refused(customer.do("apply_otp_card", **{**APPLICATION, **changes}), reason)
    assert customer.state("otp_card") == "none"


def test_r7_activation_needs_login_and_letter_digit_passwords(customer: Customer) -> None:
    customer.register()
    assert customer.do("apply_otp_card", **APPLICATION).accepted
    assert refused(customer.do("activate_otp_card"), "not_logged_in")
    assert customer.do("login", password="123456").accepted
    assert refused(customer.do("activate_otp_card"), "password_change_required")
    assert customer.do("change_login_password", old="123456", new=LOGIN_PASSWORD).accepted
    assert refused(customer.do("activate_otp_card"), "payment_password_invalidated")
    assert refused(customer.do("set_payment_password", new="24681012"), "password_policy_violation")
    assert customer.do("set_payment_password", new=PAYMENT_PASSWORD).accepted
    assert refused(customer.pay(method="otp", password=PAYMENT_PASSWORD), "otp_card_not_activated")
    assert customer.do("activate_otp_card").accepted
    assert refused(customer.do("activate_otp_card"), "otp_card_already_active")


def test_r8_1000th_use_accepted_1001st_refused(customer: Customer) -> None:
    customer.with_otp_card()
    pay = dict(method="otp", password=PAYMENT_PASSWORD)
    for _ in range(999):
        assert customer.pay(**pay).accepted
    assert customer.state("otp_card") == "active" and customer.value("otp_card.uses") == 999
    last = customer.pay(**pay)
    assert last.accepted and "otp_card.pay_last_use" in last.transitions
    assert customer.state("otp_card") == "used_up"
    assert refused(customer.pay(**pay), "otp_card_used_up")
    assert customer.value("otp_card.uses") == 1000
    # a new card, applied for at a counter, starts again (and must be activated again, Q4)
    assert customer.do("apply_otp_card", **APPLICATION).accepted
    assert customer.value("otp_card.uses") == 0 and customer.state("otp_card") == "issued"


def test_q5_wrong_code_consumes_no_use(customer: Customer) -> None:
    customer.with_otp_card()
    assert refused(customer.pay(method="otp", password=PAYMENT_PASSWORD, otp_code_correct=False),
                   "wrong_otp_code")
    assert customer.value("otp_card.uses") == 0


def test_r9_first_b2c_payment_needs_a_login_after_the_card_was_issued(customer: Customer) -> None:
    customer.online()
    assert customer.do("apply_otp_card", **APPLICATION).accepted      # still in the old session
    assert customer.do("set_payment_password", new=PAYMENT_PASSWORD).accepted
    assert customer.do("activate_otp_card").accepted
    pay = dict(method="otp", password=PAYMENT_PASSWORD)
    assert refused(customer.pay(**pay), "login_required_after_card_issue")
    assert customer.pay(**pay, channel="online_banking").accepted  # not B2C: allowed
    assert customer.do("logout").accepted and customer.do("login", password=LOGIN_PASSWORD).accepted
    assert customer.pay(**pay).accepted


# -- U-key: R10-R16 ----------------------------------------------------------------------------

def test_r10_r13_any_registered_user_may_apply_for_a_ukey(customer: Customer) -> None:
    customer.register()
    assert refused(customer.do("apply_ukey", **{**APPLICATION, "id_document": "expired"},
                               brand="brand_a"), "id_invalid")
    assert customer.do("apply_ukey", **APPLICATION, brand="brand_a").accepted
    assert refused(customer.do("apply_ukey", **APPLICATION, brand="brand_a"), "ukey_already_held")


def test_r11_r14_driver_of_its_own_brand_only(customer: Customer) -> None:
    customer.online()
    assert customer.do("apply_ukey", **APPLICATION, brand="brand_b").accepted
    assert refused(customer.do("install_driver", brand="brand_a"), "wrong_driver_brand")
    assert customer.do("install_driver", brand="brand_b").accepted


def test_r15_certificate_online_needs_plugged_ukey_and_driver(customer: Customer) -> None:
    customer.online()
    assert customer.do("apply_ukey", **APPLICATION, brand="brand_a").accepted
    assert refused(customer.do("download_certificate", route="online", ukey_connected=True),
                   "driver_not_installed")
    assert customer.do("install_driver", brand="brand_a").accepted
    assert refused(customer.do("download_certificate", route="online", ukey_connected=False),
                   "ukey_not_connected")
    assert customer.do("download_certificate", route="online", ukey_connected=True).accepted
    assert customer.state("ukey") == "ready"


def test_q12_counter_certificate_without_driver_then_driver(customer: Customer) -> None:
    customer.online()
    assert customer.do("apply_ukey", **APPLICATION, brand="brand_a").accepted
    assert customer.do("download_certificate", route="counter", ukey_connected=True).accepted
    assert refused(customer.pay(method="ukey", amount=10), "driver_not_installed")
    assert customer.do("install_driver", brand="brand_a").accepted
    assert customer.pay(method="ukey", amount=10).accepted


def test_r12_r16_ukey_pays_beyond_300_yuan_with_key_and_password(customer: Customer) -> None:
    customer.with_ukey()
    assert refused(customer.pay(method="ukey", amount=5_000_000, ukey_connected=False),
                   "ukey_not_connected")
    assert refused(customer.pay(method="ukey", amount=5_000_000, ukey_password_correct=False),
                   "wrong_ukey_password")
    outcome = customer.pay(method="ukey", amount=100_000_000)
    assert outcome.accepted and {"R12", "R16"} <= set(outcome.rules)


def test_r16_ukey_pays_only_in_a_full_session_whatever_the_channel(customer: Customer) -> None:
    customer.with_ukey()
    assert customer.do("logout").accepted
    assert refused(customer.pay(method="ukey", channel="b2c"), "not_logged_in")
    assert refused(customer.pay(method="static", channel="b2c", amount=0 + 1, password="x"),
                   "payment_password_invalidated")         # static B2C needs no session
    assert customer.do("reset_login_password", **COUNTER, new="135790").accepted
    assert customer.do("login", password="135790").accepted
    assert refused(customer.pay(method="ukey", channel="b2c"), "password_change_required")


def test_r11_ukey_payment_without_certificate_refused(customer: Customer) -> None:
    customer.online()
    assert customer.do("apply_ukey", **APPLICATION, brand="brand_a").accepted
    assert customer.do("install_driver", brand="brand_a").accepted
    assert refused(customer.pay(method="ukey"), "certificate_missing")


# -- Login password: R17-R20 ---------------------------------------------------------------------

@pytest.mark.parametrize(("new", "accepted"), [
    ("abc12", False),                         # 5 characters
    ("abc123", True),                         # 6
    ("a1" * 15, True),                        # 30
    ("a1" * 15 + "b", False),                 # 31
    ("abcdefgh", False),                      # no digit
    ("12345678", False),                      # no letter
    ("abc 123", False),                       # a space
    ("abc_123", False),                       # punctuation
    ("密码abc123", False),                     # not ASCII (Q6)
])
def test_r18_new_login_password_policy(customer: Customer, new: str, accepted: bool) -> None:
    customer.register()
    customer.do("login", password="123456")
    outcome = customer.do("change_login_password", old="123456", new=new)
    assert outcome.accepted is accepted
    if not accepted:
        assert outcome.reason == "password_policy_violation"


def test_r17_change_needs_login_and_the_old_password(customer: Customer) -> None:
    customer.register()
    assert refused(customer.do("change_login_password", old="123456", new="abc123"),
                   "not_logged_in")
    customer.do("login", password="123456")
    assert refused(customer.do("change_login_password", old="654321", new="abc123"),
                   "wrong_password")


def test_r18_letters_are_case_sensitive(customer: Customer) -> None:
    customer.online()
    customer.do("logout")
    assert refused(customer.do("login", password=LOGIN_PASSWORD.lower()), "wrong_password")
    assert refused(customer.do("login", password=LOGIN_PASSWORD.upper()), "wrong_password")
    assert customer.do("login", password=LOGIN_PASSWORD).accepted


@pytest.mark.parametrize(("changes", "reason"), [
    ({"id_document": "none"}, "id_invalid"), ({"card": "none"}, "card_missing"),
    ({"new": "12345"}, "password_policy_violation"),
    ({"new": "123456789"}, "password_policy_violation"),
    ({"new": "abc123"}, "password_policy_violation")])
def test_r19_r20_counter_reset_needs_id_card_and_6_to_8_digits(
        customer: Customer, changes: dict, reason: str) -> None:
    customer.online()
    params = {**COUNTER, "new": "13579135", **changes}
    assert refused(customer.do("reset_login_password", **params), reason)


def test_r19_r20_reset_works_at_once_old_never_again(customer: Customer) -> None:
    customer.online()
    assert customer.do("reset_login_password", **COUNTER, new="135790").accepted
    assert customer.state("session") == "logged_out"               # Q10: the reset ends it
    assert refused(customer.do("login", password=LOGIN_PASSWORD), "wrong_password")
    assert customer.do("login", password="135790").accepted
    assert customer.state("session") == "restricted"               # R20: change it first
    assert refused(customer.pay(channel="online_banking"), "password_change_required")
    assert customer.do("change_login_password", old="135790", new="After2024").accepted
    assert customer.state("session") == "logged_in"
    customer.do("logout")
    assert refused(customer.do("login", password="135790"), "wrong_password")


# -- Payment password: R21-R22 ----------------------------------------------------------------

def test_r21_no_payment_password_reset(customer: Customer) -> None:
    customer.register()
    outcome = customer.do("reset_payment_password", **COUNTER)
    assert refused(outcome, "payment_password_reset_unavailable") and "R21" in outcome.rules


@pytest.mark.parametrize("application", ["apply_otp_card", "apply_ukey"])
def test_r22_old_payment_password_fails_after_application(
        customer: Customer, application: str) -> None:
    customer.online()
    extra = {"brand": "brand_a"} if application == "apply_ukey" else {}
    assert customer.do(application, **APPLICATION, **extra).accepted
    assert customer.state("payment_password") == "invalidated"
    assert refused(customer.pay(), "payment_password_invalidated")
    assert refused(customer.do("change_payment_password", old="246810", new="New2024pw"),
                   "payment_password_invalidated")
