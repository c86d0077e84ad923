"""The reference bank's secrets at rest, its sessions bound to tokens, and its behaviour
when many threads share one ``Bank``: the KDF runs outside the write transaction, the 300
yuan quota and the OTP card's counter are updated atomically.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import ClassVar

import pytest

from authspec.bank.adapter import LOCAL_CARD
from authspec.bank.core import Bank, cell_digest, token_digest
from authspec.bank.domain import (
    Channel,
    IdDocument,
    OtpCard,
    PaymentOrder,
    PayMethod,
    RegistrationRequest,
)
from authspec.bank.errors import BankError, Reason
from authspec.bank.passwords import PasswordHasher
from authspec.bank.store import Store

ITERATIONS = 8
LOGIN_PW, PAY_PW, NEW_LOGIN, NEW_PAY = "123456", "654321", "abc123", "pay123"


def person(n: int) -> str:
    return f"1101011990{n:08d}"


def register(bank: Bank, customer: str) -> str:
    return bank.register_customer(RegistrationRequest(
        customer=customer, form_submitted=True, agreement_acknowledged=True,
        local_account=True, card_to_register=LOCAL_CARD + customer[-4:],
        card_presented=LOCAL_CARD + customer[-4:], card_application_submitted=False,
        id_document=IdDocument(customer, date(2099, 12, 31)), own_ukey=False,
        ukey_medium=None, login_password=LOGIN_PW, payment_password=PAY_PW,
    )).card_number


def online(bank: Bank, customer: str) -> tuple[str, str]:
    """Registered, login password changed: (card number, session token)."""
    card = register(bank, customer)
    token = bank.login(customer, LOGIN_PW)
    bank.change_login_password(customer, LOGIN_PW, NEW_LOGIN)
    return card, token


def with_otp_card(bank: Bank, customer: str) -> OtpCard:
    card, _ = online(bank, customer)
    otp = bank.apply_otp_card(customer, IdDocument(customer, date(2099, 12, 31)), card)
    bank.set_payment_password(customer, NEW_PAY)
    bank.activate_otp_card(customer)
    return otp


def otp_payment(bank: Bank, customer: str, otp: OtpCard) -> PaymentOrder:
    challenge = bank.otp_challenge(customer)
    assert challenge is not None
    return PaymentOrder(PayMethod.OTP, Channel.ONLINE_BANKING, 100, payment_password=NEW_PAY,
                        otp_code=otp.code_for(challenge))


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    with Bank(tmp_path / "bank.sqlite3", kdf_iterations=ITERATIONS, durable=False) as b:
        yield b


def database_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.iterdir()
                    if p.name.startswith(path.name))


# ---------------------------------------------------------------------- secrets at rest


def test_otp_card_codes_are_kept_as_salted_digests(bank: Bank) -> None:
    customer = person(1)
    otp = with_otp_card(bank, customer)
    conn = sqlite3.connect(bank.path)
    columns = {c[1] for c in conn.execute("PRAGMA table_info(otp_cards)")}
    assert "grid" not in columns and {"cell_salt", "cell_digests"} <= columns
    salt, digests = conn.execute("SELECT cell_salt, cell_digests FROM otp_cards").fetchone()
    conn.close()
    assert len(salt) == 16 and len(digests) == 80 * 32
    assert all(digests[i * 32:(i + 1) * 32] == cell_digest(salt, i, code)
               for i, code in enumerate(otp.grid))
    raw = database_bytes(bank.path)
    for text in ("".join(otp.grid), " ".join(otp.grid), "".join(otp.grid[:8])):
        assert text.encode() not in raw
    bank.pay(customer, otp_payment(bank, customer, otp))  # the customer's copy still pays


def test_a_second_card_gets_its_own_salt(bank: Bank) -> None:
    first, second = person(1), person(2)
    with_otp_card(bank, first)
    with_otp_card(bank, second)
    salts = sqlite3.connect(bank.path).execute("SELECT cell_salt FROM otp_cards").fetchall()
    assert len({s for (s,) in salts}) == 2


def test_wrong_cells_are_refused_in_every_position(bank: Bank) -> None:
    customer = person(1)
    otp = with_otp_card(bank, customer)
    right = otp_payment(bank, customer, otp).otp_code
    assert right is not None and len(right) == 6
    def bump(digits: str) -> str:
        return "".join(str((int(d) + 1) % 10) for d in digits)

    for wrong in (right[:3] + bump(right[3:]), bump(right[:3]) + right[3:], right[:5],
                  right + "0"):
        order = PaymentOrder(PayMethod.OTP, Channel.ONLINE_BANKING, 100,
                             payment_password=NEW_PAY, otp_code=wrong)
        with pytest.raises(BankError) as info:
            bank.pay(customer, order)
        assert info.value.code == Reason.WRONG_OTP_CODE
    assert bank.snapshot(customer).otp_uses == 0


def test_session_tokens_are_kept_as_digests(bank: Bank) -> None:
    customer = person(1)
    _, token = online(bank, customer)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    stored = sqlite3.connect(bank.path).execute("SELECT token FROM sessions").fetchone()[0]
    assert stored == token_digest(token) and stored != token
    assert token.encode() not in database_bytes(bank.path)


def test_a_request_is_in_the_session_only_with_its_token(bank: Bank) -> None:
    customer = person(1)
    register(bank, customer)
    token = bank.login(customer, LOGIN_PW)

    def code_of(presented: str | None) -> Reason | None:
        with bank.presenting(presented):
            try:
                bank.change_login_password(customer, LOGIN_PW, NEW_LOGIN)
            except BankError as refusal:
                return refusal.code
        return None

    assert code_of(None) == Reason.NOT_LOGGED_IN
    assert code_of(token + "x") == Reason.NOT_LOGGED_IN
    with bank.presenting(None), pytest.raises(BankError) as info:
        bank.login(customer, LOGIN_PW)  # the session exists, even if not this request's
    assert info.value.code == Reason.ALREADY_LOGGED_IN
    assert code_of(token) is None
    with bank.presenting("not-the-token"), pytest.raises(BankError) as info:
        bank.logout(customer)
    assert info.value.code == Reason.NOT_LOGGED_IN
    with bank.presenting(token):
        bank.logout(customer)
    assert bank.snapshot(customer).session is None


# ---------------------------------------------------------------------- KDF and threads


class SpyHasher(PasswordHasher):
    """Records, for every KDF run, whether the thread's connection was in a transaction."""

    store: ClassVar[Store | None] = None
    in_transaction: ClassVar[list[bool]] = []

    def _derive(self, password: str, salt: bytes, iterations: int) -> bytes:
        if self.store is not None:
            self.in_transaction.append(self.store.conn.in_transaction)
        return super()._derive(password, salt, iterations)


class SpyBank(Bank):
    hasher_class: ClassVar[type[PasswordHasher]] = SpyHasher


def test_the_kdf_runs_outside_the_write_transaction(tmp_path: Path) -> None:
    with SpyBank(tmp_path / "spy.sqlite3", kdf_iterations=ITERATIONS, durable=False) as bank:
        SpyHasher.store = bank._store
        SpyHasher.in_transaction.clear()
        try:
            customer = person(1)
            card, _ = online(bank, customer)  # 2 hashes, 2 checks, 1 hash, 1 check
            bank.pay(customer, PaymentOrder(PayMethod.STATIC, Channel.B2C, 100,
                                            payment_password=PAY_PW))
            bank.change_payment_password(customer, PAY_PW, NEW_PAY)
            bank.reset_login_password_at_counter(
                customer, IdDocument(customer, date(2099, 12, 31)), card, "777777")
        finally:
            SpyHasher.store = None
        assert len(SpyHasher.in_transaction) >= 9
        assert not any(SpyHasher.in_transaction)


def test_threads_sharing_one_bank_never_exceed_the_quota(bank: Bank) -> None:
    customers = [person(n) for n in range(4)]
    for customer in customers:
        register(bank, customer)
    start = threading.Barrier(16)

    def pay(n: int) -> str:
        customer = customers[n % len(customers)]
        start.wait()
        try:
            bank.pay(customer, PaymentOrder(PayMethod.STATIC, Channel.B2C, 7_000,
                                            payment_password=PAY_PW))
        except BankError as refusal:
            return refusal.code.value
        return "accepted"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(pay, range(64)))
    assert outcomes.count("accepted") == 4 * 4  # 4 x 70 yuan fit in 300 yuan, per customer
    for customer in customers:
        snap = bank.snapshot(customer)
        assert snap.static_spent_fen == 28_000 and snap.static_status == "active"


def test_threads_sharing_one_bank_count_every_otp_use_once(bank: Bank) -> None:
    customer = person(7)
    otp = with_otp_card(bank, customer)
    lock = threading.Lock()

    def pay(_: int) -> bool:
        with lock:  # the challenge moves with each use: one customer types one at a time
            order = otp_payment(bank, customer, otp)
        try:
            bank.pay(customer, order)
        except BankError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        accepted = sum(pool.map(pay, range(40)))
    uses = bank.snapshot(customer).otp_uses
    counted = sqlite3.connect(bank.path).execute("SELECT COUNT(*) FROM otp_card_uses").fetchone()
    assert uses == accepted == counted[0] >= 1


def test_a_card_registers_one_customer_only(bank: Bank) -> None:
    """Many customers in one bank: a local card already registered is not another's."""
    register(bank, person(1))
    taken = RegistrationRequest(
        customer=person(2), form_submitted=True, agreement_acknowledged=True,
        local_account=True, card_to_register=LOCAL_CARD + "0001",
        card_presented=LOCAL_CARD + "0001", card_application_submitted=False,
        id_document=IdDocument(person(2), date(2099, 12, 31)), own_ukey=False,
        ukey_medium=None, login_password=LOGIN_PW, payment_password=PAY_PW)
    with pytest.raises(BankError) as info:
        bank.register_customer(taken)
    assert info.value.code == Reason.CARD_MISSING
    assert not bank.snapshot(person(2)).registered
