"""The reference service under load: 32 concurrent clients, the production KDF, one bank.

A real uvicorn server on a free loopback port serves a durable bank at production KDF
strength (600 000 PBKDF2 iterations). 32 client threads, each with its own httpx client,
run three rounds at once; every request must be answered, none with a 5xx, and the rules
must hold:

1. all 32 register, two per customer: exactly one registration per customer succeeds;
2. each pays two B2C static-password payments of its customer's amount: the two
   clients of a customer race for its 300 yuan quota, which is never exceeded, and each
   customer's spending is its own accepted payments, whatever the others do;
3. all race to use up one OTP card fast-forwarded to its 998th use: exactly 2 payments
   are accepted, the card stops at 1000 uses, one use counted per accepted payment.

The test is bounded: a fixed number of requests (at most 32 + 64 + 32 x 2 x 12), a 120 s
timeout per request and a 300 s limit on the whole, loopback only. The KDF runs some 200
times at about 0.15 s of CPU each, so the test takes roughly 15 s on an idle 2-core machine
(an estimate) and 75 s measured on one shared with other work.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from authspec.bank.core import Bank
from authspec.bank.passwords import PRODUCTION_KDF_ITERATIONS
from authspec.bank.service import serving

CLIENTS = 32
CUSTOMERS = 16  # two clients per customer
PAYMENTS_EACH = 2
QUOTA_FEN = 30_000
OTP_ATTEMPTS_EACH = 12
OTP_START_USES = 998
WHOLE_RUN_LIMIT_S = 300.0  # generous: a CI machine may be busy
REQUEST_TIMEOUT_S = 120.0
LOGIN_PW, PAY_PW, NEW_LOGIN, NEW_PAY = "123456", "654321", "abc123", "pay123"
OTP_CUSTOMER = "110101199012319999"


def customer_id(k: int) -> str:
    return f"3101011985{k:07d}X"


def card_of(k: int) -> str:
    return f"62122602{k:011d}"


def amount_of(k: int) -> int:
    """Customer k's payment amount, 75.00 to 90.00 yuan: 4 fit the quota (k = 0) or 3."""
    return 7_500 + 100 * k


def registration(customer: str, card: str) -> dict[str, Any]:
    return {"customer": customer, "registration_form": True, "agreement_acknowledged": True,
            "local_account": True, "card_to_register": card, "card_presented": card,
            "id_document": {"number": customer, "expires_on": "2099-12-31"},
            "login_password": LOGIN_PW, "payment_password": PAY_PW}


@dataclass
class Tally:
    """What every client saw: status codes, error codes, failures of the transport."""

    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    transport_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, client: httpx.Client, method: str, path: str,
                **kwargs: Any) -> httpx.Response | None:
        try:
            answer = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            with self.lock:
                self.transport_errors.append(f"{method} {path}: {exc!r}")
            return None
        with self.lock:
            self.statuses[answer.status_code] += 1
            if answer.status_code >= 400:
                self.codes[answer.json()["error"]["code"]] += 1
        return answer

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + len(self.transport_errors)


@pytest.fixture(scope="module")
def bank_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Bank, str]]:
    path = tmp_path_factory.mktemp("load") / "bank.sqlite3"
    with Bank(path, kdf_iterations=PRODUCTION_KDF_ITERATIONS, durable=True) as bank, \
            serving(bank) as url:
        yield bank, url


def run_clients(url: str, work: Callable[[int, httpx.Client], None]) -> None:
    start = threading.Barrier(CLIENTS)

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
            start.wait()
            work(n, http)

    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(client, n) for n in range(CLIENTS)]:
            future.result()


def prepare_otp_customer(url: str, path: Path) -> dict[str, str]:
    """One customer with an active OTP card at its 998th use; its printed cells."""
    card = card_of(99)
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
        assert http.post("/customers", json=registration(OTP_CUSTOMER, card)).status_code == 201
        token = http.post(f"/customers/{OTP_CUSTOMER}/sessions",
                          json={"password": LOGIN_PW}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert http.put(f"/customers/{OTP_CUSTOMER}/login-password", headers=auth,
                        json={"old": LOGIN_PW, "new": NEW_LOGIN}).status_code == 204
        issued = http.post(f"/counter/customers/{OTP_CUSTOMER}/otp-cards", json={
            "id_document": {"number": OTP_CUSTOMER, "expires_on": "2099-12-31"},
            "card_number": card, "business_form": True, "ecommerce_declared": True})
        assert issued.status_code == 201
        assert http.post(f"/customers/{OTP_CUSTOMER}/payment-password", headers=auth,
                         json={"new": NEW_PAY}).status_code == 201
        assert http.post(f"/customers/{OTP_CUSTOMER}/otp-card/activation",
                         headers=auth).status_code == 204
        assert http.delete(f"/customers/{OTP_CUSTOMER}/sessions/{token}").status_code == 204
        assert http.post(f"/customers/{OTP_CUSTOMER}/sessions",
                         json={"password": NEW_LOGIN}).status_code == 201
    with sqlite3.connect(path) as conn:  # the back office fast-forwards the card
        conn.execute("UPDATE otp_cards SET uses = ?", (OTP_START_USES,))
    return dict(issued.json()["cells"])


def test_32_concurrent_clients_with_the_production_kdf(bank_url: tuple[Bank, str]) -> None:
    bank, url = bank_url
    tally = Tally()
    began = time.monotonic()

    def register(n: int, http: httpx.Client) -> None:
        k = n % CUSTOMERS
        tally.request(http, "POST", "/customers", json=registration(customer_id(k), card_of(k)))

    run_clients(url, register)
    assert tally.statuses[201] == CUSTOMERS and tally.codes["already_registered"] == CUSTOMERS

    def pay(n: int, http: httpx.Client) -> None:
        k = n % CUSTOMERS
        for _ in range(PAYMENTS_EACH):
            tally.request(http, "POST", f"/customers/{customer_id(k)}/payments", json={
                "method": "static", "channel": "b2c", "amount_fen": amount_of(k),
                "payment_password": PAY_PW})

    run_clients(url, pay)
    for k in range(CUSTOMERS):
        record = httpx.get(f"{url}/back-office/customers/{customer_id(k)}").json()
        fits = min(2 * PAYMENTS_EACH, QUOTA_FEN // amount_of(k))
        assert record["static_spent_fen"] == fits * amount_of(k) <= QUOTA_FEN, (k, record)
        assert record["static_status"] == (
            "exhausted" if fits * amount_of(k) == QUOTA_FEN else "active")

    cells = prepare_otp_customer(url, bank.path)
    accepted: list[int] = []

    def use_card(n: int, http: httpx.Client) -> None:
        for _ in range(OTP_ATTEMPTS_EACH):
            challenge = tally.request(http, "GET", f"/customers/{OTP_CUSTOMER}/otp-card/challenge")
            assert challenge is not None and challenge.status_code == 200
            code = "".join(cells[c] for c in challenge.json()["cells"])
            paid = tally.request(http, "POST", f"/customers/{OTP_CUSTOMER}/payments", json={
                "method": "otp", "channel": "b2c", "amount_fen": 100,
                "payment_password": NEW_PAY, "otp_code": code})
            if paid is not None and paid.status_code == 201:
                accepted.append(n)
            if paid is not None and paid.status_code == 409:  # used up
                return

    run_clients(url, use_card)
    elapsed = time.monotonic() - began
    record = httpx.get(f"{url}/back-office/customers/{OTP_CUSTOMER}").json()
    assert len(accepted) == 1000 - OTP_START_USES
    assert (record["otp_uses"], record["otp_status"]) == (1000, "used_up")
    with sqlite3.connect(bank.path) as conn:
        uses_logged = conn.execute("SELECT COUNT(*) FROM otp_card_uses").fetchone()[0]
    assert uses_logged == 1000 - OTP_START_USES

    print(f"\n{tally.requests} requests from {CLIENTS} clients in {elapsed:.1f} s; "
          f"statuses {dict(sorted(tally.statuses.items()))}; codes {dict(tally.codes)}; "
          f"transport errors {len(tally.transport_errors)}")
    assert not tally.transport_errors, tally.transport_errors[:5]
    assert not [s for s in tally.statuses if s >= 500], tally.statuses
    assert set(tally.codes) <= {"already_registered", "quota_exceeded", "quota_exhausted",
                                "wrong_otp_code", "otp_card_used_up"}, tally.codes
    assert elapsed < WHOLE_RUN_LIMIT_S
