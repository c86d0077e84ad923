"""Refusals of the reference bank: reason codes and the BankError hierarchy.

Every refusal the bank makes is a ``BankError`` (or a subclass) carrying one reason code.
The codes are the ones the QA team agreed with the written policy; they are spelt here by
hand, as the bank's own constants, not read from any specification file.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Reason codes the bank gives when it refuses a request."""

    # registration at the counter
    ALREADY_REGISTERED = "already_registered"
    REGISTRATION_FORM_MISSING = "registration_form_missing"
    AGREEMENT_NOT_ACKNOWLEDGED = "agreement_not_acknowledged"
    CARD_APPLICATION_MISSING = "card_application_missing"
    UKEY_MEDIUM_MISSING = "ukey_medium_missing"
    ID_INVALID = "id_invalid"
    CARD_MISSING = "card_missing"
    BUSINESS_FORM_MISSING = "business_form_missing"
    ECOMMERCE_NOT_DECLARED = "ecommerce_not_declared"
    NOT_REGISTERED = "not_registered"
    # session
    ALREADY_LOGGED_IN = "already_logged_in"
    NOT_LOGGED_IN = "not_logged_in"
    WRONG_PASSWORD = "wrong_password"
    PASSWORD_CHANGE_REQUIRED = "password_change_required"
    PASSWORD_POLICY_VIOLATION = "password_policy_violation"
    # payment password
    WRONG_PAYMENT_PASSWORD = "wrong_payment_password"
    PAYMENT_PASSWORD_INVALIDATED = "payment_password_invalidated"
    PAYMENT_PASSWORD_ALREADY_SET = "payment_password_already_set"
    PAYMENT_PASSWORD_NOT_ALPHANUMERIC = "payment_password_not_alphanumeric"
    PAYMENT_PASSWORD_RESET_UNAVAILABLE = "payment_password_reset_unavailable"
    # static-password payments
    STATIC_SUPERSEDED = "static_superseded"
    QUOTA_EXHAUSTED = "quota_exhausted"
    QUOTA_EXCEEDED = "quota_exceeded"
    # OTP card
    OTP_CARD_ALREADY_HELD = "otp_card_already_held"
    NO_OTP_CARD = "no_otp_card"
    OTP_CARD_ALREADY_ACTIVE = "otp_card_already_active"
    OTP_CARD_NOT_ACTIVATED = "otp_card_not_activated"
    LOGIN_REQUIRED_AFTER_CARD_ISSUE = "login_required_after_card_issue"
    OTP_CARD_USED_UP = "otp_card_used_up"
    WRONG_OTP_CODE = "wrong_otp_code"
    # U-key
    UKEY_ALREADY_HELD = "ukey_already_held"
    NO_UKEY = "no_ukey"
    WRONG_DRIVER_BRAND = "wrong_driver_brand"
    DRIVER_NOT_INSTALLED = "driver_not_installed"
    CERTIFICATE_ALREADY_DOWNLOADED = "certificate_already_downloaded"
    CERTIFICATE_MISSING = "certificate_missing"
    UKEY_NOT_CONNECTED = "ukey_not_connected"
    WRONG_UKEY_PASSWORD = "wrong_ukey_password"
    # fallback
    NOT_APPLICABLE = "not_applicable"


class BankError(Exception):
    """A refusal: the request was not carried out and nothing changed."""

    def __init__(self, code: Reason, detail: str = "") -> None:
        self.code = Reason(code)
        self.detail = detail
        super().__init__(f"{self.code.value}: {detail}" if detail else self.code.value)


class RegistrationRefused(BankError):
    """The counter refused to register the customer for online banking."""


class CounterServiceRefused(BankError):
    """The counter refused a service (identity, card, or the service does not exist)."""


class SessionError(BankError):
    """The online-banking session does not allow the request."""


class AuthenticationFailed(BankError):
    """A password, code or U-key password was wrong."""


class PasswordPolicyError(BankError):
    """A new password does not follow the password rules."""


class PaymentRefused(BankError):
    """A payment was refused (quota, authenticator state)."""


class AuthenticatorError(BankError):
    """An OTP card or U-key operation was refused."""
