"""The reference bank as an HTTP/JSON service: a Starlette application served by uvicorn.

``create_app(bank)`` binds each operation of ``openapi.OPERATIONS`` to a handler that
calls the bank's domain API. A request body is validated against the operation's JSON
Schema first (400 ``invalid_request`` otherwise); a refusal of the bank is answered with
its own code, ``{"error": {"code": "quota_exceeded", "message": "..."}}``, and the status
``openapi.STATUS_OF`` gives it. Online operations take the session token a login answered
as ``Authorization: Bearer <token>``: only that request is in the customer's session
(``Bank.presenting``). Counter operations are a teller's and take no token.

Every handler runs in a worker thread (the KDF is slow and SQLite blocks), all sharing the
one ``Bank``: the store gives each thread its own connection, and the bank runs its KDF
before it takes the write lock. ``serving(bank)`` runs the service on a loopback port in a
background thread (for tests); ``authspec serve-reference`` runs it in the foreground.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cache, lru_cache
from typing import Any

import uvicorn
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authspec.bank.core import Bank
from authspec.bank.domain import (
    OTP_CELLS,
    CertificateRoute,
    IdDocument,
    OtpCard,
    PaymentOrder,
    RegistrationRequest,
    UKeyMedium,
    cell_name,
)
from authspec.bank.errors import BankError, Reason
from authspec.bank.openapi import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    OPERATIONS,
    SCHEMAS,
    STATUS_OF,
    Operation,
    document,
)

log = logging.getLogger("authspec.bank.service")

Body = Mapping[str, Any]
Answer = tuple[int, Any]  # status, JSON body (None: no body)


@dataclass(frozen=True)
class Call:
    """One request as a handler sees it: the path's customer and token, and the body."""

    customer: str = ""
    token: str = field(default="", repr=False)
    body: Body = field(default_factory=dict, repr=False)


class Refusal(Exception):
    """A refusal of the HTTP layer itself (not of the bank): status, code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


ADVICE: dict[Reason, str] = {
    Reason.ALREADY_REGISTERED: "this customer is already registered for online banking",
    Reason.REGISTRATION_FORM_MISSING: "hand in the registration form (registration_form)",
    Reason.AGREEMENT_NOT_ACKNOWLEDGED: "acknowledge the service agreement first",
    Reason.CARD_APPLICATION_MISSING: "without a local account, hand in the card application",
    Reason.UKEY_MEDIUM_MISSING: "registering an own U-key: present the U-key (ukey_medium)",
    Reason.ID_INVALID: "show the customer's own identity document, not expired",
    Reason.CARD_MISSING: "present the card registered for online banking",
    Reason.NOT_REGISTERED: "this customer is not registered: register at a counter first",
    Reason.ALREADY_LOGGED_IN: "a session is already open: log out first",
    Reason.NOT_LOGGED_IN: "no session: log in and send its token as Authorization: Bearer",
    Reason.WRONG_PASSWORD: "the login password is wrong",
    Reason.PASSWORD_CHANGE_REQUIRED: "the login password was set at a counter: change it first",
    Reason.PASSWORD_POLICY_VIOLATION: "the new password breaks the password rule",
    Reason.WRONG_PAYMENT_PASSWORD: "the payment password is wrong",
    Reason.PAYMENT_PASSWORD_INVALIDATED: "the payment password was invalidated: set a new one",
    Reason.PAYMENT_PASSWORD_ALREADY_SET: "a valid payment password exists: change it instead",
    Reason.PAYMENT_PASSWORD_NOT_ALPHANUMERIC:
        "change the payment password online to letters and digits first",
    Reason.PAYMENT_PASSWORD_RESET_UNAVAILABLE:
        "payment passwords are not reset: apply for an OTP card or a U-key",
    Reason.STATIC_SUPERSEDED: "static-password payments ended with a card or U-key application",
    Reason.QUOTA_EXHAUSTED: "the 300 yuan static-password quota is used up: use an OTP card",
    Reason.QUOTA_EXCEEDED: "the amount exceeds what is left of the 300 yuan quota",
    Reason.OTP_CARD_ALREADY_HELD: "the customer holds a usable OTP card already",
    Reason.NO_OTP_CARD: "no OTP card: apply for one at a counter",
    Reason.OTP_CARD_ALREADY_ACTIVE: "the OTP card is active already",
    Reason.OTP_CARD_NOT_ACTIVATED: "activate the OTP card online first",
    Reason.LOGIN_REQUIRED_AFTER_CARD_ISSUE:
        "log in to online banking once after the card was issued, then pay at merchants",
    Reason.OTP_CARD_USED_UP: "the OTP card is used up (1000 uses): apply for a new one",
    Reason.WRONG_OTP_CODE: "the OTP code does not match the challenged cells",
    Reason.UKEY_ALREADY_HELD: "the customer holds a U-key already",
    Reason.NO_UKEY: "no U-key: apply for one at a counter",
    Reason.WRONG_DRIVER_BRAND: "install the driver of the U-key's own brand",
    Reason.DRIVER_NOT_INSTALLED: "install the U-key driver first",
    Reason.CERTIFICATE_ALREADY_DOWNLOADED: "the U-key holds its certificate already",
    Reason.CERTIFICATE_MISSING: "download the certificate onto the U-key first",
    Reason.UKEY_NOT_CONNECTED: "plug the U-key in (ukey_plugged_in)",
    Reason.WRONG_UKEY_PASSWORD: "the U-key refused its password: the order is not signed",
    Reason.NOT_APPLICABLE: "the request does not apply to this customer",
}


# ---------------------------------------------------------------------- request bodies


@lru_cache(maxsize=1)
def _registry() -> Registry[Any]:
    return Registry().with_resource(
        "urn:authspec:bank", Resource.from_contents({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": {"schemas": SCHEMAS},
        })
    )


@cache
def _validator(schema_name: str) -> Draft202012Validator:
    schema = {"$ref": f"urn:authspec:bank#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=_registry(), format_checker=FormatChecker())


def _check_shape(schema_name: str, value: Any, what: str) -> None:
    error = next(iter(_validator(schema_name).iter_errors(value)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or what
        raise Refusal(400, INVALID_REQUEST,
                      f"{where}: {error.message} (see the {schema_name} schema in /openapi.json)")


async def _read_body(request: Request, op: Operation) -> Body:
    if op.body is None:
        return {}
    raw = await request.body()
    try:
        value = json.loads(raw or b"null")
    except ValueError as exc:
        raise Refusal(400, INVALID_REQUEST, f"the body is not JSON: {exc}") from None
    _check_shape(op.body, value, "body")
    assert isinstance(value, dict)
    return value


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


# ---------------------------------------------------------------------- bank objects


def _document(value: Mapping[str, Any] | None) -> IdDocument | None:
    if value is None:
        return None
    return IdDocument(value["number"], date.fromisoformat(value["expires_on"]))


def _medium(value: Mapping[str, Any] | None) -> UKeyMedium | None:
    return None if value is None else UKeyMedium(value["serial"], value["brand"])


def _registration_request(body: Body) -> RegistrationRequest:
    return RegistrationRequest(
        customer=body["customer"],
        form_submitted=body.get("registration_form", False),
        agreement_acknowledged=body.get("agreement_acknowledged", False),
        local_account=body.get("local_account", False),
        card_to_register=body.get("card_to_register"),
        card_presented=body.get("card_presented"),
        card_application_submitted=body.get("card_application_form", False),
        id_document=_document(body.get("id_document")),
        own_ukey=body.get("own_ukey", False),
        ukey_medium=_medium(body.get("ukey_medium")),
        login_password=body["login_password"],
        payment_password=body["payment_password"],
    )


def _payment_order(body: Body) -> PaymentOrder:
    return PaymentOrder(
        method=body["method"],
        channel=body["channel"],
        amount_fen=body["amount_fen"],
        payment_password=body.get("payment_password"),
        otp_code=body.get("otp_code"),
        ukey_plugged_in=body.get("ukey_plugged_in", False),
        ukey_pin_verified=body.get("ukey_pin_verified", False),
    )


def _printed(card: OtpCard) -> dict[str, Any]:
    return {"serial": card.serial,
            "cells": {cell_name(i): card.grid[i] for i in range(OTP_CELLS)}}


# ---------------------------------------------------------------------- handlers


def _register(bank: Bank, call: Call) -> Answer:
    registration = bank.register_customer(_registration_request(call.body))
    return 201, asdict(registration)


def _reset_login_password(bank: Bank, call: Call) -> Answer:
    b = call.body
    bank.reset_login_password_at_counter(call.customer, _document(b.get("id_document")),
                                         b.get("card_number"), b["new_password"])
    return 204, None


def _reset_payment_password(bank: Bank, call: Call) -> Answer:
    b = call.body
    bank.reset_payment_password_at_counter(call.customer, _document(b.get("id_document")),
                                           b.get("card_number"))
    return 204, None


def _application(body: Mapping[str, Any]) -> dict[str, bool]:
    """The business application form and the e-commerce declaration of a card or U-key
    application (R6, R10); the schema makes both required booleans."""
    return {"business_form": body["business_form"],
            "ecommerce_declared": body["ecommerce_declared"]}


def _apply_otp_card(bank: Bank, call: Call) -> Answer:
    b = call.body
    card = bank.apply_otp_card(call.customer, _document(b.get("id_document")),
                               b.get("card_number"), **_application(b))
    return 201, _printed(card)


def _apply_ukey(bank: Bank, call: Call) -> Answer:
    b = call.body
    medium = bank.apply_ukey(call.customer, _document(b.get("id_document")),
                             b.get("card_number"), b["brand"], **_application(b))
    return 201, asdict(medium)


def _certificate(route: CertificateRoute) -> Callable[[Bank, Call], Answer]:
    def download(bank: Bank, call: Call) -> Answer:
        bank.download_certificate(call.customer, route, call.body["ukey_plugged_in"])
        return 201, None

    return download


def _log_in(bank: Bank, call: Call) -> Answer:
    token = bank.login(call.customer, call.body["password"])
    restricted = bank.snapshot(call.customer).session == "restricted"
    return 201, {"customer": call.customer, "token": token, "restricted": restricted}


def _log_out(bank: Bank, call: Call) -> Answer:
    with bank.presenting(call.token):
        bank.logout(call.customer)
    return 204, None


def _change_login_password(bank: Bank, call: Call) -> Answer:
    bank.change_login_password(call.customer, call.body["old"], call.body["new"])
    return 204, None


def _change_payment_password(bank: Bank, call: Call) -> Answer:
    bank.change_payment_password(call.customer, call.body["old"], call.body["new"])
    return 204, None


def _set_payment_password(bank: Bank, call: Call) -> Answer:
    bank.set_payment_password(call.customer, call.body["new"])
    return 201, None


def _activate_otp_card(bank: Bank, call: Call) -> Answer:
    bank.activate_otp_card(call.customer)
    return 204, None


def _otp_challenge(bank: Bank, call: Call) -> Answer:
    challenge = bank.otp_challenge(call.customer)
    if challenge is None:
        registered = bank.snapshot(call.customer).registered
        raise BankError(Reason.NO_OTP_CARD if registered else Reason.NOT_REGISTERED)
    return 200, {"cells": list(challenge.cells)}


def _install_ukey_driver(bank: Bank, call: Call) -> Answer:
    bank.install_ukey_driver(call.customer, call.body["brand"])
    return 204, None


def _pay(bank: Bank, call: Call) -> Answer:
    receipt = bank.pay(call.customer, _payment_order(call.body))
    return 201, asdict(receipt)


def _customer_record(bank: Bank, call: Call) -> Answer:
    return 200, asdict(bank.snapshot(call.customer))


def _health(bank: Bank, call: Call) -> Answer:
    return 200, {"status": "ok"}


HANDLERS: dict[str, Callable[[Bank, Call], Answer]] = {
    "register_customer": _register,
    "reset_login_password": _reset_login_password,
    "reset_payment_password": _reset_payment_password,
    "apply_otp_card": _apply_otp_card,
    "apply_ukey": _apply_ukey,
    "download_certificate_at_counter": _certificate(CertificateRoute.COUNTER),
    "log_in": _log_in,
    "log_out": _log_out,
    "change_login_password": _change_login_password,
    "change_payment_password": _change_payment_password,
    "set_payment_password": _set_payment_password,
    "activate_otp_card": _activate_otp_card,
    "otp_challenge": _otp_challenge,
    "install_ukey_driver": _install_ukey_driver,
    "download_certificate_online": _certificate(CertificateRoute.ONLINE),
    "pay": _pay,
    "customer_record": _customer_record,
    "health": _health,
}


def _reset_handler(allowed: bool) -> Callable[[Bank, Call], Answer]:
    def reset(bank: Bank, call: Call) -> Answer:
        if not allowed:
            raise Refusal(404, NOT_FOUND, "no reset here: start the server with --allow-reset")
        bank.reset()
        return 204, None

    return reset


# ---------------------------------------------------------------------- the application


def _json(status: int, body: Any) -> Response:
    if body is None:
        return Response(status_code=status)
    return JSONResponse(body, status_code=status)


def _answer(bank: Bank, op: Operation, handler: Callable[[Bank, Call], Answer],
            call: Call, token: str | None) -> Answer:
    """Run one handler in the calling (worker) thread; a bank refusal becomes its code."""
    scope = bank.presenting(token) if op.session else nullcontext()
    try:
        with scope:
            return handler(bank, call)
    except BankError as refusal:
        message = ADVICE.get(refusal.code, refusal.code.value.replace("_", " "))
        if refusal.detail:
            message = f"{message} ({refusal.detail})"
        return STATUS_OF[refusal.code], error_body(refusal.code.value, message)


def _endpoint(bank: Bank, op: Operation,
              handler: Callable[[Bank, Call], Answer]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            customer = request.path_params.get("customer", "")
            if "{customer}" in op.path:
                _check_shape("CustomerId", customer, "customer")
            body = await _read_body(request, op)
        except Refusal as refusal:
            return _json(refusal.status, error_body(refusal.code, refusal.message))
        call = Call(customer, request.path_params.get("token", ""), body)
        try:
            status, payload = await run_in_threadpool(
                _answer, bank, op, handler, call, _bearer(request))
        except Refusal as refusal:
            return _json(refusal.status, error_body(refusal.code, refusal.message))
        return _json(status, payload)

    endpoint.__name__ = op.operation_id
    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: NOT_FOUND, 405: METHOD_NOT_ALLOWED}.get(status, INTERNAL_ERROR)
    message = {404: f"no such resource: {request.url.path} (see /openapi.json)",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(
                   status, "the service failed; see its log")
    return _json(status, error_body(code, message))


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return _json(500, error_body(INTERNAL_ERROR, "the service failed; see its log"))


def create_app(bank: Bank, *, allow_reset: bool = False) -> Starlette:
    """The ASGI application serving ``bank`` (reset only when ``allow_reset``)."""
    handlers = {**HANDLERS, "reset": _reset_handler(allow_reset)}
    description = document()

    async def openapi(request: Request) -> Response:
        return JSONResponse(description)

    routes = [Route(op.path, _endpoint(bank, op, handlers[op.operation_id]),
                    methods=[op.method]) for op in OPERATIONS]
    routes.append(Route("/openapi.json", openapi, methods=["GET"]))
    return Starlette(routes=routes, exception_handlers={
        HTTPException: _http_error, Exception: _server_error})


# ---------------------------------------------------------------------- serving


def loopback_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port the system picks)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class BankServer(uvicorn.Server):
    """uvicorn's server, leaving signals to its owner: it stops once ``should_exit`` is set.

    (uvicorn's own handling re-raises SIGTERM after shutting down, which would kill the
    process before the bank's database is closed and a temporary one removed.)
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server_for(app: Starlette, *, log_level: str = "warning") -> BankServer:
    """A uvicorn server for ``app``: no access log (paths may carry session tokens)."""
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")
    return BankServer(config)


def stop_on_signals(server: uvicorn.Server) -> None:
    """SIGINT or SIGTERM stop ``server`` gracefully; a second one stops it at once."""

    def stop(signum: int, frame: object) -> None:
        server.force_exit = server.should_exit
        server.should_exit = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


@contextmanager
def serving(bank: Bank, *, host: str = "127.0.0.1", port: int = 0,
            allow_reset: bool = False, timeout: float = 10.0) -> Iterator[str]:
    """Serve ``bank`` in a background thread; yield its base URL; stop it on exit."""
    sock = loopback_socket(host, port)
    server = server_for(create_app(bank, allow_reset=allow_reset))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="reference-bank", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread, timeout)
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        raise RuntimeError(f"the reference bank did not start within {timeout} s "
                           "(see the log of uvicorn above)")
