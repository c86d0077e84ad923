"""Tests of the reference bank (authspec.bank): domain API, SQLite storage, and adapter.

Each test names the source rule (R1-R22) or open question (Q1-Q17) it exercises. The bank
runs with a low PBKDF2 iteration count and without fsync so the whole file stays fast.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from authspec.bank.adapter import (
    CUSTOMER,
    EVENT_PARAMS,
    LOCAL_CARD,
    OTHER_CARD,
    OTHER_PERSON,
    BankAdapter,
    make_adapter,
)
from authspec.bank.core import Bank
from authspec.bank.domain import (
    CertificateRoute,
    Channel,
    IdDocument,
    OtpCard,
    PaymentOrder,
    PayMethod,
    RegistrationRequest,
    UKeyMedium,
)
from authspec.bank.errors import BankError, Reason
from authspec.bank.passwords import (
    COUNTER_PASSWORD_RULE,
    CUSTOMER_PASSWORD_RULE,
    PRODUCTION_KDF_ITERATIONS,
    PasswordHasher,
)

ITERATIONS = 8
VALID_ID = IdDocument(CUSTOMER, date(2099, 12, 31))
EXPIRED_ID = IdDocument(CUSTOMER, date(2001, 1, 1))
OTHER_ID = IdDocument(OTHER_PERSON, date(2099, 12, 31))
LOGIN_PW = "123456"  # counter-set at registration
PAY_PW = "654321"  # counter-set at registration
NEW_LOGIN = "abc123"
NEW_PAY = "pay123"


# ---------------------------------------------------------------------- helpers


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    with Bank(tmp_path / "bank.sqlite3", kdf_iterations=ITERATIONS, durable=False) as b:
        yield b


def request(**changes: object) -> RegistrationRequest:
    base = RegistrationRequest(
        customer=CUSTOMER,
        form_submitted=True,
        agreement_acknowledged=True,
        local_account=True,
        card_to_register=LOCAL_CARD,
        card_presented=LOCAL_CARD,
        card_application_submitted=False,
        id_document=VALID_ID,
        own_ukey=False,
        ukey_medium=None,
        login_password=LOGIN_PW,
        payment_password=PAY_PW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def refused(code: Reason, call: object, *args: object) -> None:
    with pytest.raises(BankError) as info:
        call(*args)  # type: ignore[operator]
    assert info.value.code == code, f"expected {code}, got {info.value.code}"


def static(
    amount: int, password: str | None = PAY_PW, channel: Channel = Channel.B2C
) -> PaymentOrder:
    return PaymentOrder(PayMethod.STATIC, channel, amount, payment_password=password)


def registered(bank: Bank, **changes: object) -> str:
    """Register the customer; return the registered card number."""
    return bank.register_customer(request(**changes)).card_number


def online(bank: Bank, **changes: object) -> str:
    """Registered, logged in, login password changed to letters and digits (full session)."""
    card = registered(bank, **changes)
    bank.login(CUSTOMER, LOGIN_PW)
    bank.change_login_password(CUSTOMER, LOGIN_PW, NEW_LOGIN)
    return card


def with_active_otp_card(bank: Bank) -> OtpCard:
    """Online customer with an activated OTP card, logged in since it was issued."""
    card = online(bank)
    otp = bank.apply_otp_card(CUSTOMER, VALID_ID, card)
    bank.set_payment_password(CUSTOMER, NEW_PAY)
    bank.activate_otp_card(CUSTOMER)
    bank.logout(CUSTOMER)
    bank.login(CUSTOMER, NEW_LOGIN)
    return otp


def otp_order(bank: Bank, otp: OtpCard, *, correct: bool = True, amount: int = 100,
              channel: Channel = Channel.B2C) -> PaymentOrder:
    challenge = bank.otp_challenge(CUSTOMER)
    assert challenge is not None
    code = otp.code_for(challenge)
    if not correct:
        code = "".join(str((int(d) + 1) % 10) for d in code)
    return PaymentOrder(PayMethod.OTP, channel, amount, payment_password=NEW_PAY, otp_code=code)


def drive_otp_uses(bank: Bank, otp: OtpCard, count: int) -> None:
    for _ in range(count):
        bank.pay(CUSTOMER, otp_order(bank, otp))


def ukey_order(amount: int = 100, *, plugged: bool = True, pin: bool = True,
               channel: Channel = Channel.B2C) -> PaymentOrder:
    return PaymentOrder(PayMethod.UKEY, channel, amount, ukey_plugged_in=plugged,
                        ukey_pin_verified=pin)


def with_ready_ukey(bank: Bank, brand: str = "brand_a") -> str:
    card = online(bank)
    bank.apply_ukey(CUSTOMER, VALID_ID, card, brand)
    bank.install_ukey_driver(CUSTOMER, brand)
    bank.download_certificate(CUSTOMER, CertificateRoute.ONLINE, True)
    return card


# ------------------------------------------------------------ password rules (R18, R20, Q6)


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("abc12", False),  # 5 characters
        ("abc123", True),  # 6
        ("a1" * 15, True),  # 30
        ("a1" * 15 + "b", False),  # 31
        ("abcdef", False),  # no digit
        ("123456", False),  # no letter
        ("ABC123", True),
        ("abc 123", False),  # space
        ("abc-123", False),  # punctuation
        ("abc１23", False),  # full-width digit is not 0-9
        ("ábc123", False),  # non-ASCII letter
        ("", False),
    ],
)
def test_customer_password_rule(password: str, ok: bool) -> None:
    assert CUSTOMER_PASSWORD_RULE.accepts(password) is ok


@pytest.mark.parametrize(
    ("password", "ok"),
    [("12345", False), ("123456", True), ("12345678", True), ("123456789", False),
     ("12345a", False), ("１２３４５６", False)],
)
def test_counter_password_rule(password: str, ok: bool) -> None:
    assert COUNTER_PASSWORD_RULE.accepts(password) is ok


def test_hasher_salts_each_password_and_verifies_in_constant_time() -> None:
    hasher = PasswordHasher(ITERATIONS)
    one, two = hasher.hash("abc123"), hasher.hash("abc123")
    assert one.salt != two.salt and one.digest != two.digest
    assert hasher.verify(one, "abc123") and hasher.verify(two, "abc123")
    assert not hasher.verify(one, "ABC123")
    assert "abc123" not in repr(one) and one.digest.hex() not in repr(one)


def test_production_default_work_factor() -> None:
    assert PasswordHasher().iterations == PRODUCTION_KDF_ITERATIONS >= 600_000
    with pytest.raises(ValueError):
        PasswordHasher(0)


# ---------------------------------------------------------------------- registration (R1-R4, Q11)


def test_register_with_local_account(bank: Bank) -> None:
    """R1, R2: form, agreement, own valid ID and the card; Q11: counter-set passwords."""
    reg = bank.register_customer(request())
    assert (reg.card_number, reg.card_opened) == (LOCAL_CARD, False)
    snap = bank.snapshot(CUSTOMER)
    assert snap.registered and not snap.card_opened
    assert snap.login_password_origin == "counter" and snap.payment_password_status == "active"
    assert snap.static_status == "active" and snap.static_spent_fen == 0
    assert snap.session is None and snap.otp_status is None and snap.ukey_brand is None


def test_register_without_local_account_opens_a_card(bank: Bank) -> None:
    """R3: card application form instead of a card; a card is opened."""
    reg = bank.register_customer(request(local_account=False, card_to_register=None,
                                         card_presented=None, card_application_submitted=True))
    assert reg.card_opened and reg.card_number.startswith("6222") and len(reg.card_number) == 19
    assert bank.snapshot(CUSTOMER).card_opened


def test_register_with_own_ukey(bank: Bank) -> None:
    """R4: the own U-key medium is presented and recorded; nothing else changes."""
    bank.register_customer(request(own_ukey=True, ukey_medium=UKeyMedium("K1", "brand_b")))
    snap = bank.snapshot(CUSTOMER)
    assert snap.ukey_brand == "brand_b" and not snap.ukey_driver_installed
    assert snap.static_status == "active" and snap.payment_password_status == "active"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"form_submitted": False}, Reason.REGISTRATION_FORM_MISSING),  # R1
        ({"agreement_acknowledged": False}, Reason.AGREEMENT_NOT_ACKNOWLEDGED),  # R1
        ({"id_document": None}, Reason.ID_INVALID),  # R2
        ({"id_document": EXPIRED_ID}, Reason.ID_INVALID),
        ({"id_document": OTHER_ID}, Reason.ID_INVALID),
        ({"card_presented": None}, Reason.CARD_MISSING),  # R2
        ({"card_presented": OTHER_CARD}, Reason.CARD_MISSING),
        ({"local_account": False, "card_application_submitted": False},
         Reason.CARD_APPLICATION_MISSING),  # R3
        ({"own_ukey": True, "ukey_medium": None}, Reason.UKEY_MEDIUM_MISSING),  # R4
        ({"login_password": "abc123"}, Reason.PASSWORD_POLICY_VIOLATION),  # Q11
        ({"login_password": "12345"}, Reason.PASSWORD_POLICY_VIOLATION),
        ({"payment_password": "123456789"}, Reason.PASSWORD_POLICY_VIOLATION),
    ],
)
def test_registration_refusals_change_nothing(bank: Bank, changes: dict[str, object],
                                              code: Reason) -> None:
    refused(code, bank.register_customer, request(**changes))
    assert not bank.snapshot(CUSTOMER).registered
    refused(Reason.NOT_REGISTERED, bank.login, CUSTOMER, LOGIN_PW)
    bank.register_customer(request())  # the corrected request goes through
    assert bank.snapshot(CUSTOMER).registered


def test_registration_refusal_precedence(bank: Bank) -> None:
    """Checks run form, agreement, ID, card, card application, U-key, passwords."""
    everything_wrong = request(form_submitted=False, agreement_acknowledged=False,
                               id_document=None, card_presented=None, own_ukey=True,
                               login_password="x", payment_password="y")
    order = [
        ({"form_submitted": True}, Reason.REGISTRATION_FORM_MISSING),
        ({"agreement_acknowledged": True}, Reason.AGREEMENT_NOT_ACKNOWLEDGED),
        ({"id_document": VALID_ID}, Reason.ID_INVALID),
        ({"card_presented": LOCAL_CARD}, Reason.CARD_MISSING),
        ({"ukey_medium": UKeyMedium("K", "brand_a")}, Reason.UKEY_MEDIUM_MISSING),
        ({"login_password": LOGIN_PW}, Reason.PASSWORD_POLICY_VIOLATION),
        ({"payment_password": PAY_PW}, Reason.PASSWORD_POLICY_VIOLATION),
    ]
    req = everything_wrong
    for fix, code in order:
        refused(code, bank.register_customer, req)
        req = replace(req, **fix)  # type: ignore[arg-type]
    bank.register_customer(req)
    refused(Reason.ALREADY_REGISTERED, bank.register_customer, everything_wrong)


def test_unregistered_customer_gets_nothing(bank: Bank) -> None:
    refused(Reason.NOT_REGISTERED, bank.logout, CUSTOMER)
    refused(Reason.NOT_REGISTERED, bank.pay, CUSTOMER, static(100))
    refused(Reason.NOT_REGISTERED, bank.apply_otp_card, CUSTOMER, VALID_ID, LOCAL_CARD)
    refused(Reason.NOT_REGISTERED, bank.apply_ukey, CUSTOMER, VALID_ID, LOCAL_CARD, "brand_a")
    refused(Reason.NOT_REGISTERED, bank.reset_payment_password_at_counter, CUSTOMER, None, None)
    assert bank.otp_challenge(CUSTOMER) is None


# ---------------------------------------------------------------------- sessions and login password


def test_counter_password_restricts_the_session(bank: Bank) -> None:
    """R20, Q7, Q11: a counter-set password allows only changing it (or logging out)."""
    card = registered(bank)
    bank.login(CUSTOMER, LOGIN_PW)
    assert bank.snapshot(CUSTOMER).session == "restricted"
    restricted = Reason.PASSWORD_CHANGE_REQUIRED
    refused(restricted, bank.change_payment_password, CUSTOMER, PAY_PW, NEW_PAY)
    refused(restricted, bank.set_payment_password, CUSTOMER, NEW_PAY)
    refused(restricted, bank.activate_otp_card, CUSTOMER)
    refused(restricted, bank.install_ukey_driver, CUSTOMER, "brand_a")
    refused(restricted, bank.download_certificate, CUSTOMER, CertificateRoute.ONLINE, True)
    refused(restricted, bank.pay, CUSTOMER, static(100, channel=Channel.ONLINE_BANKING))
    bank.pay(CUSTOMER, static(100))  # B2C is not made in the session (Q7)
    bank.apply_otp_card(CUSTOMER, VALID_ID, card)  # counter services are not online
    bank.change_login_password(CUSTOMER, LOGIN_PW, NEW_LOGIN)
    assert bank.snapshot(CUSTOMER).session == "full"
    assert bank.snapshot(CUSTOMER).login_password_origin == "online"
    bank.set_payment_password(CUSTOMER, NEW_PAY)


def test_login_logout_and_wrong_passwords(bank: Bank) -> None:
    """R17-R19, Q10: wrong passwords are refused but never lock the account."""
    registered(bank)
    for _ in range(20):
        refused(Reason.WRONG_PASSWORD, bank.login, CUSTOMER, "000000")
    refused(Reason.NOT_LOGGED_IN, bank.logout, CUSTOMER)
    bank.login(CUSTOMER, LOGIN_PW)
    refused(Reason.ALREADY_LOGGED_IN, bank.login, CUSTOMER, LOGIN_PW)
    bank.logout(CUSTOMER)
    assert bank.snapshot(CUSTOMER).session is None


def test_change_login_password(bank: Bank) -> None:
    """R17: only while logged in, with the right old password; R18 policy."""
    registered(bank)
    refused(Reason.NOT_LOGGED_IN, bank.change_login_password, CUSTOMER, LOGIN_PW, NEW_LOGIN)
    bank.login(CUSTOMER, LOGIN_PW)
    refused(Reason.WRONG_PASSWORD, bank.change_login_password, CUSTOMER, "999999", NEW_LOGIN)
    refused(Reason.PASSWORD_POLICY_VIOLATION, bank.change_login_password, CUSTOMER, LOGIN_PW,
            "abcdef")
    # the old-password check comes before the policy check
    refused(Reason.WRONG_PASSWORD, bank.change_login_password, CUSTOMER, "999999", "abcdef")
    bank.change_login_password(CUSTOMER, LOGIN_PW, NEW_LOGIN)
    bank.change_login_password(CUSTOMER, NEW_LOGIN, NEW_LOGIN)  # re-using is not forbidden
    bank.logout(CUSTOMER)
    refused(Reason.WRONG_PASSWORD, bank.login, CUSTOMER, LOGIN_PW)
    bank.login(CUSTOMER, NEW_LOGIN)
    assert bank.snapshot(CUSTOMER).session == "full"


@pytest.mark.parametrize(
    ("new", "ok"),
    [("abc12", False), ("abc123", True), ("a1" * 15, True), ("a1" * 15 + "b", False),
     ("abcdefg", False), ("1234567", False), ("abc_123", False), ("Abc123", True)],
)
def test_login_password_lengths_and_classes(bank: Bank, new: str, ok: bool) -> None:
    """R18, Q6: 6 and 30 characters accepted, 5 and 31 refused; a digit and a letter."""
    registered(bank)
    bank.login(CUSTOMER, LOGIN_PW)
    if ok:
        bank.change_login_password(CUSTOMER, LOGIN_PW, new)
        bank.logout(CUSTOMER)
        bank.login(CUSTOMER, new)
    else:
        refused(Reason.PASSWORD_POLICY_VIOLATION, bank.change_login_password, CUSTOMER,
                LOGIN_PW, new)


def test_passwords_are_case_sensitive(bank: Bank) -> None:
    """R18: letters are case-sensitive (login and payment passwords)."""
    online(bank)
    bank.change_login_password(CUSTOMER, NEW_LOGIN, "Abc123")
    bank.logout(CUSTOMER)
    refused(Reason.WRONG_PASSWORD, bank.login, CUSTOMER, "abc123")
    refused(Reason.WRONG_PASSWORD, bank.login, CUSTOMER, "ABC123")
    bank.login(CUSTOMER, "Abc123")
    bank.change_payment_password(CUSTOMER, PAY_PW, "Pay123")
    refused(Reason.WRONG_PAYMENT_PASSWORD, bank.pay, CUSTOMER, static(1, "pay123"))
    bank.pay(CUSTOMER, static(1, "Pay123"))


def test_counter_reset_of_login_password(bank: Bank) -> None:
    """R19, R20, Q10: in person with ID and card; effective at once; old never again."""
    card = online(bank)
    refused(Reason.ID_INVALID, bank.reset_login_password_at_counter, CUSTOMER, None, card, "777777")
    refused(Reason.ID_INVALID, bank.reset_login_password_at_counter, CUSTOMER, EXPIRED_ID, card,
            "777777")
    refused(Reason.ID_INVALID, bank.reset_login_password_at_counter, CUSTOMER, OTHER_ID, None,
            "777777")  # ID before card
    refused(Reason.CARD_MISSING, bank.reset_login_password_at_counter, CUSTOMER, VALID_ID,
            OTHER_CARD, "777777")
    for bad in ("abc123", "12345", "123456789"):
        refused(Reason.PASSWORD_POLICY_VIOLATION, bank.reset_login_password_at_counter,
                CUSTOMER, VALID_ID, card, bad)
    assert bank.snapshot(CUSTOMER).session == "full"  # refusals changed nothing
    bank.reset_login_password_at_counter(CUSTOMER, VALID_ID, card, "777777")
    snap = bank.snapshot(CUSTOMER)
    assert snap.session is None and snap.login_password_origin == "counter"
    refused(Reason.WRONG_PASSWORD, bank.login, CUSTOMER, NEW_LOGIN)
    bank.login(CUSTOMER, "777777")  # at once
    assert bank.snapshot(CUSTOMER).session == "restricted"
    bank.change_login_password(CUSTOMER, "777777", "new789")
    bank.logout(CUSTOMER)
    refused(Reason.WRONG_PASSWORD, bank.login, CUSTOMER, NEW_LOGIN)
    refused(Reason.WRONG_PASSWORD, bank.login, CUSTOMER, "777777")
    bank.login(CUSTOMER, "new789")


# ------------------------------------------------------------ payment password (R7, R21, R22, Q8)


def test_change_payment_password(bank: Bank) -> None:
    """R7: changed online, in a full session, to letters and digits."""
    registered(bank)
    refused(Reason.NOT_LOGGED_IN, bank.change_payment_password, CUSTOMER, PAY_PW, NEW_PAY)
    bank.login(CUSTOMER, LOGIN_PW)
    bank.change_login_password(CUSTOMER, LOGIN_PW, NEW_LOGIN)
    refused(Reason.WRONG_PAYMENT_PASSWORD, bank.change_payment_password, CUSTOMER, "000000",
            NEW_PAY)
    refused(Reason.PASSWORD_POLICY_VIOLATION, bank.change_payment_password, CUSTOMER, PAY_PW,
            "111111")
    bank.change_payment_password(CUSTOMER, PAY_PW, NEW_PAY)
    refused(Reason.WRONG_PAYMENT_PASSWORD, bank.pay, CUSTOMER, static(1, PAY_PW))
    bank.pay(CUSTOMER, static(1, NEW_PAY))


def test_set_payment_password_only_after_invalidation(bank: Bank) -> None:
    """Q8: set only when invalidated; "already set" comes before the policy check."""
    card = online(bank)
    refused(Reason.PAYMENT_PASSWORD_ALREADY_SET, bank.set_payment_password, CUSTOMER, "111111")
    refused(Reason.PAYMENT_PASSWORD_ALREADY_SET, bank.set_payment_password, CUSTOMER, NEW_PAY)
    bank.apply_otp_card(CUSTOMER, VALID_ID, card)
    refused(Reason.PASSWORD_POLICY_VIOLATION, bank.set_payment_password, CUSTOMER, "111111")
    bank.set_payment_password(CUSTOMER, NEW_PAY)


def test_payment_password_is_never_reset(bank: Bank) -> None:
    """R21: not even with ID and card; apply for a card or U-key instead."""
    card = registered(bank)
    refused(Reason.PAYMENT_PASSWORD_RESET_UNAVAILABLE, bank.reset_payment_password_at_counter,
            CUSTOMER, VALID_ID, card)
    refused(Reason.PAYMENT_PASSWORD_RESET_UNAVAILABLE, bank.reset_payment_password_at_counter,
            CUSTOMER, None, None)


@pytest.mark.parametrize("authenticator", ["otp_card", "ukey"])
def test_application_invalidates_the_payment_password(bank: Bank, authenticator: str) -> None:
    """R21, R22, Q8: the old payment password stops working at once; a new one is set."""
    card = online(bank)
    if authenticator == "otp_card":
        bank.apply_otp_card(CUSTOMER, VALID_ID, card)
    else:
        bank.apply_ukey(CUSTOMER, VALID_ID, card, "brand_a")
    assert bank.snapshot(CUSTOMER).payment_password_status == "invalidated"
    refused(Reason.PAYMENT_PASSWORD_INVALIDATED, bank.pay, CUSTOMER, static(1, PAY_PW))
    refused(Reason.PAYMENT_PASSWORD_INVALIDATED, bank.change_payment_password, CUSTOMER, PAY_PW,
            NEW_PAY)
    refused(Reason.PASSWORD_POLICY_VIOLATION, bank.set_payment_password, CUSTOMER, PAY_PW)
    bank.set_payment_password(CUSTOMER, NEW_PAY)
    assert bank.snapshot(CUSTOMER).payment_password_status == "active"
    refused(Reason.WRONG_PAYMENT_PASSWORD, bank.pay, CUSTOMER, static(1, PAY_PW))
    refused(Reason.STATIC_SUPERSEDED, bank.pay, CUSTOMER, static(1, NEW_PAY))  # Q2


# ------------------------------------------------------------ static password (R5, Q1, Q2)


def test_static_quota_lands_exactly_on_300_yuan(bank: Bank) -> None:
    """R5, Q1: 300.00 yuan in total is fine; then the quota is used up."""
    registered(bank)
    bank.pay(CUSTOMER, static(29_999))
    bank.pay(CUSTOMER, static(1))
    snap = bank.snapshot(CUSTOMER)
    assert (snap.static_spent_fen, snap.static_status) == (30_000, "exhausted")
    refused(Reason.QUOTA_EXHAUSTED, bank.pay, CUSTOMER, static(1))


def test_static_quota_refuses_300_yuan_and_1_fen(bank: Bank) -> None:
    """R5, Q1: a payment that would go past 300.00 yuan is refused whole."""
    registered(bank)
    refused(Reason.QUOTA_EXCEEDED, bank.pay, CUSTOMER, static(30_001))
    bank.pay(CUSTOMER, static(20_000))
    refused(Reason.QUOTA_EXCEEDED, bank.pay, CUSTOMER, static(10_001))
    bank.pay(CUSTOMER, static(10_000))
    assert bank.snapshot(CUSTOMER).static_spent_fen == 30_000


def test_refused_static_payments_do_not_count(bank: Bank) -> None:
    """Q1: only accepted payments count; refused ones are in the ledger as refused."""
    registered(bank)
    refused(Reason.WRONG_PAYMENT_PASSWORD, bank.pay, CUSTOMER, static(10_000, "000000"))
    in_session = static(10_000, channel=Channel.ONLINE_BANKING)
    refused(Reason.NOT_LOGGED_IN, bank.pay, CUSTOMER, in_session)
    refused(Reason.QUOTA_EXCEEDED, bank.pay, CUSTOMER, static(40_000))
    assert bank.snapshot(CUSTOMER).static_spent_fen == 0
    bank.pay(CUSTOMER, static(30_000))
    rows = sqlite3.connect(bank.path).execute(
        "SELECT status, COUNT(*), SUM(amount_fen) FROM payments GROUP BY status ORDER BY status"
    ).fetchall()
    assert rows == [("accepted", 1, 30_000), ("refused", 3, 60_000)]


def test_static_payments_stop_after_a_card_application(bank: Bank) -> None:
    """Q2: whatever is left of the quota."""
    card = online(bank)
    bank.pay(CUSTOMER, static(100))
    bank.apply_ukey(CUSTOMER, VALID_ID, card, "brand_a")
    bank.set_payment_password(CUSTOMER, NEW_PAY)
    assert bank.snapshot(CUSTOMER).static_status == "superseded"
    refused(Reason.STATIC_SUPERSEDED, bank.pay, CUSTOMER, static(100, NEW_PAY))


def test_amounts_are_whole_fen() -> None:
    """Q1: amounts are int fen; never float, never zero or negative."""
    with pytest.raises(ValueError):
        PaymentOrder(PayMethod.STATIC, Channel.B2C, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        PaymentOrder(PayMethod.STATIC, Channel.B2C, 0)
    with pytest.raises(ValueError):
        PaymentOrder(PayMethod.STATIC, Channel.B2C, True)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- OTP card (R6-R9, Q3-Q5, Q9)


def test_otp_card_application_needs_id_and_card(bank: Bank) -> None:
    """R6: own valid ID and the registered card; one usable card at a time."""
    card = registered(bank)
    refused(Reason.ID_INVALID, bank.apply_otp_card, CUSTOMER, OTHER_ID, card)
    refused(Reason.CARD_MISSING, bank.apply_otp_card, CUSTOMER, VALID_ID, OTHER_CARD)
    refused(Reason.CARD_MISSING, bank.apply_otp_card, CUSTOMER, VALID_ID, None)
    assert bank.snapshot(CUSTOMER).payment_password_status == "active"
    bank.apply_otp_card(CUSTOMER, VALID_ID, card)
    assert bank.snapshot(CUSTOMER).otp_status == "issued"
    refused(Reason.OTP_CARD_ALREADY_HELD, bank.apply_otp_card, CUSTOMER, VALID_ID, card)


def test_otp_card_activation(bank: Bank) -> None:
    """R7: logged in, new payment password (letters and digits) set, then activate."""
    card = online(bank)
    refused(Reason.NO_OTP_CARD, bank.activate_otp_card, CUSTOMER)
    bank.apply_otp_card(CUSTOMER, VALID_ID, card)
    refused(Reason.PAYMENT_PASSWORD_INVALIDATED, bank.activate_otp_card, CUSTOMER)
    # the payment password is checked before the card
    refused(Reason.PAYMENT_PASSWORD_INVALIDATED, bank.pay, CUSTOMER,
            PaymentOrder(PayMethod.OTP, Channel.ONLINE_BANKING, 1, payment_password=PAY_PW))
    bank.set_payment_password(CUSTOMER, NEW_PAY)
    refused(Reason.OTP_CARD_NOT_ACTIVATED, bank.pay, CUSTOMER,
            PaymentOrder(PayMethod.OTP, Channel.ONLINE_BANKING, 1, payment_password=NEW_PAY))
    bank.logout(CUSTOMER)
    refused(Reason.NOT_LOGGED_IN, bank.activate_otp_card, CUSTOMER)
    bank.login(CUSTOMER, NEW_LOGIN)
    bank.activate_otp_card(CUSTOMER)
    refused(Reason.OTP_CARD_ALREADY_ACTIVE, bank.activate_otp_card, CUSTOMER)
    assert bank.snapshot(CUSTOMER).otp_status == "active"


def test_b2c_needs_a_login_after_the_card_was_issued(bank: Bank) -> None:
    """R9, Q4: a login before the card was issued does not count."""
    card = online(bank)  # logged in before the card exists
    otp = bank.apply_otp_card(CUSTOMER, VALID_ID, card)
    bank.set_payment_password(CUSTOMER, NEW_PAY)
    bank.activate_otp_card(CUSTOMER)
    assert not bank.snapshot(CUSTOMER).otp_login_since_issue
    refused(Reason.LOGIN_REQUIRED_AFTER_CARD_ISSUE, bank.pay, CUSTOMER, otp_order(bank, otp))
    bank.pay(CUSTOMER, otp_order(bank, otp, channel=Channel.ONLINE_BANKING))
    bank.logout(CUSTOMER)
    bank.login(CUSTOMER, NEW_LOGIN)
    assert bank.snapshot(CUSTOMER).otp_login_since_issue
    bank.pay(CUSTOMER, otp_order(bank, otp))


def test_wrong_otp_code_consumes_no_use(bank: Bank) -> None:
    """R6, Q5: the code is checked; a refused payment consumes nothing."""
    otp = with_active_otp_card(bank)
    refused(Reason.WRONG_OTP_CODE, bank.pay, CUSTOMER, otp_order(bank, otp, correct=False))
    refused(Reason.WRONG_PAYMENT_PASSWORD, bank.pay, CUSTOMER,
            replace(otp_order(bank, otp), payment_password=PAY_PW))
    assert bank.snapshot(CUSTOMER).otp_uses == 0
    bank.pay(CUSTOMER, otp_order(bank, otp))
    assert bank.snapshot(CUSTOMER).otp_uses == 1


def test_otp_payments_have_no_limit(bank: Bank) -> None:
    """Q9: no limit for OTP-card payments (1,000,000 yuan)."""
    otp = with_active_otp_card(bank)
    bank.pay(CUSTOMER, otp_order(bank, otp, amount=100_000_000))
    bank.pay(CUSTOMER, otp_order(bank, otp, amount=100_000_000))


def test_otp_card_1000th_use_accepted_1001st_refused(bank: Bank) -> None:
    """R8, Q4, Q5: 1000 uses; then a new card from the counter, activated again."""
    otp = with_active_otp_card(bank)
    drive_otp_uses(bank, otp, 999)
    assert bank.snapshot(CUSTOMER).otp_status == "active"
    bank.pay(CUSTOMER, otp_order(bank, otp))  # the 1000th
    snap = bank.snapshot(CUSTOMER)
    assert (snap.otp_status, snap.otp_uses) == ("used_up", 1000)
    refused(Reason.OTP_CARD_USED_UP, bank.pay, CUSTOMER,
            PaymentOrder(PayMethod.OTP, Channel.B2C, 1, payment_password=NEW_PAY, otp_code="0"))
    refused(Reason.OTP_CARD_USED_UP, bank.activate_otp_card, CUSTOMER)
    card = bank.snapshot(CUSTOMER).card_number
    new = bank.apply_otp_card(CUSTOMER, VALID_ID, card)
    assert new.serial != otp.serial
    snap = bank.snapshot(CUSTOMER)
    assert (snap.otp_status, snap.otp_uses, snap.otp_login_since_issue) == ("issued", 0, False)
    assert snap.payment_password_status == "invalidated"
    used = sqlite3.connect(bank.path).execute("SELECT COUNT(*) FROM otp_card_uses").fetchone()
    assert used == (1000,)


def test_otp_grid_and_challenge() -> None:
    card = OtpCard("S1", tuple(f"{i:03d}" for i in range(80)))
    assert "000" not in repr(card) and "S1" in repr(card)
    from authspec.bank.domain import OtpChallenge

    challenge = OtpChallenge.for_use("S1", 1)
    assert len(challenge.cells) == 2 and len(set(challenge.cells)) == 2
    assert len(card.code_for(challenge)) == 6
    assert OtpChallenge.for_use("S1", 1) == challenge


# ---------------------------------------------------------------------- U-key (R4, R10-R16, Q12)


def test_ukey_application(bank: Bank) -> None:
    """R10, R13: registered customer, own valid ID, registered card; one U-key."""
    card = registered(bank)
    refused(Reason.ID_INVALID, bank.apply_ukey, CUSTOMER, EXPIRED_ID, card, "brand_a")
    refused(Reason.CARD_MISSING, bank.apply_ukey, CUSTOMER, VALID_ID, OTHER_CARD, "brand_a")
    medium = bank.apply_ukey(CUSTOMER, VALID_ID, card, "brand_b")
    assert medium.brand == "brand_b" and bank.snapshot(CUSTOMER).ukey_brand == "brand_b"
    refused(Reason.UKEY_ALREADY_HELD, bank.apply_ukey, CUSTOMER, VALID_ID, card, "brand_a")


def test_ukey_driver_only_of_its_brand(bank: Bank) -> None:
    """R11, R14."""
    card = online(bank)
    refused(Reason.NO_UKEY, bank.install_ukey_driver, CUSTOMER, "brand_a")
    bank.apply_ukey(CUSTOMER, VALID_ID, card, "brand_a")
    refused(Reason.WRONG_DRIVER_BRAND, bank.install_ukey_driver, CUSTOMER, "brand_b")
    bank.install_ukey_driver(CUSTOMER, "brand_a")
    bank.install_ukey_driver(CUSTOMER, "brand_a")  # re-installing is harmless
    refused(Reason.WRONG_DRIVER_BRAND, bank.install_ukey_driver, CUSTOMER, "brand_b")
    assert bank.snapshot(CUSTOMER).ukey_driver_installed


def test_certificate_online_needs_login_driver_and_plugged_key(bank: Bank) -> None:
    """R11, R15, Q12."""
    card = online(bank)
    online_route = CertificateRoute.ONLINE
    refused(Reason.NO_UKEY, bank.download_certificate, CUSTOMER, online_route, True)
    bank.apply_ukey(CUSTOMER, VALID_ID, card, "brand_a")
    refused(Reason.DRIVER_NOT_INSTALLED, bank.download_certificate, CUSTOMER, online_route, True)
    bank.install_ukey_driver(CUSTOMER, "brand_a")
    refused(Reason.UKEY_NOT_CONNECTED, bank.download_certificate, CUSTOMER, online_route, False)
    bank.logout(CUSTOMER)
    refused(Reason.NOT_LOGGED_IN, bank.download_certificate, CUSTOMER, online_route, True)
    bank.login(CUSTOMER, NEW_LOGIN)
    bank.download_certificate(CUSTOMER, online_route, True)
    refused(Reason.CERTIFICATE_ALREADY_DOWNLOADED, bank.download_certificate, CUSTOMER,
            CertificateRoute.COUNTER, True)


def test_counter_certificate_without_driver(bank: Bank) -> None:
    """R15, Q12: a teller puts the certificate on; paying still needs the driver."""
    card = registered(bank)
    bank.apply_ukey(CUSTOMER, VALID_ID, card, "brand_a")
    refused(Reason.UKEY_NOT_CONNECTED, bank.download_certificate, CUSTOMER,
            CertificateRoute.COUNTER, False)
    bank.download_certificate(CUSTOMER, CertificateRoute.COUNTER, True)  # logged out is fine
    snap = bank.snapshot(CUSTOMER)
    assert snap.ukey_certificate and not snap.ukey_driver_installed
    refused(Reason.NOT_LOGGED_IN, bank.pay, CUSTOMER, ukey_order())  # R16: log in first
    bank.login(CUSTOMER, LOGIN_PW)
    bank.change_login_password(CUSTOMER, LOGIN_PW, NEW_LOGIN)
    refused(Reason.DRIVER_NOT_INSTALLED, bank.pay, CUSTOMER, ukey_order())
    bank.install_ukey_driver(CUSTOMER, "brand_a")
    bank.pay(CUSTOMER, ukey_order())


def test_ukey_payment_checks_and_no_limit(bank: Bank) -> None:
    """R11, R12, R16: driver, certificate, plugged in, U-key password; no limit."""
    card = online(bank)
    refused(Reason.NO_UKEY, bank.pay, CUSTOMER, ukey_order())
    bank.apply_ukey(CUSTOMER, VALID_ID, card, "brand_a")
    refused(Reason.DRIVER_NOT_INSTALLED, bank.pay, CUSTOMER, ukey_order())
    bank.install_ukey_driver(CUSTOMER, "brand_a")
    refused(Reason.CERTIFICATE_MISSING, bank.pay, CUSTOMER, ukey_order())
    bank.download_certificate(CUSTOMER, CertificateRoute.ONLINE, True)
    refused(Reason.UKEY_NOT_CONNECTED, bank.pay, CUSTOMER, ukey_order(plugged=False, pin=False))
    refused(Reason.WRONG_UKEY_PASSWORD, bank.pay, CUSTOMER, ukey_order(pin=False))
    for _ in range(3):  # 3,000,000 yuan, no payment password needed
        bank.pay(CUSTOMER, ukey_order(100_000_000, channel=Channel.ONLINE_BANKING))
    bank.logout(CUSTOMER)
    refused(Reason.NOT_LOGGED_IN, bank.pay, CUSTOMER,
            ukey_order(channel=Channel.ONLINE_BANKING))
    refused(Reason.NOT_LOGGED_IN, bank.pay, CUSTOMER, ukey_order())  # R16, on any channel


def test_own_ukey_pays_after_driver_and_certificate(bank: Bank) -> None:
    """R4, R11: the own U-key is used like an issued one; static payments remain (R5)."""
    registered(bank, own_ukey=True, ukey_medium=UKeyMedium("OWN1", "brand_b"))
    bank.login(CUSTOMER, LOGIN_PW)
    bank.change_login_password(CUSTOMER, LOGIN_PW, NEW_LOGIN)
    refused(Reason.WRONG_DRIVER_BRAND, bank.install_ukey_driver, CUSTOMER, "brand_a")
    bank.install_ukey_driver(CUSTOMER, "brand_b")
    bank.download_certificate(CUSTOMER, CertificateRoute.ONLINE, True)
    bank.pay(CUSTOMER, ukey_order(50_000))
    bank.pay(CUSTOMER, static(100))


def test_holding_both_authenticators(bank: Bank) -> None:
    """Q3: a card and a U-key at once; each payment uses the one it names."""
    otp = with_active_otp_card(bank)
    card = bank.snapshot(CUSTOMER).card_number
    bank.apply_ukey(CUSTOMER, VALID_ID, card, "brand_a")
    refused(Reason.PAYMENT_PASSWORD_INVALIDATED, bank.pay, CUSTOMER, otp_order(bank, otp))
    bank.set_payment_password(CUSTOMER, NEW_PAY)
    bank.pay(CUSTOMER, otp_order(bank, otp))
    refused(Reason.DRIVER_NOT_INSTALLED, bank.pay, CUSTOMER, ukey_order())


# ---------------------------------------------------------------------- storage


def test_state_persists_in_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "persist.sqlite3"
    with Bank(path, kdf_iterations=ITERATIONS, durable=False) as first:
        otp = with_active_otp_card(first)
        first.pay(CUSTOMER, otp_order(first, otp, amount=12_345))
        before = first.snapshot(CUSTOMER)
    assert path.stat().st_size > 0
    with Bank(path, kdf_iterations=ITERATIONS) as second:
        assert second.snapshot(CUSTOMER) == before
        assert before.session == "full" and before.otp_uses == 1
        second.logout(CUSTOMER)
        second.login(CUSTOMER, NEW_LOGIN)
        second.pay(CUSTOMER, otp_order(second, otp))
        assert second.snapshot(CUSTOMER).otp_uses == 2


def test_passwords_are_stored_hashed_never_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "hash.sqlite3"
    login, payment, changed = "48291375", "73925146", "Qz7xK9wP"
    with Bank(path, kdf_iterations=ITERATIONS, durable=False) as bank:
        bank.register_customer(request(login_password=login, payment_password=payment))
        bank.login(CUSTOMER, login)
        bank.change_login_password(CUSTOMER, login, changed)
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("hash"))
    assert len(raw) > 0
    for secret in (login, payment, changed):
        assert secret.encode() not in raw and secret.encode("utf-16-le") not in raw
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT purpose, origin, algorithm, iterations, salt, digest FROM credentials"
    ).fetchall()
    assert len(rows) == 3
    assert {(r[0], r[1]) for r in rows} == {("login", "counter"), ("payment", "counter"),
                                            ("login", "online")}
    assert all(r[2] == "pbkdf2_sha256" and r[3] == ITERATIONS for r in rows)
    assert all(len(r[4]) == 16 and len(r[5]) == 32 for r in rows)
    assert len({r[4] for r in rows}) == 3  # a fresh salt per password
    columns = [c[1] for c in conn.execute("PRAGMA table_info(credentials)")]
    assert "password" not in columns
    conn.close()


def test_reprs_mask_secrets(bank: Bank) -> None:
    req = request(login_password="135790", payment_password="246802")
    order = PaymentOrder(PayMethod.OTP, Channel.B2C, 1, payment_password="zz9zz9",
                         otp_code="778899")
    for text in (repr(req), repr(order), repr(bank)):
        for secret in ("135790", "246802", "zz9zz9", "778899"):
            assert secret not in text
    assert "kdf_iterations=8" in repr(bank)


def test_reset_empties_the_bank(bank: Bank) -> None:
    with_ready_ukey(bank)
    bank.reset()
    assert bank.snapshot(CUSTOMER).registered is False
    conn = sqlite3.connect(bank.path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert all(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone() == (0,) for t in tables)
    conn.close()
    registered(bank)


def test_closed_bank_refuses_to_work(tmp_path: Path) -> None:
    bank = Bank(tmp_path / "c.sqlite3", kdf_iterations=ITERATIONS)
    bank.close()
    bank.close()  # idempotent
    with pytest.raises(RuntimeError):
        bank.snapshot(CUSTOMER)


def test_unexpected_errors_roll_back(bank: Bank) -> None:
    """A failure that is not a refusal leaves no half-written customer."""
    with pytest.raises(TypeError):
        bank.register_customer(request(login_password=None))  # type: ignore[arg-type]
    assert not bank.snapshot(CUSTOMER).registered


# ---------------------------------------------------------------------- adapter


REGISTER = {
    "local_account": True, "registration_form": True, "agreement_acknowledged": True,
    "card_application_form": False, "id_document": "valid", "card": "registered_card",
    "own_ukey": False, "ukey_presented": False, "ukey_brand": "brand_a",
    "initial_login_password": LOGIN_PW, "initial_payment_password": PAY_PW,
}


def pay_params(**changes: object) -> dict[str, object]:
    base = {"method": "static", "channel": "b2c", "amount": 100, "password": PAY_PW,
            "otp_code_correct": True, "ukey_connected": True, "ukey_password_correct": True}
    return {**base, **changes}


@pytest.fixture
def adapter(tmp_path: Path) -> Iterator[BankAdapter]:
    a = make_adapter(str(tmp_path / "adapter.sqlite3"))
    a.reset()
    yield a
    a.close()


def test_adapter_initial_observation(adapter: BankAdapter) -> None:
    obs = adapter.observe()
    assert dict(obs.states) == {
        "account": "unregistered", "session": "logged_out", "login_password": "unset",
        "payment_password": "unset", "static_password": "unavailable", "otp_card": "none",
        "ukey": "none",
    }
    assert dict(obs.variables) == {
        "account.card_opened": False, "static_password.spent": 0, "otp_card.uses": 0,
        "otp_card.login_since_issue": False,
    }


def test_adapter_walkthrough(adapter: BankAdapter) -> None:
    def ok(event: str, **params: object) -> None:
        response = adapter.perform(event, params)
        assert response.accepted, f"{event}: {response}"

    def no(reason: str, event: str, **params: object) -> None:
        assert str(adapter.perform(event, params)) == f"rejected({reason})"

    no("not_registered", "login", password=LOGIN_PW)
    ok("register", **{**REGISTER, "local_account": False, "card_application_form": True,
                      "card": "none", "own_ukey": True, "ukey_presented": True,
                      "ukey_brand": "brand_b"})
    obs = adapter.observe()
    assert obs.variables["account.card_opened"] is True
    assert obs.variables["ukey.key_brand"] == "brand_b" and obs.states["ukey"] == "issued"
    ok("login", password=LOGIN_PW)
    assert adapter.observe().states["session"] == "restricted"
    ok("change_login_password", old=LOGIN_PW, new=NEW_LOGIN)
    ok("pay", **pay_params(amount=30_000))
    assert adapter.observe().states["static_password"] == "exhausted"
    no("card_missing", "apply_otp_card", id_document="valid", card="other_card",
       business_form=True, ecommerce_declared=True)
    no("business_form_missing", "apply_otp_card", id_document="valid", card="registered_card",
       business_form=False, ecommerce_declared=True)
    no("ecommerce_not_declared", "apply_otp_card", id_document="valid", card="registered_card",
       business_form=True, ecommerce_declared=False)
    ok("apply_otp_card", id_document="valid", card="registered_card",  # the opened card
       business_form=True, ecommerce_declared=True)
    no("payment_password_invalidated", "activate_otp_card")
    ok("set_payment_password", new=NEW_PAY)
    ok("activate_otp_card")
    no("login_required_after_card_issue", "pay", **pay_params(method="otp", password=NEW_PAY))
    ok("logout")
    ok("login", password=NEW_LOGIN)
    no("wrong_otp_code", "pay", **pay_params(method="otp", password=NEW_PAY,
                                             otp_code_correct=False))
    ok("pay", **pay_params(method="otp", password=NEW_PAY))
    ok("install_driver", brand="brand_b")
    ok("download_certificate", route="online", ukey_connected=True)
    ok("pay", **pay_params(method="ukey", amount=100_000_000, password="whatever"))
    no("payment_password_reset_unavailable", "reset_payment_password", id_document="valid",
       card="registered_card")
    ok("reset_login_password", id_document="valid", card="registered_card", new="777777")
    obs = adapter.observe()
    assert dict(obs.states) == {
        "account": "registered", "session": "logged_out", "login_password": "counter_set",
        "payment_password": "active", "static_password": "superseded", "otp_card": "active",
        "ukey": "ready",
    }
    assert dict(obs.variables) == {
        "account.card_opened": True, "static_password.spent": 30_000, "otp_card.uses": 1,
        "otp_card.login_since_issue": True, "ukey.key_brand": "brand_b",
    }


def test_adapter_maps_symbolic_documents_and_cards(adapter: BankAdapter) -> None:
    assert adapter.perform("register", {**REGISTER, "id_document": "other_person"}).reason == \
        "id_invalid"
    assert adapter.perform("register", {**REGISTER, "id_document": "expired"}).reason == \
        "id_invalid"
    assert adapter.perform("register", {**REGISTER, "id_document": "none"}).reason == "id_invalid"
    assert adapter.perform("register", {**REGISTER, "card": "other_card"}).reason == \
        "card_missing"
    assert adapter.perform("register", {**REGISTER, "card": "none"}).reason == "card_missing"
    assert adapter.perform("register", REGISTER).accepted


def test_adapter_rejects_malformed_events(adapter: BankAdapter) -> None:
    with pytest.raises(ValueError, match="unknown event"):
        adapter.perform("transfer", {})
    with pytest.raises(ValueError, match="missing"):
        adapter.perform("login", {})
    with pytest.raises(ValueError, match="unknown parameters"):
        adapter.perform("logout", {"x": 1})
    with pytest.raises(ValueError):
        adapter.perform("pay", pay_params(amount=1.0))
    with pytest.raises(ValueError):
        adapter.perform("pay", pay_params(method="cash"))
    with pytest.raises(ValueError):
        adapter.perform("register", {**REGISTER, "own_ukey": "yes"})


def test_adapter_event_vocabulary_matches_the_spec_declaration() -> None:
    """The adapter's parameter table is hand-written; check it against system.yaml."""
    import yaml

    spec = yaml.safe_load((Path(__file__).parents[1] / "specs" / "system.yaml").read_text())
    declared = {event: set((body or {}).get("params", {})) for event, body in
                spec["events"].items()}
    assert declared == {event: set(params) for event, params in EVENT_PARAMS.items()}


def test_make_adapter_options_and_temp_dir() -> None:
    adapter = make_adapter(kdf_iterations="4", durable="false")
    path = adapter.bank.path
    assert path.exists() and "kdf_iterations=4" in repr(adapter.bank)
    adapter.reset()
    assert adapter.perform("register", REGISTER).accepted
    adapter.close()
    assert not path.parent.exists()
    with pytest.raises(TypeError):
        make_adapter(colour="blue")


def test_adapter_reopened_on_the_same_file(tmp_path: Path) -> None:
    """A new adapter over an existing file finds the registered card and the OTP card."""
    path = str(tmp_path / "reopen.sqlite3")
    first = make_adapter(path)
    first.reset()
    for event, params in [
        ("register", {**REGISTER, "local_account": False, "card_application_form": True}),
        ("login", {"password": LOGIN_PW}),
        ("change_login_password", {"old": LOGIN_PW, "new": NEW_LOGIN}),
        ("apply_otp_card", {"id_document": "valid", "card": "registered_card",
                            "business_form": True, "ecommerce_declared": True}),
        ("set_payment_password", {"new": NEW_PAY}),
        ("activate_otp_card", {}),
    ]:
        assert first.perform(event, params).accepted, event
    before = first.observe()
    first.close()
    second = make_adapter(path)
    assert second.observe() == before
    assert second.perform("pay", pay_params(method="otp", channel="online_banking",
                                            password=NEW_PAY)).accepted
    assert second.perform("reset_login_password", {"id_document": "valid",
                                                   "card": "registered_card",
                                                   "new": "777777"}).accepted
    second.close()
