"""The reference bank as an HTTP/JSON service (bank/service.py), over a real uvicorn server.

A fixture serves a bank on a free loopback port in a background thread; the tests talk to
it with httpx as any client would. The OpenAPI description served must equal the one kept
in the repository; ``authspec serve-reference`` is run as a process, mutant included.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from authspec.bank.core import Bank
from authspec.bank.errors import Reason
from authspec.bank.mutants import MUTANTS, Mutant
from authspec.bank.openapi import OPERATIONS, SCHEMAS, STATUS_OF, document_text
from authspec.bank.service import create_app, serving

REPO = Path(__file__).resolve().parent.parent
CUSTOMER = "110101199001011234"
OTHER = "310101198505054321"
CARD = "6212260200001234567"
VALID_ID = {"number": CUSTOMER, "expires_on": "2099-12-31"}
LOGIN_PW, PAY_PW, NEW_LOGIN, NEW_PAY = "123456", "654321", "abc123", "pay123"


def registration(customer: str = CUSTOMER, card: str = CARD, **changes: Any) -> dict[str, Any]:
    body = {"customer": customer, "registration_form": True, "agreement_acknowledged": True,
            "local_account": True, "card_to_register": card, "card_presented": card,
            "id_document": {"number": customer, "expires_on": "2099-12-31"},
            "login_password": LOGIN_PW, "payment_password": PAY_PW}
    return {**body, **changes}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def code_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"], body
    return str(body["error"]["code"])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    path = tmp_path_factory.mktemp("service") / "bank.sqlite3"
    with Bank(path, kdf_iterations=8, durable=False) as bank, \
            serving(bank, allow_reset=True) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture
def http(service: httpx.Client) -> httpx.Client:
    assert service.post("/testing/reset").status_code == 204
    return service


def online(http: httpx.Client, customer: str = CUSTOMER, card: str = CARD) -> str:
    """Registered, logged in, login password changed: the session token."""
    assert http.post("/customers", json=registration(customer, card)).status_code == 201
    token = str(http.post(f"/customers/{customer}/sessions",
                          json={"password": LOGIN_PW}).json()["token"])
    changed = http.put(f"/customers/{customer}/login-password",
                       json={"old": LOGIN_PW, "new": NEW_LOGIN}, headers=bearer(token))
    assert changed.status_code == 204, changed.text
    return token


def otp_code(http: httpx.Client, cells: dict[str, str], customer: str = CUSTOMER) -> str:
    challenge = http.get(f"/customers/{customer}/otp-card/challenge").json()
    return "".join(cells[cell] for cell in challenge["cells"])


# ---------------------------------------------------------------------- the description


def test_the_served_description_is_the_committed_one(service: httpx.Client) -> None:
    committed = (REPO / "bank" / "openapi.json").read_text(encoding="utf-8")
    assert committed == document_text(), (
        "bank/openapi.json is stale: python -m authspec.bank.openapi > bank/openapi.json")
    served = service.get("/openapi.json")
    assert served.status_code == 200 and served.json() == json.loads(committed)


def test_the_description_is_openapi_3_1_with_valid_schemas() -> None:
    doc = json.loads(document_text())
    assert doc["openapi"].startswith("3.1")
    for schema in SCHEMAS.values():
        Draft202012Validator.check_schema(schema)
    refs = {ref for ref in _refs(doc) if ref.startswith("#/components/schemas/")}
    assert {ref.rsplit("/", 1)[1] for ref in refs} <= set(SCHEMAS)
    operations = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert operations == {(op.method, op.path) for op in OPERATIONS}
    assert len({op.operation_id for op in OPERATIONS}) == len(OPERATIONS)


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref":
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def test_every_bank_code_has_a_meaningful_status() -> None:
    assert set(STATUS_OF.values()) <= {401, 403, 404, 409, 422}
    assert STATUS_OF[Reason.NOT_LOGGED_IN] == 401 and STATUS_OF[Reason.NOT_REGISTERED] == 404
    assert STATUS_OF[Reason.QUOTA_EXCEEDED] == 409 and STATUS_OF[Reason.ID_INVALID] == 403
    assert STATUS_OF[Reason.PASSWORD_POLICY_VIOLATION] == 422


# ---------------------------------------------------------------------- behaviour


def test_a_customer_from_the_counter_to_three_ways_of_paying(http: httpx.Client) -> None:
    reg = http.post("/customers", json=registration())
    assert reg.status_code == 201 and reg.json() == {
        "customer": CUSTOMER, "card_number": CARD, "card_opened": False}
    login = http.post(f"/customers/{CUSTOMER}/sessions", json={"password": LOGIN_PW})
    assert login.status_code == 201 and login.json()["restricted"] is True
    token = login.json()["token"]
    restricted = http.post(f"/customers/{CUSTOMER}/payments", headers=bearer(token), json={
        "method": "static", "channel": "online_banking", "amount_fen": 100,
        "payment_password": PAY_PW})
    assert restricted.status_code == 403 and code_of(restricted) == "password_change_required"
    assert http.put(f"/customers/{CUSTOMER}/login-password", headers=bearer(token),
                    json={"old": LOGIN_PW, "new": NEW_LOGIN}).status_code == 204
    paid = http.post(f"/customers/{CUSTOMER}/payments", json={
        "method": "static", "channel": "b2c", "amount_fen": 30_000, "payment_password": PAY_PW})
    assert paid.status_code == 201 and paid.json()["amount_fen"] == 30_000
    more = http.post(f"/customers/{CUSTOMER}/payments", json={
        "method": "static", "channel": "b2c", "amount_fen": 1, "payment_password": PAY_PW})
    assert more.status_code == 409 and code_of(more) == "quota_exhausted"

    card = http.post(f"/counter/customers/{CUSTOMER}/otp-cards",
                     json={"id_document": VALID_ID, "card_number": CARD,
                           "business_form": True, "ecommerce_declared": True})
    assert card.status_code == 201 and len(card.json()["cells"]) == 80
    cells = card.json()["cells"]
    assert http.post(f"/customers/{CUSTOMER}/payment-password", headers=bearer(token),
                     json={"new": NEW_PAY}).status_code == 201
    assert http.post(f"/customers/{CUSTOMER}/otp-card/activation",
                     headers=bearer(token)).status_code == 204
    order = {"method": "otp", "channel": "online_banking", "amount_fen": 99_999,
             "payment_password": NEW_PAY, "otp_code": otp_code(http, cells)}
    assert http.post(f"/customers/{CUSTOMER}/payments", json=order,
                     headers=bearer(token)).status_code == 201
    replayed = http.post(f"/customers/{CUSTOMER}/payments", json=order, headers=bearer(token))
    assert replayed.status_code == 403 and code_of(replayed) == "wrong_otp_code"

    ukey = http.post(f"/counter/customers/{CUSTOMER}/ukeys",
                     json={"id_document": VALID_ID, "card_number": CARD, "brand": "brand_a",
                           "business_form": True, "ecommerce_declared": True})
    assert ukey.status_code == 201 and ukey.json()["brand"] == "brand_a"
    wrong = http.put(f"/customers/{CUSTOMER}/ukey/driver", headers=bearer(token),
                     json={"brand": "brand_b"})
    assert wrong.status_code == 422 and code_of(wrong) == "wrong_driver_brand"
    assert http.put(f"/customers/{CUSTOMER}/ukey/driver", headers=bearer(token),
                    json={"brand": "brand_a"}).status_code == 204
    assert http.post(f"/customers/{CUSTOMER}/ukey/certificate", headers=bearer(token),
                     json={"ukey_plugged_in": True}).status_code == 201
    assert http.post(f"/customers/{CUSTOMER}/payments", headers=bearer(token), json={
        "method": "ukey", "channel": "b2c", "amount_fen": 10_000_000,
        "ukey_plugged_in": True, "ukey_pin_verified": True}).status_code == 201

    record = http.get(f"/back-office/customers/{CUSTOMER}").json()
    assert record["static_spent_fen"] == 30_000 and record["otp_uses"] == 1
    assert record["static_status"] == "superseded" and record["session"] == "full"
    assert http.delete(f"/customers/{CUSTOMER}/sessions/{token}").status_code == 204
    assert http.get(f"/back-office/customers/{CUSTOMER}").json()["session"] is None


def test_online_requests_need_the_token_of_that_customer(http: httpx.Client) -> None:
    token = online(http)
    taken = http.post("/customers", json=registration(OTHER))  # the first customer's card
    assert taken.status_code == 403 and code_of(taken) == "card_missing"
    other = online(http, OTHER, card="6212260200007654321")
    path = f"/customers/{CUSTOMER}/payment-password"
    body = {"old": PAY_PW, "new": NEW_PAY}
    for headers in ({}, bearer("x" * 43), bearer(other), {"Authorization": token}):
        answer = http.put(path, json=body, headers=headers)
        assert answer.status_code == 401 and code_of(answer) == "not_logged_in", headers
    assert http.put(path, json=body, headers=bearer(token)).status_code == 204
    stranger = http.delete(f"/customers/{CUSTOMER}/sessions/{other}")
    assert stranger.status_code == 401 and code_of(stranger) == "not_logged_in"
    again = http.post(f"/customers/{CUSTOMER}/sessions", json={"password": NEW_LOGIN})
    assert again.status_code == 409 and code_of(again) == "already_logged_in"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/customers", registration(registration_form=False), 422,
         "registration_form_missing"),
        ("POST", "/customers", registration(id_document=None), 403, "id_invalid"),
        ("POST", "/customers", registration(login_password="abc"), 422,
         "password_policy_violation"),
        ("POST", "/customers", {"customer": CUSTOMER}, 400, "invalid_request"),
        ("POST", "/customers", registration(colour="blue"), 400, "invalid_request"),
        ("POST", f"/customers/{CUSTOMER}/sessions", {"password": LOGIN_PW}, 404,
         "not_registered"),
        ("POST", "/customers/12345/sessions", {"password": LOGIN_PW}, 400, "invalid_request"),
        ("GET", f"/customers/{CUSTOMER}/otp-card/challenge", None, 404, "not_registered"),
        ("POST", f"/counter/customers/{CUSTOMER}/payment-password-reset", {}, 404,
         "not_registered"),
        ("GET", "/nowhere", None, 404, "not_found"),
        ("DELETE", "/customers", None, 405, "method_not_allowed"),
    ],
)
def test_refusals_are_json_with_the_bank_code(http: httpx.Client, method: str, path: str,
                                              body: Any, status: int, code: str) -> None:
    answer = http.request(method, path, json=body)
    assert (answer.status_code, code_of(answer)) == (status, code), answer.text
    Draft202012Validator({"$ref": "#/$defs/Error", "$defs": SCHEMAS}).validate(answer.json())


def test_bodies_that_are_not_json_are_refused(http: httpx.Client) -> None:
    answer = http.post("/customers", content=b"{not json")
    assert answer.status_code == 400 and code_of(answer) == "invalid_request"
    answer = http.post(f"/customers/{CUSTOMER}/payments", json={
        "method": "static", "channel": "b2c", "amount_fen": 1.5})
    assert answer.status_code == 400 and "amount_fen" in answer.json()["error"]["message"]


def test_counter_services_and_the_refused_payment_password_reset(http: httpx.Client) -> None:
    online(http)
    refused = http.post(f"/counter/customers/{CUSTOMER}/payment-password-reset",
                        json={"id_document": VALID_ID, "card_number": CARD})
    assert refused.status_code == 403 and code_of(refused) == "payment_password_reset_unavailable"
    wrong_card = http.post(f"/counter/customers/{CUSTOMER}/login-password-reset",
                           json={"id_document": VALID_ID, "card_number": "1", "new_password":
                                 "777777"})
    assert wrong_card.status_code == 403 and code_of(wrong_card) == "card_missing"
    assert http.post(f"/counter/customers/{CUSTOMER}/login-password-reset", json={
        "id_document": VALID_ID, "card_number": CARD, "new_password": "777777"}
    ).status_code == 204
    assert http.get(f"/back-office/customers/{CUSTOMER}").json()["session"] is None
    none = http.get(f"/customers/{CUSTOMER}/otp-card/challenge")
    assert none.status_code == 409 and code_of(none) == "no_otp_card"


def test_reset_is_not_found_unless_allowed(tmp_path: Path) -> None:
    with Bank(tmp_path / "b.sqlite3", kdf_iterations=8, durable=False) as bank, \
            serving(bank) as url:
        assert httpx.post(f"{url}/customers", json=registration()).status_code == 201
        answer = httpx.post(f"{url}/testing/reset")
        assert answer.status_code == 404 and code_of(answer) == "not_found"
        assert "--allow-reset" in answer.json()["error"]["message"]
        assert httpx.get(f"{url}/back-office/customers/{CUSTOMER}").json()["registered"]


# ---------------------------------------------------------------------- the command


def _serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    command = [str(Path(sys.executable).with_name("authspec")), "serve-reference",
               "--kdf-iterations", "8", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("serving the reference bank at http://127.0.0.1:"), (
        line, process.stderr.read() if process.poll() is not None else "")
    return process, line.split(" at ", 1)[1].split()[0]


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
        process.kill()
        process.wait()


def test_serve_reference_serves_a_mutant_with_reset(tmp_path: Path) -> None:
    db = tmp_path / "mutant.sqlite3"
    process, url = _serve("--mutant", "quota_limit_30001", "--allow-reset", "--db", str(db))
    try:
        assert httpx.get(f"{url}/health").json() == {"status": "ok"}
        assert httpx.post(f"{url}/customers", json=registration()).status_code == 201
        over = httpx.post(f"{url}/customers/{CUSTOMER}/payments", json={
            "method": "static", "channel": "b2c", "amount_fen": 30_001,
            "payment_password": PAY_PW})
        assert over.status_code == 201  # the mutant lets 300.01 yuan through
        assert httpx.post(f"{url}/testing/reset").status_code == 204
    finally:
        _stop(process)
    assert process.returncode == 0 and db.exists()


def test_serve_reference_without_reset_and_with_a_bad_mutant() -> None:
    process, url = _serve()
    try:
        assert httpx.post(f"{url}/testing/reset").status_code == 404
    finally:
        _stop(process)
    bad = subprocess.run([str(Path(sys.executable).with_name("authspec")), "serve-reference",
                          "--mutant", "no_such_mutant"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "unknown mutant 'no_such_mutant'" in bad.stderr


# ---------------------------------------------------------------------- mutants and faults


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_every_mutant_is_servable(tmp_path: Path, mutant: Mutant) -> None:
    """The application over each mutant answers (in process, through ASGI)."""

    async def register_and_log_in(bank: Bank) -> None:
        transport = httpx.ASGITransport(app=create_app(bank))
        async with httpx.AsyncClient(transport=transport, base_url="http://bank") as client:
            assert (await client.post("/customers", json=registration())).status_code == 201
            login = await client.post(f"/customers/{CUSTOMER}/sessions",
                                      json={"password": LOGIN_PW})
            assert login.status_code == 201 and login.json()["token"]

    with mutant.bank_class(tmp_path / "m.sqlite3", kdf_iterations=4, durable=False) as bank:
        asyncio.run(register_and_log_in(bank))


class BrokenBank(Bank):
    """A bank whose payments fail with an unexpected error."""

    def pay(self, customer: str, order: object) -> Any:  # type: ignore[override]
        raise RuntimeError("disk on fire")


def test_an_unexpected_failure_is_a_json_500(tmp_path: Path) -> None:
    with BrokenBank(tmp_path / "x.sqlite3", kdf_iterations=4, durable=False) as bank, \
            serving(bank) as url, httpx.Client(base_url=url) as client:
        answer = client.post(f"/customers/{CUSTOMER}/payments", json={
            "method": "static", "channel": "b2c", "amount_fen": 1})
        assert answer.status_code == 500 and code_of(answer) == "internal_error"
        assert "disk on fire" not in answer.text
