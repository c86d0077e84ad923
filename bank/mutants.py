"""Mutants of the reference bank: each breaks one rule the way a real implementation might.

A mutant is a small subclass of :class:`~authspec.bank.core.Bank` that overrides one
method or constant (one mutant, ``half_open_registration``, needs two). Conformance
testing against the specs should catch every one of them; ``tests/test_bank_mutants.py``
proves each really differs from the correct bank on a short hand-written trace.

``MUTANTS`` lists them as :class:`Mutant` records (name, rule IDs, one-line description,
adapter factory, spec invariants it can break, the ``Bank`` subclass);
``make_mutant_adapter(name)`` builds the conformance adapter over one of them, like
``authspec.bank.adapter.make_adapter``, and ``authspec serve-reference --mutant NAME``
serves one over HTTP.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, ClassVar

from authspec.bank.adapter import BankAdapter, make_adapter
from authspec.bank.core import COUNTER, LOGIN, PAYMENT, Bank, CustomerRow, OtpCardRow, UKeyRow
from authspec.bank.domain import (
    CertificateRoute,
    Channel,
    IdDocument,
    OtpCard,
    PaymentOrder,
    PayMethod,
    Registration,
    RegistrationRequest,
    UKeyMedium,
)
from authspec.bank.errors import (
    CounterServiceRefused,
    PaymentRefused,
    Reason,
    RegistrationRefused,
    SessionError,
)
from authspec.bank.passwords import (
    COUNTER_PASSWORD_RULE,
    CUSTOMER_PASSWORD_RULE,
    DIGITS,
    LETTERS,
    PasswordHasher,
    PasswordRule,
)
from authspec.bank.store import stamp

AdapterFactory = Callable[..., BankAdapter]
MaybeId = IdDocument | None


@dataclass(frozen=True)
class Mutant:
    """One mutant: its name, the rules it breaks, what it does, and how to build it."""

    name: str
    rules: tuple[str, ...]
    description: str
    factory: AdapterFactory
    invariants: tuple[str, ...] = ()  # spec invariants the mutant can drive into violation
    bank_class: type[Bank] = Bank  # the mutant bank itself (to serve it over HTTP, say)


_REGISTRY: list[Mutant] = []


def _factory(bank_class: type[Bank]) -> AdapterFactory:
    def factory(path: str | None = None, **options: Any) -> BankAdapter:
        return make_adapter(path, bank_class=bank_class, **options)

    factory.__name__ = f"make_{bank_class.__name__}_adapter"
    return factory


def mutant(
    name: str, *rules: str, invariants: tuple[str, ...] = ()
) -> Callable[[type[Bank]], type[Bank]]:
    """Class decorator: register a Bank subclass as a mutant (description = docstring)."""

    def register(cls: type[Bank]) -> type[Bank]:
        description = (cls.__doc__ or "").strip().splitlines()[0]
        _REGISTRY.append(Mutant(name, rules, description, _factory(cls), invariants, cls))
        return cls

    return register


# ---------------------------------------------------------------------- R1-R4 registration


@mutant("register_without_form", "R1")
class RegisterWithoutForm(Bank):
    """Registers a customer who did not hand in the registration form."""

    def _check_form(self, req: RegistrationRequest) -> None:
        pass


@mutant("register_without_agreement", "R1")
class RegisterWithoutAgreement(Bank):
    """Registers a customer who did not acknowledge the service agreement."""

    def _check_agreement(self, req: RegistrationRequest) -> None:
        pass


@mutant("register_without_valid_id", "R2", "R3")
class RegisterWithoutValidId(Bank):
    """Registers without checking the applicant's own, unexpired ID."""

    def _check_applicant_id(self, req: RegistrationRequest) -> None:
        pass


@mutant("register_local_without_card", "R2")
class RegisterLocalWithoutCard(Bank):
    """Registers a local-account card that was not presented at the counter."""

    def _check_card_to_register(self, req: RegistrationRequest) -> None:
        pass


@mutant("register_without_card_application", "R3")
class RegisterWithoutCardApplication(Bank):
    """Opens a card for a non-local customer without the card application form."""

    def _check_card_application(self, req: RegistrationRequest) -> None:
        pass


@mutant("register_own_ukey_not_presented", "R4")
class RegisterOwnUkeyNotPresented(Bank):
    """Registers a customer with their own U-key without seeing the medium."""

    def _check_own_ukey(self, req: RegistrationRequest) -> None:
        pass


@mutant("half_open_registration", "R1",
        invariants=("logged_out_until_registered", "card_opened_only_by_registration",
                    "login_password_set_at_registration"))
class HalfOpenRegistration(Bank):
    """Books the customer before the counter's checks; a refused registration can log in."""

    def register_customer(self, request: RegistrationRequest) -> Registration:
        rule = self.COUNTER_PASSWORD_RULE
        with self._work(new=((rule, request.login_password), (rule, request.payment_password))):
            if self._lookup(request.customer) is not None:
                raise RegistrationRefused(Reason.ALREADY_REGISTERED)
            registration = self._open_customer(request, status="opening")
            self._check_registration(request)
            self._store.execute(
                "UPDATE customers SET status = 'registered' WHERE id_number = ?",
                (request.customer,),
            )
            return registration

    def _registered(self, id_number: str) -> CustomerRow:
        cust = self._lookup(id_number)
        if cust is None:
            raise SessionError(Reason.NOT_REGISTERED)
        return cust


# ---------------------------------------------------------------------- R5 static password


@mutant("quota_limit_29999", "R5", "Q1", invariants=("exhausted_means_300_spent",))
class QuotaLimit29999(Bank):
    """The 300 yuan quota coded as 299.99 yuan (off by one fen, low)."""

    STATIC_QUOTA_FEN: ClassVar[int] = 29_999


@mutant("quota_limit_30001", "R5", "Q1", invariants=("quota_never_exceeded",))
class QuotaLimit30001(Bank):
    """The 300 yuan quota coded as 300.01 yuan (off by one fen, high)."""

    STATIC_QUOTA_FEN: ClassVar[int] = 30_001


@mutant("quota_strict_less", "R5", "Q1")
class QuotaStrictLess(Bank):
    """Uses < instead of <=: a payment landing exactly on 300.00 yuan is refused."""

    def _within_quota(self, spent_fen: int, amount_fen: int) -> bool:
        return spent_fen + amount_fen < self.STATIC_QUOTA_FEN


@mutant("quota_counts_refused", "R5", "Q1")
class QuotaCountsRefused(Bank):
    """Reserves the amount before authorising and never releases it on a refusal."""

    def _record_refused_payment(self, cust_id: int, order: PaymentOrder, reason: Reason) -> None:
        super()._record_refused_payment(cust_id, order, reason)
        if order.method is PayMethod.STATIC:
            self._add_static_spent(cust_id, order.amount_fen)


@mutant("quota_per_payment", "R5", invariants=("quota_never_exceeded",))
class QuotaPerPayment(Bank):
    """Applies the 300 yuan limit to each payment instead of the cumulative total."""

    def _within_quota(self, spent_fen: int, amount_fen: int) -> bool:
        return amount_fen <= self.STATIC_QUOTA_FEN


@mutant("exhausted_early", "R5", "Q1", invariants=("exhausted_means_300_spent",))
class ExhaustedEarly(Bank):
    """Closes the quota as used up once less than 1 yuan of it is left."""

    def _quota_used_up(self, spent_fen: int) -> bool:
        return self.STATIC_QUOTA_FEN - spent_fen < 100


@mutant("static_after_card", "R5", "Q2", invariants=("otp_card_supersedes_static_password",))
class StaticAfterCard(Bank):
    """Keeps static-password payments open after a card or U-key application."""

    def _supersede_static(self, cust_id: int) -> None:
        pass


# ---------------------------------------------------------------------- R6-R9 OTP card


@mutant("otp_apply_without_form", "R6")
class OtpApplyWithoutForm(Bank):
    """Issues an OTP card without the online-banking business application form."""

    @staticmethod
    def _verify_application(business_form: bool, ecommerce_declared: bool, service: str) -> None:
        Bank._verify_application(business_form or service == "otp_card", ecommerce_declared,
                                 service)


@mutant("otp_apply_without_id", "R6")
class OtpApplyWithoutId(Bank):
    """Issues an OTP card without checking the customer's ID."""

    def _verify_identity(self, cust: CustomerRow, document: MaybeId, service: str) -> None:
        if service != "otp_card":
            super()._verify_identity(cust, document, service)


@mutant("otp_apply_without_card", "R6")
class OtpApplyWithoutCard(Bank):
    """Issues an OTP card without the registered card being presented."""

    def _verify_card(self, cust: CustomerRow, card_number: str | None, service: str) -> None:
        if service != "otp_card":
            super()._verify_card(cust, card_number, service)


@mutant("otp_code_not_checked", "R6", "Q5")
class OtpCodeNotChecked(Bank):
    """Accepts any code from the OTP card."""

    def _otp_code_ok(self, card: OtpCardRow, code: str | None) -> bool:
        return True


@mutant("otp_pay_without_activation", "R7")
class OtpPayWithoutActivation(Bank):
    """Accepts OTP payments with a card that was never activated."""

    def _otp_card_activated(self, card: OtpCardRow) -> bool:
        return True


@mutant("otp_activate_without_payment_password", "R7", "R22", "Q8")
class OtpActivateWithoutPaymentPassword(Bank):
    """Activates the card while the payment password is still invalidated."""

    def _check_payment_password_for_card(self, cust_id: int) -> None:
        pass


@mutant("payment_password_digits_only", "R7", "Q6", "Q8")
class PaymentPasswordDigitsOnly(Bank):
    """Lets the new payment password be digits only."""

    PAYMENT_PASSWORD_RULE: ClassVar[PasswordRule] = replace(
        CUSTOMER_PASSWORD_RULE, require_letter=False
    )


@mutant("otp_uses_999", "R8", invariants=("used_up_means_1000_uses",))
class OtpUses999(Bank):
    """Retires the OTP card after 999 uses."""

    OTP_CARD_USES: ClassVar[int] = 999


@mutant("otp_uses_1001", "R8", invariants=("at_most_1000_uses", "active_card_has_a_use_left"))
class OtpUses1001(Bank):
    """Accepts a 1001st use of the OTP card."""

    OTP_CARD_USES: ClassVar[int] = 1001


@mutant("otp_use_on_wrong_code", "R8", "Q5")
class OtpUseOnWrongCode(Bank):
    """Counts a use of the card when the code typed is wrong."""

    def _otp_code_ok(self, card: OtpCardRow, code: str | None) -> bool:
        ok = super()._otp_code_ok(card, code)
        if not ok:
            self._count_otp_use(card, None)
        return ok


@mutant("otp_reapply_while_held", "R8", "Q3")
class OtpReapplyWhileHeld(Bank):
    """Issues a new OTP card while the customer still holds a usable one."""

    def _holds_usable_otp_card(self, cust_id: int) -> bool:
        return False


@mutant("b2c_without_login", "R9")
class B2cWithoutLogin(Bank):
    """Allows B2C payments with a new card before any login."""

    def _logged_in_since_issue(self, cust: CustomerRow, card: OtpCardRow) -> bool:
        return True


@mutant("b2c_login_before_issue_counts", "R9", "Q4")
class B2cLoginBeforeIssueCounts(Bank):
    """Counts any earlier login, even one before the card was issued, for B2C."""

    def _logged_in_since_issue(self, cust: CustomerRow, card: OtpCardRow) -> bool:
        return cust.last_login_at is not None


# ---------------------------------------------------------------------- R10-R16 U-key


@mutant("ukey_apply_without_id", "R10", "R13")
class UkeyApplyWithoutId(Bank):
    """Issues a U-key without checking the customer's ID."""

    def _verify_identity(self, cust: CustomerRow, document: MaybeId, service: str) -> None:
        if service != "ukey":
            super()._verify_identity(cust, document, service)


@mutant("ukey_apply_without_ecommerce", "R10")
class UkeyApplyWithoutEcommerce(Bank):
    """Issues a U-key though the customer did not ask for the e-commerce function."""

    @staticmethod
    def _verify_application(business_form: bool, ecommerce_declared: bool, service: str) -> None:
        Bank._verify_application(business_form, ecommerce_declared or service == "ukey",
                                 service)


@mutant("ukey_apply_without_card", "R10", "R13")
class UkeyApplyWithoutCard(Bank):
    """Issues a U-key without the registered card being presented."""

    def _verify_card(self, cust: CustomerRow, card_number: str | None, service: str) -> None:
        if service != "ukey":
            super()._verify_card(cust, card_number, service)


@mutant("ukey_pay_without_driver", "R11", "Q12")
class UkeyPayWithoutDriver(Bank):
    """Pays with a U-key whose driver was never installed (certificate from the counter)."""

    def _ukey_has_driver(self, key: UKeyRow) -> bool:
        return True


@mutant("ukey_pay_without_certificate", "R11")
class UkeyPayWithoutCertificate(Bank):
    """Pays with a U-key that holds no certificate."""

    def _ukey_has_certificate(self, key: UKeyRow) -> bool:
        return True


@mutant("online_certificate_without_driver", "R11", "Q12")
class OnlineCertificateWithoutDriver(Bank):
    """Lets the self-service certificate download run before the driver is installed."""

    def _driver_required_for_download(self, route: CertificateRoute) -> bool:
        return False


@mutant("ukey_pay_limited", "R12")
class UkeyPayLimited(Bank):
    """Caps U-key payments at 300 yuan in total, like static-password ones."""

    def _check_ukey_payment(self, cust_id: int, order: PaymentOrder) -> None:
        super()._check_ukey_payment(cust_id, order)
        paid = int(self._store.scalar(
            "SELECT COALESCE(SUM(amount_fen), 0) FROM payments "
            "WHERE customer_id = ? AND method = 'ukey' AND status = 'accepted'",
            (cust_id,),
        ))
        if not self._within_quota(paid, order.amount_fen):
            raise PaymentRefused(Reason.QUOTA_EXCEEDED)


@mutant("ukey_apply_while_held", "R13")
class UkeyApplyWhileHeld(Bank):
    """Issues a second U-key to a customer who already holds one."""

    def _holds_ukey(self, cust_id: int) -> bool:
        return False


@mutant("driver_any_brand", "R14")
class DriverAnyBrand(Bank):
    """Accepts a driver of another brand than the U-key's."""

    def _driver_fits(self, key: UKeyRow, brand: str) -> bool:
        return True


@mutant("ukey_brand_not_recorded", "R14", invariants=("held_ukey_has_a_brand",))
class UkeyBrandNotRecorded(Bank):
    """Records a U-key without its brand (as 'none'), so no driver fits it afterwards."""

    def _record_ukey(self, cust_id: int, medium: UKeyMedium, source: str) -> None:
        super()._record_ukey(cust_id, replace(medium, brand="none"), source)


@mutant("certificate_unplugged", "R15")
class CertificateUnplugged(Bank):
    """Downloads the certificate without the U-key plugged in."""

    def _check_ukey_plugged_in(self, plugged_in: bool, purpose: str) -> None:
        if purpose != "certificate":
            super()._check_ukey_plugged_in(plugged_in, purpose)


@mutant("certificate_online_logged_out", "R15", "Q7")
class CertificateOnlineLoggedOut(Bank):
    """Serves the self-service certificate download without a full online session."""

    def _check_download_session(self, cust_id: int, route: CertificateRoute) -> None:
        pass


@mutant("ukey_pin_not_checked", "R16")
class UkeyPinNotChecked(Bank):
    """Books a U-key payment whatever the U-key password typed."""

    def _ukey_signed(self, order: PaymentOrder) -> bool:
        return True


@mutant("ukey_unplugged_pay", "R16")
class UkeyUnpluggedPay(Bank):
    """Books a U-key payment without the U-key plugged in."""

    def _check_ukey_plugged_in(self, plugged_in: bool, purpose: str) -> None:
        if purpose != "payment":
            super()._check_ukey_plugged_in(plugged_in, purpose)


# ---------------------------------------------------------------------- R17-R20 login password


@mutant("change_login_logged_out", "R17")
class ChangeLoginLoggedOut(Bank):
    """Changes the login password without a login (old password only)."""

    def _check_password_change_session(self, cust_id: int) -> None:
        pass


@mutant("change_login_old_not_checked", "R17")
class ChangeLoginOldNotChecked(Bank):
    """Changes the login password without checking the old one."""

    def _check_old_login_password(self, cust_id: int, old: str) -> None:
        pass


@mutant("login_password_min_5", "R18", invariants=("customer_password_format",))
class LoginPasswordMin5(Bank):
    """Accepts a 5-character login password."""

    LOGIN_PASSWORD_RULE: ClassVar[PasswordRule] = replace(CUSTOMER_PASSWORD_RULE, min_length=5)


@mutant("login_password_max_31", "R18", invariants=("customer_password_format",))
class LoginPasswordMax31(Bank):
    """Accepts a 31-character login password."""

    LOGIN_PASSWORD_RULE: ClassVar[PasswordRule] = replace(CUSTOMER_PASSWORD_RULE, max_length=31)


@mutant("login_password_no_digit", "R18", "Q6", invariants=("customer_password_format",))
class LoginPasswordNoDigit(Bank):
    """Accepts a login password without a digit."""

    LOGIN_PASSWORD_RULE: ClassVar[PasswordRule] = replace(
        CUSTOMER_PASSWORD_RULE, require_digit=False
    )


@mutant("login_password_no_letter", "R18", "Q6", invariants=("customer_password_format",))
class LoginPasswordNoLetter(Bank):
    """Accepts a login password without a letter."""

    LOGIN_PASSWORD_RULE: ClassVar[PasswordRule] = replace(
        CUSTOMER_PASSWORD_RULE, require_letter=False
    )


@mutant("login_password_symbols", "R18", "Q6", invariants=("customer_password_format",))
class LoginPasswordSymbols(Bank):
    """Accepts punctuation in the login password."""

    LOGIN_PASSWORD_RULE: ClassVar[PasswordRule] = replace(
        CUSTOMER_PASSWORD_RULE, allowed=DIGITS | LETTERS | frozenset(string.punctuation)
    )


class CaseFoldingHasher(PasswordHasher):
    """Lower-cases passwords before hashing them."""

    def encode(self, password: str) -> bytes:
        return password.lower().encode("utf-8")


@mutant("password_case_insensitive", "R18")
class PasswordCaseInsensitive(Bank):
    """Compares passwords case-insensitively (hashes the lower-cased password)."""

    hasher_class: ClassVar[type[PasswordHasher]] = CaseFoldingHasher


@mutant("reset_login_without_id", "R19")
class ResetLoginWithoutId(Bank):
    """Resets the login password without checking the customer's ID."""

    def _verify_identity(self, cust: CustomerRow, document: MaybeId, service: str) -> None:
        if service != "reset_login_password":
            super()._verify_identity(cust, document, service)


@mutant("reset_login_without_card", "R19")
class ResetLoginWithoutCard(Bank):
    """Resets the login password without the registered card being presented."""

    def _verify_card(self, cust: CustomerRow, card_number: str | None, service: str) -> None:
        if service != "reset_login_password":
            super()._verify_card(cust, card_number, service)


@mutant("reset_keeps_old_password", "R19", "R20")
class ResetKeepsOldPassword(Bank):
    """Still accepts the previous login password after a change or a reset."""

    def _login_password_matches(self, cust_id: int, password: str) -> bool:
        if super()._login_password_matches(cust_id, password):
            return True
        row = self._store.one(
            "SELECT id, origin, status, algorithm, iterations, salt, digest FROM credentials "
            "WHERE customer_id = ? AND purpose = ? ORDER BY id DESC LIMIT 1 OFFSET 1",
            (cust_id, LOGIN),
        )
        return row is not None and self._hasher.verify(self._credential_row(row).secret, password)


@mutant("reset_keeps_session", "R19", "Q10")
class ResetKeepsSession(Bank):
    """Leaves an open session running after a counter reset of the login password."""

    def _end_session_after_reset(self, cust_id: int) -> None:
        pass


@mutant("reset_not_immediate", "R20")
class ResetNotImmediate(Bank):
    """Makes a counter reset take effect the next day (overnight batch)."""

    def _reset_effective_at(self) -> str | None:
        return stamp(self._clock() + timedelta(days=1))


@mutant(
    "counter_password_unrestricted", "R20", "Q7", "Q11",
    invariants=("logged_in_means_customer_password",),
)
class CounterPasswordUnrestricted(Bank):
    """Does not restrict a session opened with a counter-set password."""

    def _must_change_password(self, credential: Any) -> bool:
        return False


@mutant("restriction_not_lifted", "R20", "Q7", invariants=("restricted_means_counter_password",))
class RestrictionNotLifted(Bank):
    """Keeps the session restricted after the counter-set password was changed."""

    def _lift_restriction(self, cust_id: int) -> None:
        pass


@mutant("counter_password_any_format", "R20", "Q11", invariants=("counter_password_format",))
class CounterPasswordAnyFormat(Bank):
    """Lets a counter set a login password of letters and digits, up to 30 characters."""

    COUNTER_PASSWORD_RULE: ClassVar[PasswordRule] = replace(
        COUNTER_PASSWORD_RULE, max_length=30, allowed=DIGITS | LETTERS
    )


# ---------------------------------------------------------------------- R21-R22 payment password


@mutant("payment_password_reset_at_counter", "R21")
class PaymentPasswordResetAtCounter(Bank):
    """Offers a payment-password reset at the counter (re-validates the old password)."""

    def reset_payment_password_at_counter(
        self, customer: str, id_document: IdDocument | None, card_number: str | None
    ) -> None:
        with self._work():
            cust = self._registered(customer)
            self._verify_identity(cust, id_document, "reset_payment_password")
            self._verify_card(cust, card_number, "reset_payment_password")
            credential = self._credential(cust.id, PAYMENT)
            if credential is not None:
                self._store.execute(
                    "UPDATE credentials SET status = 'active' WHERE id = ?", (credential.id,)
                )


@mutant("application_effects_before_checks", "R22", "Q2",
        invariants=("invalidated_only_with_a_card_or_ukey",
                    "superseded_only_after_an_application"))
class ApplicationEffectsBeforeChecks(Bank):
    """Voids the payment password and stops static payments before an OTP card application's
    checks, so a refused application keeps both."""

    def apply_otp_card(self, customer: str, id_document: IdDocument | None,
                       card_number: str | None, **application: bool) -> Any:
        with self._work():
            cust = self._registered(customer)
            self._invalidate_payment_password(cust.id, "otp_card")
            self._supersede_static(cust.id)
        return super().apply_otp_card(customer, id_document, card_number, **application)


@mutant("old_payment_password_after_otp", "R22", "Q8")
class OldPaymentPasswordAfterOtp(Bank):
    """Leaves the old payment password valid after an OTP card application."""

    def _invalidate_payment_password(self, cust_id: int, because: str) -> None:
        if because != "otp_card":
            super()._invalidate_payment_password(cust_id, because)


@mutant("old_payment_password_after_ukey", "R22", "Q8")
class OldPaymentPasswordAfterUkey(Bank):
    """Leaves the old payment password valid after a U-key application."""

    def _invalidate_payment_password(self, cust_id: int, because: str) -> None:
        if because != "ukey":
            super()._invalidate_payment_password(cust_id, because)


# ---------------------------------------------------------------------- test power (issue 10)
# Faults the harness once missed: a check that forgets one of several documents (only the
# condition under test alone decides), the rarer route of a guard with two, a refusal only
# the restricted session after a counter reset reaches, and hidden state (a counter or a
# stored password) that only a later outcome reveals when observe() is not used.


@mutant("register_form_or_agreement", "R1")
class RegisterFormOrAgreement(Bank):
    """Refuses a registration only when both the form and the agreement are missing."""

    def _check_form(self, req: RegistrationRequest) -> None:
        if not req.form_submitted and not req.agreement_acknowledged:
            raise RegistrationRefused(Reason.REGISTRATION_FORM_MISSING)

    def _check_agreement(self, req: RegistrationRequest) -> None:
        pass


class EitherDocument(Bank):
    """A counter service content with one of the two documents (the ID or the card)."""

    SERVICE: ClassVar[str] = ""

    def _verify_in_person(self, cust: CustomerRow, document: MaybeId,
                          card_number: str | None, service: str) -> None:
        if service != self.SERVICE:
            super()._verify_in_person(cust, document, card_number, service)
            return
        try:
            self._verify_identity(cust, document, service)
        except CounterServiceRefused:
            self._verify_card(cust, card_number, service)


@mutant("otp_apply_id_or_card", "R6")
class OtpApplyIdOrCard(EitherDocument):
    """Issues an OTP card on the ID or the registered card, either one."""

    SERVICE: ClassVar[str] = "otp_card"


@mutant("reset_login_id_or_card", "R19")
class ResetLoginIdOrCard(EitherDocument):
    """Resets the login password on the ID or the registered card, either one."""

    SERVICE: ClassVar[str] = "reset_login_password"


@mutant("ukey_b2c_logged_out", "R16", "Q17")
class UkeyB2cLoggedOut(Bank):
    """Asks for a session on the online-banking channel only: U-key payments via B2C too."""

    def _check_payment_session(self, cust_id: int, order: PaymentOrder) -> None:
        if order.channel is Channel.ONLINE_BANKING:
            self._online_session(cust_id)


@mutant("otp_pay_with_invalidated_password", "R22")
class OtpPayWithInvalidatedPassword(Bank):
    """Refuses an invalidated payment password for static payments only, not OTP ones."""

    def _check_payment_password_of(self, cust_id: int, order: PaymentOrder) -> None:
        credential = self._credential(cust_id, PAYMENT)
        if order.method is PayMethod.OTP and credential is not None \
                and credential.status == "invalidated":
            return
        super()._check_payment_password_of(cust_id, order)


class AfterCounterReset(Bank):
    """Knows whether the login password in force was set by a counter reset (not at
    registration)."""

    def _reset_at_counter(self, cust_id: int) -> bool:
        credential = self._credential(cust_id, LOGIN)
        first = self._store.scalar(
            "SELECT MIN(id) FROM credentials WHERE customer_id = ? AND purpose = ?",
            (cust_id, LOGIN))
        return credential is not None and credential.origin == COUNTER \
            and credential.id != first


@mutant("reset_session_unrestricted", "R20", "Q7",
        invariants=("logged_in_means_customer_password",))
class ResetSessionUnrestricted(AfterCounterReset):
    """Restricts a session opened with the registration password, not a reset one."""

    def _open_session(self, cust_id: int, *, restricted: bool) -> str:
        return super()._open_session(
            cust_id, restricted=restricted and not self._reset_at_counter(cust_id))


@mutant("restricted_pays_online_after_reset", "R16", "R20", "Q7")
class RestrictedPaysOnlineAfterReset(AfterCounterReset):
    """Lets the restricted session after a counter reset pay through online banking."""

    def _check_payment_session(self, cust_id: int, order: PaymentOrder) -> None:
        try:
            super()._check_payment_session(cust_id, order)
        except SessionError as refusal:
            if refusal.code is not Reason.PASSWORD_CHANGE_REQUIRED \
                    or not self._reset_at_counter(cust_id):
                raise


@mutant("quota_reset_by_password_reset", "R5", "Q1")
class QuotaResetByPasswordReset(Bank):
    """Starts the 300 yuan static quota afresh when the login password is reset."""

    def _end_session_after_reset(self, cust_id: int) -> None:
        super()._end_session_after_reset(cust_id)
        self._store.execute(
            "UPDATE static_quota SET spent_fen = 0 WHERE customer_id = ?", (cust_id,))


@mutant("otp_uses_reset_on_logout", "R8", "Q5")
class OtpUsesResetOnLogout(Bank):
    """Counts the OTP card's 1000 uses afresh after each logout."""

    def logout(self, customer: str) -> None:
        super().logout(customer)
        with self._work():
            cust = self._registered(customer)
            self._store.execute(
                "UPDATE otp_cards SET uses = 0 WHERE customer_id = ? AND status = 'active'",
                (cust.id,))


@mutant("otp_uses_kept_on_new_card", "R8")
class OtpUsesKeptOnNewCard(Bank):
    """Carries the used-up card's use count over to the customer's new OTP card."""

    def _issue_otp_card(self, cust_id: int) -> OtpCard:
        old = self._current_otp_card(cust_id)
        card = super()._issue_otp_card(cust_id)
        if old is not None:
            self._store.execute(
                "UPDATE otp_cards SET uses = ? WHERE customer_id = ? AND serial = ?",
                (old.uses, cust_id, card.serial))
        return card


@mutant("change_accepts_pre_reset_password", "R19", "R20")
class ChangeAcceptsPreResetPassword(AfterCounterReset):
    """Takes the password from before a counter reset as the old one of an online change."""

    def _check_old_login_password(self, cust_id: int, old: str) -> None:
        if not self._reset_at_counter(cust_id):
            super()._check_old_login_password(cust_id, old)
            return
        row = self._store.one(
            "SELECT id, origin, status, algorithm, iterations, salt, digest FROM credentials "
            "WHERE customer_id = ? AND purpose = ? ORDER BY id DESC LIMIT 1 OFFSET 1",
            (cust_id, LOGIN),
        )
        if row is None or not self._hasher.verify(self._credential_row(row).secret, old):
            super()._check_old_login_password(cust_id, old)


MUTANTS: tuple[Mutant, ...] = tuple(_REGISTRY)
_BY_NAME: dict[str, Mutant] = {m.name: m for m in MUTANTS}
if len(_BY_NAME) != len(MUTANTS):  # pragma: no cover - guards the table above
    raise RuntimeError("duplicate mutant names")


def mutant_named(name: str) -> Mutant:
    """The mutant called ``name`` (KeyError with the known names otherwise)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown mutant {name!r}; known: {', '.join(_BY_NAME)}") from None


def make_mutant_adapter(name: str, path: str | None = None, **options: Any) -> BankAdapter:
    """A :class:`BankAdapter` over the mutant bank ``name`` (options as for make_adapter)."""
    return mutant_named(name).factory(path, **options)
