"""The reference bank's HTTP API, described once: operations, JSON schemas, status codes.

``OPERATIONS`` lists every operation of the service (``service.py`` binds each to its
handler), ``SCHEMAS`` the JSON Schemas (draft 2020-12) of the bodies, and ``STATUS_OF``
the HTTP status each of the bank's own error codes is answered with. ``document()`` puts
them together as the OpenAPI 3.1 description the service serves at ``/openapi.json``; the
same document is kept in the repository as ``bank/openapi.json`` (regenerate it with
``python -m authspec.bank.openapi > bank/openapi.json``). The service validates every
request body against these schemas, so the description cannot drift from what the service
accepts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from authspec.bank.errors import Reason

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
CUSTOMER_ID_PATTERN = "^[0-9]{17}[0-9X]$"  # a resident identity number

# Error codes of the HTTP layer itself, beside the bank's own (bank/errors.py).
INVALID_REQUEST = "invalid_request"  # the body or a path parameter is not the declared shape
NOT_FOUND = "not_found"  # no such resource or endpoint
METHOD_NOT_ALLOWED = "method_not_allowed"
INTERNAL_ERROR = "internal_error"

SERVICE_CODES: dict[str, int] = {
    INVALID_REQUEST: 400,
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    INTERNAL_ERROR: 500,
}

_UNAUTHORIZED = (Reason.NOT_LOGGED_IN, Reason.WRONG_PASSWORD)
_FORBIDDEN = (
    Reason.PASSWORD_CHANGE_REQUIRED, Reason.WRONG_PAYMENT_PASSWORD,
    Reason.PAYMENT_PASSWORD_INVALIDATED, Reason.PAYMENT_PASSWORD_RESET_UNAVAILABLE,
    Reason.ID_INVALID, Reason.CARD_MISSING, Reason.WRONG_OTP_CODE,
    Reason.WRONG_UKEY_PASSWORD, Reason.LOGIN_REQUIRED_AFTER_CARD_ISSUE,
    Reason.STATIC_SUPERSEDED,
)
_NOT_FOUND = (Reason.NOT_REGISTERED,)
_UNPROCESSABLE = (
    Reason.REGISTRATION_FORM_MISSING, Reason.AGREEMENT_NOT_ACKNOWLEDGED,
    Reason.CARD_APPLICATION_MISSING, Reason.UKEY_MEDIUM_MISSING,
    Reason.PASSWORD_POLICY_VIOLATION, Reason.PAYMENT_PASSWORD_NOT_ALPHANUMERIC,
    Reason.WRONG_DRIVER_BRAND, Reason.UKEY_NOT_CONNECTED,
)


def _status_table() -> dict[Reason, int]:
    table: dict[Reason, int] = {}
    for status, codes in ((401, _UNAUTHORIZED), (403, _FORBIDDEN), (404, _NOT_FOUND),
                          (422, _UNPROCESSABLE)):
        table.update(dict.fromkeys(codes, status))
    # Everything else is the state of the customer's resources: 409 Conflict.
    return {reason: table.get(reason, 409) for reason in Reason}


STATUS_OF: dict[Reason, int] = _status_table()

STATUS_MEANING = {
    400: "The request is malformed: the body or a path parameter is not the declared shape.",
    401: "No valid session (or a wrong login password): log in and send the session token.",
    403: "Understood but refused: a credential, an identity check or a rule forbids it.",
    404: "The customer is not registered for online banking, or there is no such resource.",
    409: "Refused because of the current state of the customer's accounts or devices.",
    422: "The request is well formed but its content breaks a rule (form, password format).",
}


@dataclass(frozen=True)
class Operation:
    """One operation of the API: where it lives, what it takes and what it answers."""

    operation_id: str
    method: str
    path: str
    tag: str
    summary: str
    body: str | None = None  # the name of the request body's schema
    success: int = 204
    result: str | None = None  # the name of the success body's schema
    session: bool = False  # takes the session token (Authorization: Bearer)
    errors: tuple[int, ...] = (400, 404, 409)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], required: tuple[str, ...] = (),
            description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": list(required), "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


_STRING = {"type": "string"}
_BOOL = {"type": "boolean"}
_FALSE = {"type": "boolean", "default": False}
_IDENTIFICATION = {
    "id_document": {**_nullable(_ref("IdDocument")),
                    "description": "The identity document shown at the counter (null: none)."},
    "card_number": {**_nullable(_STRING),
                    "description": "The number of the card shown at the counter (null: none)."},
}
_APPLICATION = {
    "business_form": {**_BOOL, "description":
                      "The online-banking business application form is submitted (R6, R10)."},
    "ecommerce_declared": {**_BOOL, "description":
                           "The customer asks the counter to enable e-commerce (R6, R10)."},
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "CustomerId": {"type": "string", "pattern": CUSTOMER_ID_PATTERN,
                   "description": "The customer's resident identity number (18 characters)."},
    "IdDocument": _object({"number": _STRING, "expires_on": {"type": "string", "format": "date"}},
                          ("number", "expires_on")),
    "UKeyMedium": _object({"serial": _STRING, "brand": _STRING}, ("serial", "brand")),
    "RegistrationRequest": _object(
        {
            "customer": _ref("CustomerId"),
            "registration_form": {**_FALSE, "description": "The registration form is handed in."},
            "agreement_acknowledged": _FALSE,
            "local_account": {**_FALSE, "description": "Registers a card already held here."},
            "card_to_register": _nullable(_STRING),
            "card_presented": _nullable(_STRING),
            "card_application_form": {**_FALSE,
                                      "description": "Without a local account: open a card."},
            "id_document": _nullable(_ref("IdDocument")),
            "own_ukey": _FALSE,
            "ukey_medium": _nullable(_ref("UKeyMedium")),
            "login_password": {**_STRING, "description": "6-8 digits, set at the counter."},
            "payment_password": {**_STRING, "description": "6-8 digits, set at the counter."},
        },
        ("customer", "login_password", "payment_password"),
        "What the customer hands to the counter to register for online banking.",
    ),
    "Registration": _object({"customer": _ref("CustomerId"), "card_number": _STRING,
                             "card_opened": _BOOL}, ("customer", "card_number", "card_opened")),
    "CounterIdentification": _object(_IDENTIFICATION),
    "LoginPasswordReset": _object({**_IDENTIFICATION, "new_password": _STRING},
                                  ("new_password",)),
    "CardApplication": _object({**_IDENTIFICATION, **_APPLICATION}, tuple(_APPLICATION)),
    "UKeyApplication": _object({**_IDENTIFICATION, **_APPLICATION, "brand": _STRING},
                               ("brand", *_APPLICATION)),
    "CertificateDownload": _object({"ukey_plugged_in": _BOOL}, ("ukey_plugged_in",)),
    "LoginRequest": _object({"password": _STRING}, ("password",)),
    "Session": _object(
        {"customer": _ref("CustomerId"), "token": {**_STRING, "description":
         "Send it as `Authorization: Bearer <token>`; the bank keeps only its digest."},
         "restricted": {**_BOOL, "description":
                        "A counter-set login password: only changing it or logging out."}},
        ("customer", "token", "restricted"),
    ),
    "PasswordChange": _object({"old": _STRING, "new": _STRING}, ("old", "new")),
    "NewPaymentPassword": _object({"new": _STRING}, ("new",)),
    "DriverInstallation": _object({"brand": _STRING}, ("brand",)),
    "OtpCard": _object(
        {"serial": _STRING,
         "cells": {"type": "object", "additionalProperties": False,
                   "patternProperties": {"^[A-H]([1-9]|10)$": {"type": "string",
                                                                "pattern": "^[0-9]{3}$"}},
                   "description": "The 80 printed codes by cell (A1-H10). Shown once."}},
        ("serial", "cells"), "The printed OTP card; the bank keeps digests only.",
    ),
    "OtpChallenge": _object(
        {"cells": {"type": "array", "items": _STRING,
                   "description": "Type these cells' codes, in order, as one otp_code."}},
        ("cells",),
    ),
    "PaymentOrder": _object(
        {
            "method": {"enum": ["static", "otp", "ukey"]},
            "channel": {"enum": ["b2c", "online_banking"]},
            "amount_fen": {"type": "integer", "minimum": 1,
                           "description": "The amount in fen (1 yuan = 100 fen)."},
            "payment_password": _nullable(_STRING),
            "otp_code": _nullable({"type": "string", "description":
                                   "The challenged cells' codes, concatenated."}),
            "ukey_plugged_in": _FALSE,
            "ukey_pin_verified": {**_FALSE, "description":
                                  "The U-key checked its password and signed the order."},
        },
        ("method", "channel", "amount_fen"),
    ),
    "PaymentReceipt": _object({"payment_id": {"type": "integer"},
                               "method": {"enum": ["static", "otp", "ukey"]},
                               "channel": {"enum": ["b2c", "online_banking"]},
                               "amount_fen": {"type": "integer"}},
                              ("payment_id", "method", "channel", "amount_fen")),
    "CustomerRecord": _object(
        {
            "registered": _BOOL,
            "card_opened": _BOOL,
            "card_number": _nullable(_STRING),
            "session": _nullable({"enum": ["restricted", "full"]}),
            "login_password_origin": _nullable({"enum": ["counter", "online"]}),
            "payment_password_status": _nullable({"enum": ["active", "invalidated"]}),
            "static_status": _nullable({"enum": ["active", "exhausted", "superseded"]}),
            "static_spent_fen": {"type": "integer"},
            "otp_status": _nullable({"enum": ["issued", "active", "used_up"]}),
            "otp_uses": {"type": "integer"},
            "otp_login_since_issue": _BOOL,
            "ukey_brand": _nullable(_STRING),
            "ukey_driver_installed": _BOOL,
            "ukey_certificate": _BOOL,
        },
        ("registered", "card_opened", "card_number", "session", "login_password_origin",
         "payment_password_status", "static_status", "static_spent_fen", "otp_status",
         "otp_uses", "otp_login_since_issue", "ukey_brand", "ukey_driver_installed",
         "ukey_certificate"),
        "The back office's record of one customer (no secrets); all empty if unregistered.",
    ),
    "Error": _object(
        {"error": _object(
            {"code": {"enum": sorted([r.value for r in Reason] + list(SERVICE_CODES))},
             "message": _STRING},
            ("code", "message"),
        )},
        ("error",),
        "A refusal: the bank's own code (bank/errors.py) and what to do about it.",
    ),
    "Health": _object({"status": {"const": "ok"}}, ("status",)),
}

_CUSTOMER = "/customers/{customer}"
_COUNTER = "/counter/customers/{customer}"
_ONLINE_ERRORS = (400, 401, 403, 404, 409, 422)

OPERATIONS: tuple[Operation, ...] = (
    Operation("register_customer", "POST", "/customers", "counter",
              "Register a customer for online banking at a counter (R1-R4).",
              "RegistrationRequest", 201, "Registration", errors=(400, 403, 409, 422)),
    Operation("reset_login_password", "POST", f"{_COUNTER}/login-password-reset", "counter",
              "Reset a forgotten login password in person; ends any session (R19, R20).",
              "LoginPasswordReset", errors=(400, 403, 404, 422)),
    Operation("reset_payment_password", "POST", f"{_COUNTER}/payment-password-reset",
              "counter", "Not offered: apply for an OTP card or a U-key instead (R21).",
              "CounterIdentification", errors=(400, 403, 404)),
    Operation("apply_otp_card", "POST", f"{_COUNTER}/otp-cards", "counter",
              "Issue an OTP card; invalidates the payment password (R6, R8, R22).",
              "CardApplication", 201, "OtpCard", errors=(400, 403, 404, 409)),
    Operation("apply_ukey", "POST", f"{_COUNTER}/ukeys", "counter",
              "Issue a U-key; invalidates the payment password (R10, R13, R22).",
              "UKeyApplication", 201, "UKeyMedium", errors=(400, 403, 404, 409)),
    Operation("download_certificate_at_counter", "POST", f"{_COUNTER}/ukey/certificate",
              "counter", "A teller puts the certificate on the U-key (R15, Q12).",
              "CertificateDownload", 201, errors=(400, 404, 409, 422)),
    Operation("log_in", "POST", f"{_CUSTOMER}/sessions", "online",
              "Log in with the login password; answers the session token (R17-R20).",
              "LoginRequest", 201, "Session", errors=(400, 401, 404, 409)),
    Operation("log_out", "DELETE", f"{_CUSTOMER}/sessions/{{token}}", "online",
              "Log out: end the session with this token (Q10).", errors=(400, 401, 404)),
    Operation("change_login_password", "PUT", f"{_CUSTOMER}/login-password", "online",
              "Change the login password; lifts a session's restriction (R17, R18, R20).",
              "PasswordChange", session=True, errors=_ONLINE_ERRORS),
    Operation("change_payment_password", "PUT", f"{_CUSTOMER}/payment-password", "online",
              "Change the valid payment password to letters and digits (R7).",
              "PasswordChange", session=True, errors=_ONLINE_ERRORS),
    Operation("set_payment_password", "POST", f"{_CUSTOMER}/payment-password", "online",
              "Set a payment password after an application invalidated it (R22, Q8).",
              "NewPaymentPassword", 201, session=True, errors=_ONLINE_ERRORS),
    Operation("activate_otp_card", "POST", f"{_CUSTOMER}/otp-card/activation", "online",
              "Activate the issued OTP card (R7, R8).", session=True, errors=_ONLINE_ERRORS),
    Operation("otp_challenge", "GET", f"{_CUSTOMER}/otp-card/challenge", "online",
              "The cells of the OTP card the next payment asks for.",
              success=200, result="OtpChallenge", errors=(400, 404, 409)),
    Operation("install_ukey_driver", "PUT", f"{_CUSTOMER}/ukey/driver", "online",
              "Install the U-key driver of the key's brand (R11, R14).",
              "DriverInstallation", session=True, errors=_ONLINE_ERRORS),
    Operation("download_certificate_online", "POST", f"{_CUSTOMER}/ukey/certificate", "online",
              "Download the certificate onto the plugged-in U-key (R11, R15, Q12).",
              "CertificateDownload", 201, session=True, errors=_ONLINE_ERRORS),
    Operation("pay", "POST", f"{_CUSTOMER}/payments", "online",
              "Pay by static password, OTP card or U-key (R5-R16). The session token is "
              "needed inside online banking and for U-key payments.",
              "PaymentOrder", 201, "PaymentReceipt", session=True, errors=_ONLINE_ERRORS),
    Operation("customer_record", "GET", "/back-office/customers/{customer}", "back office",
              "The back office's record of one customer (no secrets).",
              success=200, result="CustomerRecord", errors=(400,)),
    Operation("reset", "POST", "/testing/reset", "testing",
              "Forget every customer. Only when the server runs with --allow-reset; "
              "404 otherwise.", errors=(404,)),
    Operation("health", "GET", "/health", "meta", "The service is up.", success=200,
              result="Health", errors=()),
)


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    if "{customer}" in op.path:
        params.append({"name": "customer", "in": "path", "required": True,
                       "schema": _ref("CustomerId")})
    if "{token}" in op.path:
        params.append({"name": "token", "in": "path", "required": True, "schema": _STRING,
                       "description": "The session token the login answered."})
    return params


def _responses(op: Operation) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "Done."}
    if op.result is not None:
        success["content"] = {"application/json": {"schema": _ref(op.result)}}
    responses: dict[str, Any] = {str(op.success): success}
    for status in op.errors:
        codes = sorted([r.value for r, s in STATUS_OF.items() if s == status] +
                       [c for c, s in SERVICE_CODES.items() if s == status])
        responses[str(status)] = {
            "description": f"{STATUS_MEANING[status]} Codes: {', '.join(codes)}.",
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    return responses


def _operation(op: Operation) -> dict[str, Any]:
    entry: dict[str, Any] = {"operationId": op.operation_id, "tags": [op.tag],
                             "summary": op.summary}
    parameters = _parameters(op)
    if parameters:
        entry["parameters"] = parameters
    if op.body is not None:
        entry["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": _ref(op.body)}}}
    if op.session:
        entry["security"] = [{"session": []}]
    entry["responses"] = _responses(op)
    return entry


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the reference bank's service."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "authspec reference bank",
            "version": API_VERSION,
            "description": (
                "The hand-written reference implementation of the ICBC-style online-banking "
                "policy, as a service. Counter services (a teller, in person) live under "
                "/counter and /customers (registration); online banking under "
                "/customers/{customer}, with the session token of a login as a bearer "
                "token. Every refusal is an Error with the bank's own code."
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8000"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"session": {"type": "http", "scheme": "bearer",
                                            "description": "The token a login answered."}},
        },
    }


def document_text() -> str:
    """The description as kept in ``bank/openapi.json`` (sorted keys, a final newline)."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover - regenerates bank/openapi.json
    print(document_text(), end="")
