"""The reference bank: ICBC-style personal online banking, written by hand.

``Bank`` implements registration at a counter, the login and payment passwords, and the
three ways of paying online (static password with a 300 yuan lifetime quota, OTP card,
U-key), with the interpretation the QA team agreed for the policy's open questions:

* Q1  amounts in whole fen; only accepted payments count; landing on 300.00 is fine;
* Q2  applying for an OTP card or a U-key stops static-password payments for good;
* Q3  a customer may hold both; each payment names the authenticator it uses;
* Q4  each new OTP card needs activation and one login after issue before B2C payments;
* Q5  one use per accepted OTP payment, none for refused ones;
* Q6  customer passwords: 6-30 ASCII letters and digits, at least one of each;
* Q7  with a counter-set login password, a session may only change it or log out;
* Q8  applying for a card or U-key invalidates the payment password; a new one is set
      online (letters and digits);
* Q9  no limit for OTP payments; Q10 logout exists, no lock-out, no expiry, a counter
      reset ends the session; Q11 registration sets 6-8 digit passwords at the counter;
* Q12 the online certificate download needs the driver; the counter's does not.

Every refusal is a :class:`~authspec.bank.errors.BankError` with a reason code, and a
refused request changes nothing (refused payments are written to the ledger as refused,
for the audit trail, and count for nothing). Everything lives in one SQLite file.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import ClassVar

from authspec.bank.domain import (
    OTP_CELL_DIGITS,
    OTP_CELLS,
    CertificateRoute,
    Channel,
    CustomerSnapshot,
    IdDocument,
    OtpCard,
    OtpChallenge,
    PaymentOrder,
    PaymentReceipt,
    PayMethod,
    Registration,
    RegistrationRequest,
    UKeyMedium,
    cell_index,
)
from authspec.bank.errors import (
    AuthenticationFailed,
    AuthenticatorError,
    BankError,
    CounterServiceRefused,
    PasswordPolicyError,
    PaymentRefused,
    Reason,
    RegistrationRefused,
    SessionError,
)
from authspec.bank.passwords import (
    COUNTER_PASSWORD_RULE,
    CUSTOMER_PASSWORD_RULE,
    PRODUCTION_KDF_ITERATIONS,
    PasswordHasher,
    PasswordRule,
    StoredSecret,
)
from authspec.bank.store import Store, stamp

LOGIN = "login"
PAYMENT = "payment"
COUNTER = "counter"
ONLINE = "online"
CELL_SALT_BYTES = 16
CELL_DIGEST_BYTES = 32


@dataclass(frozen=True)
class CustomerRow:
    id: int
    id_number: str
    status: str
    last_login_at: str | None


@dataclass(frozen=True)
class CredentialRow:
    id: int
    origin: str
    status: str
    secret: StoredSecret


@dataclass(frozen=True)
class SessionRow:
    restricted: bool
    token_digest: str = field(repr=False)


@dataclass(frozen=True)
class PresentedToken:
    """The session token a request carries (its digest), or none at all."""

    digest: str | None = field(repr=False)


_PRESENTED: ContextVar[PresentedToken | None] = ContextVar("presented_token", default=None)


def token_digest(token: str) -> str:
    """What the bank keeps of a session token: the SHA-256 of its text, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def cell_digest(salt: bytes, index: int, code: str) -> bytes:
    """What the bank keeps of one cell of an OTP card: HMAC-SHA256 under the card's salt."""
    return hmac.new(salt, f"{index}:{code}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class OtpCardRow:
    id: int
    serial: str
    status: str
    uses: int
    cell_salt: bytes = field(repr=False)
    cell_digests: bytes = field(repr=False)
    first_login_at: str | None = None

    def cell(self, index: int) -> bytes:
        """The stored digest of cell ``index`` (0-79)."""
        return self.cell_digests[index * CELL_DIGEST_BYTES:(index + 1) * CELL_DIGEST_BYTES]

    def __repr__(self) -> str:
        return (
            f"OtpCardRow(id={self.id}, serial={self.serial!r}, status={self.status!r}, "
            f"uses={self.uses})"
        )


@dataclass(frozen=True)
class UKeyRow:
    id: int
    serial: str
    brand: str
    driver_installed: bool
    certificate: bool


class Bank:
    """One bank branch network's online-banking back end, stored in one SQLite file."""

    STATIC_QUOTA_FEN: ClassVar[int] = 30_000  # 300.00 yuan, lifetime (R5)
    OTP_CARD_USES: ClassVar[int] = 1_000  # R8
    LOGIN_PASSWORD_RULE: ClassVar[PasswordRule] = CUSTOMER_PASSWORD_RULE  # R18, Q6
    PAYMENT_PASSWORD_RULE: ClassVar[PasswordRule] = CUSTOMER_PASSWORD_RULE  # R7, Q8
    COUNTER_PASSWORD_RULE: ClassVar[PasswordRule] = COUNTER_PASSWORD_RULE  # R20, Q11
    hasher_class: ClassVar[type[PasswordHasher]] = PasswordHasher

    def __init__(
        self,
        path: str | Path,
        *,
        kdf_iterations: int = PRODUCTION_KDF_ITERATIONS,
        durable: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Open (or create) the bank's database at ``path``.

        ``kdf_iterations`` is the PBKDF2 work factor for new passwords (the default is
        production strength; tests pass a low count). ``durable=False`` turns off fsync for
        speed in tests. ``clock`` returns the current time (timezone-aware).
        """
        self._hasher = self.hasher_class(kdf_iterations)
        self._store = Store(path, durable=durable)
        self._clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(path={str(self._store.path)!r}, "
            f"kdf_iterations={self._hasher.iterations})"
        )

    def __enter__(self) -> Bank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self._store.path

    def close(self) -> None:
        """Close the database connection."""
        self._store.close()

    def reset(self) -> None:
        """Forget every customer (empties all tables)."""
        self._store.reset()

    @staticmethod
    @contextmanager
    def presenting(token: str | None) -> Iterator[None]:
        """Calls inside this block are made by a request carrying session ``token``.

        Without the block the caller is trusted to be the customer it names (a teller's
        desk, the conformance adapter); inside it, only the session whose token this is
        counts as a session (``None``: the request carries no token, so it has none).
        """
        mark = _PRESENTED.set(PresentedToken(None if token is None else token_digest(token)))
        try:
            yield
        finally:
            _PRESENTED.reset(mark)

    @contextmanager
    def _work(
        self,
        customer: str | None = None,
        *,
        check: Iterable[tuple[str, str | None]] = (),
        new: Iterable[tuple[PasswordRule, str]] = (),
    ) -> Iterator[None]:
        """One request: its KDF work first, with no lock held, then one short transaction.

        ``check`` names the passwords the request will verify (purpose, password typed),
        ``new`` those it may store (rule, password); both are worked out ahead, and the
        calls made inside the transaction find the results (``PasswordHasher.precomputed``).
        If a credential changed in between, the check inside is simply made again.
        """
        with self._hasher.precomputed():
            self._prepare_kdf(customer, check, new)
            with self._store.transaction():
                yield

    def _prepare_kdf(
        self,
        customer: str | None,
        check: Iterable[tuple[str, str | None]],
        new: Iterable[tuple[PasswordRule, str]],
    ) -> None:
        for rule, password in new:
            if isinstance(password, str) and rule.accepts(password):
                self._hasher.prepare_hash(password)
        checks = [(purpose, pw) for purpose, pw in check if isinstance(pw, str)]
        cust = self._lookup(customer) if customer is not None and checks else None
        if cust is None:
            return
        for purpose, password in checks:
            credential = self._credential(cust.id, purpose)
            if credential is not None:
                self._hasher.prepare_verify(credential.secret, password)

    # ------------------------------------------------------------------ counter services

    def register_customer(self, request: RegistrationRequest) -> Registration:
        """Register a customer for personal online banking at a counter (R1-R4, Q11)."""
        counter_rule = self.COUNTER_PASSWORD_RULE
        new = ((counter_rule, request.login_password), (counter_rule, request.payment_password))
        with self._work(new=new):
            if self._lookup(request.customer) is not None:
                raise RegistrationRefused(Reason.ALREADY_REGISTERED)
            self._check_registration(request)
            return self._open_customer(request)

    def reset_login_password_at_counter(
        self,
        customer: str,
        id_document: IdDocument | None,
        card_number: str | None,
        new_password: str,
    ) -> None:
        """Reset a forgotten login password, in person with ID and card (R19, R20)."""
        with self._work(new=((self.COUNTER_PASSWORD_RULE, new_password),)):
            cust = self._registered(customer)
            self._verify_in_person(cust, id_document, card_number, "reset_login_password")
            self._check_counter_password(new_password)
            self._store_password(
                cust.id, LOGIN, new_password, COUNTER, effective_at=self._reset_effective_at()
            )
            self._end_session_after_reset(cust.id)

    def reset_payment_password_at_counter(
        self, customer: str, id_document: IdDocument | None, card_number: str | None
    ) -> None:
        """Payment passwords are not reset: the customer applies for a card or U-key (R21)."""
        with self._work():
            self._registered(customer)
            raise CounterServiceRefused(
                Reason.PAYMENT_PASSWORD_RESET_UNAVAILABLE, "apply for an OTP card or a U-key"
            )

    def apply_otp_card(
        self,
        customer: str,
        id_document: IdDocument | None,
        card_number: str | None,
        *,
        business_form: bool = True,
        ecommerce_declared: bool = True,
    ) -> OtpCard:
        """Issue an OTP card at a counter (R6, R8, R21, R22; Q2, Q3, Q4)."""
        with self._work():
            cust = self._registered(customer)
            self._verify_in_person(cust, id_document, card_number, "otp_card")
            self._verify_application(business_form, ecommerce_declared, "otp_card")
            if self._holds_usable_otp_card(cust.id):
                raise AuthenticatorError(Reason.OTP_CARD_ALREADY_HELD)
            card = self._issue_otp_card(cust.id)
            self._invalidate_payment_password(cust.id, "otp_card")
            self._supersede_static(cust.id)
            return card

    def apply_ukey(
        self,
        customer: str,
        id_document: IdDocument | None,
        card_number: str | None,
        brand: str,
        *,
        business_form: bool = True,
        ecommerce_declared: bool = True,
    ) -> UKeyMedium:
        """Issue a U-key of ``brand`` at a counter (R10, R13, R21, R22; Q2, Q3)."""
        with self._work():
            cust = self._registered(customer)
            self._verify_in_person(cust, id_document, card_number, "ukey")
            self._verify_application(business_form, ecommerce_declared, "ukey")
            if self._holds_ukey(cust.id):
                raise AuthenticatorError(Reason.UKEY_ALREADY_HELD)
            medium = UKeyMedium(serial=f"UK{secrets.token_hex(6).upper()}", brand=brand)
            self._record_ukey(cust.id, medium, "issued")
            self._invalidate_payment_password(cust.id, "ukey")
            self._supersede_static(cust.id)
            return medium

    # ------------------------------------------------------------------ online banking

    def login(self, customer: str, password: str) -> str:
        """Log in to personal online banking (R17-R20, Q7, Q10, Q11); the session token.

        The token is handed to the customer's browser and never stored: the bank keeps its
        SHA-256 digest, and a request presenting it (see :meth:`presenting`) is the session.
        """
        with self._work(customer, check=((LOGIN, password),)):
            cust = self._registered(customer)
            if self._session_row(cust.id) is not None:
                raise SessionError(Reason.ALREADY_LOGGED_IN)
            if not self._login_password_matches(cust.id, password):
                raise AuthenticationFailed(Reason.WRONG_PASSWORD)
            credential = self._credential(cust.id, LOGIN)
            assert credential is not None
            token = self._open_session(
                cust.id, restricted=self._must_change_password(credential)
            )
            self._note_login(cust.id)
            return token

    def logout(self, customer: str) -> None:
        """Log out (an extension beyond the source, Q10)."""
        with self._work():
            cust = self._registered(customer)
            if self._session(cust.id) is None:
                raise SessionError(Reason.NOT_LOGGED_IN)
            self._store.execute("DELETE FROM sessions WHERE customer_id = ?", (cust.id,))

    def change_login_password(self, customer: str, old: str, new: str) -> None:
        """Change the login password online (R17, R18, R20); lifts the restriction."""
        with self._work(customer, check=((LOGIN, old),),
                        new=((self.LOGIN_PASSWORD_RULE, new),)):
            cust = self._registered(customer)
            self._check_password_change_session(cust.id)
            self._check_old_login_password(cust.id, old)
            self._check_customer_password(self.LOGIN_PASSWORD_RULE, new)
            self._store_password(cust.id, LOGIN, new, ONLINE)
            self._lift_restriction(cust.id)

    def change_payment_password(self, customer: str, old: str, new: str) -> None:
        """Change a valid payment password online to letters and digits (R7)."""
        with self._work(customer, check=((PAYMENT, old),),
                        new=((self.PAYMENT_PASSWORD_RULE, new),)):
            cust = self._registered(customer)
            self._online_session(cust.id)
            credential = self._credential(cust.id, PAYMENT)
            if credential is None or credential.status != "active":
                raise AuthenticationFailed(Reason.PAYMENT_PASSWORD_INVALIDATED)
            if not self._hasher.verify(credential.secret, old):
                raise AuthenticationFailed(Reason.WRONG_PAYMENT_PASSWORD)
            self._check_customer_password(self.PAYMENT_PASSWORD_RULE, new)
            self._store_password(cust.id, PAYMENT, new, ONLINE)

    def set_payment_password(self, customer: str, new: str) -> None:
        """Set a new payment password after the old one was invalidated (R22, Q8)."""
        with self._work(new=((self.PAYMENT_PASSWORD_RULE, new),)):
            cust = self._registered(customer)
            self._online_session(cust.id)
            credential = self._credential(cust.id, PAYMENT)
            if credential is not None and credential.status == "active":
                raise AuthenticationFailed(Reason.PAYMENT_PASSWORD_ALREADY_SET)
            self._check_customer_password(self.PAYMENT_PASSWORD_RULE, new)
            self._store_password(cust.id, PAYMENT, new, ONLINE)

    def activate_otp_card(self, customer: str) -> None:
        """Activate the issued OTP card online (R7, R8)."""
        with self._work():
            cust = self._registered(customer)
            self._online_session(cust.id)
            card = self._current_otp_card(cust.id)
            if card is None:
                raise AuthenticatorError(Reason.NO_OTP_CARD)
            if card.status == "used_up":
                raise AuthenticatorError(Reason.OTP_CARD_USED_UP)
            if card.status == "active":
                raise AuthenticatorError(Reason.OTP_CARD_ALREADY_ACTIVE)
            self._check_payment_password_for_card(cust.id)
            self._store.execute(
                "UPDATE otp_cards SET status = 'active', activated_at = ? WHERE id = ?",
                (self._now(), card.id),
            )

    def install_ukey_driver(self, customer: str, brand: str) -> None:
        """Install the U-key driver of ``brand`` (R11, R14)."""
        with self._work():
            cust = self._registered(customer)
            self._online_session(cust.id)
            key = self._current_ukey(cust.id)
            if key is None:
                raise AuthenticatorError(Reason.NO_UKEY)
            if not self._driver_fits(key, brand):
                raise AuthenticatorError(Reason.WRONG_DRIVER_BRAND)
            self._store.execute(
                "UPDATE ukeys SET driver_installed_at = COALESCE(driver_installed_at, ?) "
                "WHERE id = ?",
                (self._now(), key.id),
            )

    def download_certificate(
        self, customer: str, route: CertificateRoute, ukey_plugged_in: bool
    ) -> None:
        """Put the certificate on the U-key, online or by a teller (R11, R15, Q12)."""
        route = CertificateRoute(route)
        with self._work():
            cust = self._registered(customer)
            self._check_download_session(cust.id, route)
            key = self._current_ukey(cust.id)
            if key is None:
                raise AuthenticatorError(Reason.NO_UKEY)
            if key.certificate:
                raise AuthenticatorError(Reason.CERTIFICATE_ALREADY_DOWNLOADED)
            if self._driver_required_for_download(route) and not key.driver_installed:
                raise AuthenticatorError(Reason.DRIVER_NOT_INSTALLED)
            self._check_ukey_plugged_in(ukey_plugged_in, "certificate")
            self._store.execute(
                "UPDATE ukeys SET certificate_serial = ?, certificate_route = ?, "
                "certificate_at = ? WHERE id = ?",
                (secrets.token_hex(8).upper(), route.value, self._now(), key.id),
            )

    def otp_challenge(self, customer: str) -> OtpChallenge | None:
        """The cells of the current OTP card the payment page asks for (None: no card)."""
        with self._store.reading():
            cust = self._lookup(customer)
            card = None if cust is None else self._current_otp_card(cust.id)
            return None if card is None else self._otp_challenge_for(card)

    def pay(self, customer: str, order: PaymentOrder) -> PaymentReceipt:
        """Pay online (R5-R16, Q1-Q5, Q9). Refused payments are logged, never counted."""
        password = order.payment_password if order.method is not PayMethod.UKEY else None
        with self._work(customer, check=((PAYMENT, password),)):
            cust = self._registered(customer)
            try:
                return self._pay(cust, order)
            except BankError as refusal:
                self._record_refused_payment(cust.id, order, refusal.code)
                raise

    # ------------------------------------------------------------------ back office

    def snapshot(self, customer: str) -> CustomerSnapshot:
        """What the back office can see of ``customer`` (no secrets), read consistently."""
        with self._store.reading():
            return self._snapshot(customer)

    def _snapshot(self, customer: str) -> CustomerSnapshot:
        cust = self._lookup(customer)
        if cust is None:
            return CustomerSnapshot()
        registration = self._store.one(
            "SELECT card_opened FROM registrations WHERE customer_id = ?", (cust.id,)
        )
        session = self._session_row(cust.id)
        login = self._credential(cust.id, LOGIN)
        payment = self._credential(cust.id, PAYMENT)
        card = self._current_otp_card(cust.id)
        key = self._current_ukey(cust.id)
        return CustomerSnapshot(
            registered=cust.status == "registered",
            card_opened=bool(registration and registration["card_opened"]),
            card_number=self._registered_card_number(cust.id),
            session=None if session is None else ("restricted" if session.restricted else "full"),
            login_password_origin=None if login is None else login.origin,
            payment_password_status=None if payment is None else payment.status,
            static_status=self._static_status(cust.id),
            static_spent_fen=self._static_spent(cust.id),
            otp_status=None if card is None else card.status,
            otp_uses=0 if card is None else card.uses,
            otp_login_since_issue=card is not None and card.first_login_at is not None,
            ukey_brand=None if key is None else key.brand,
            ukey_driver_installed=key is not None and key.driver_installed,
            ukey_certificate=key is not None and key.certificate,
        )

    # ------------------------------------------------------------------ registration

    def _check_registration(self, req: RegistrationRequest) -> None:
        """The counter's checks, in the order the QA team agreed."""
        self._check_form(req)
        self._check_agreement(req)
        self._check_applicant_id(req)
        self._check_card_to_register(req)
        self._check_card_application(req)
        self._check_own_ukey(req)
        self._check_initial_passwords(req)

    def _check_form(self, req: RegistrationRequest) -> None:
        if not req.form_submitted:
            raise RegistrationRefused(Reason.REGISTRATION_FORM_MISSING)

    def _check_agreement(self, req: RegistrationRequest) -> None:
        if not req.agreement_acknowledged:
            raise RegistrationRefused(Reason.AGREEMENT_NOT_ACKNOWLEDGED)

    def _check_applicant_id(self, req: RegistrationRequest) -> None:
        document = req.id_document
        if document is None or not document.valid_for(req.customer, self._today()):
            raise RegistrationRefused(Reason.ID_INVALID)

    def _check_card_to_register(self, req: RegistrationRequest) -> None:
        if not req.local_account:
            return
        if req.card_presented is None or req.card_presented != req.card_to_register:
            raise RegistrationRefused(Reason.CARD_MISSING)

    def _check_card_application(self, req: RegistrationRequest) -> None:
        if not req.local_account and not req.card_application_submitted:
            raise RegistrationRefused(Reason.CARD_APPLICATION_MISSING)

    def _check_own_ukey(self, req: RegistrationRequest) -> None:
        if req.own_ukey and req.ukey_medium is None:
            raise RegistrationRefused(Reason.UKEY_MEDIUM_MISSING)

    def _check_initial_passwords(self, req: RegistrationRequest) -> None:
        self._check_counter_password(req.login_password)
        self._check_counter_password(req.payment_password)

    def _open_customer(self, req: RegistrationRequest, status: str = "registered") -> Registration:
        if req.local_account and self._card_taken(req.card_to_register):
            raise RegistrationRefused(Reason.CARD_MISSING, "the card is another customer's")
        now = self._now()
        cust_id = self._store.execute(
            "INSERT INTO customers (id_number, status, created_at) VALUES (?, ?, ?)",
            (req.customer, status, now),
        )
        opened = not req.local_account
        card_number = self._new_card_number() if opened else req.card_to_register
        assert card_number is not None
        self._store.execute(
            "INSERT INTO cards (card_number, customer_id, registered, opened_here, added_at) "
            "VALUES (?, ?, 1, ?, ?)",
            (card_number, cust_id, int(opened), now),
        )
        self._store.execute(
            "INSERT INTO registrations (customer_id, local_account, card_opened, "
            "agreement_acknowledged, own_ukey, registered_at) VALUES (?, ?, ?, ?, ?, ?)",
            (cust_id, int(req.local_account), int(opened), int(req.agreement_acknowledged),
             int(req.own_ukey), now),
        )
        self._store_password(cust_id, LOGIN, req.login_password, COUNTER)
        self._store_password(cust_id, PAYMENT, req.payment_password, COUNTER)
        self._store.execute(
            "INSERT INTO static_quota (customer_id, status, changed_at) VALUES (?, 'active', ?)",
            (cust_id, now),
        )
        if req.own_ukey and req.ukey_medium is not None:
            self._record_ukey(cust_id, req.ukey_medium, "own")
        return Registration(req.customer, card_number, opened)

    def _card_taken(self, card_number: str | None) -> bool:
        """Whether ``card_number`` is already registered to a customer (one card, one)."""
        taken = self._store.scalar("SELECT 1 FROM cards WHERE card_number = ?", (card_number,))
        return taken is not None

    def _new_card_number(self) -> str:
        return "6222" + "".join(str(secrets.randbelow(10)) for _ in range(15))

    # ------------------------------------------------------------------ customers, counter

    def _lookup(self, id_number: str) -> CustomerRow | None:
        row = self._store.one(
            "SELECT id, id_number, status, last_login_at FROM customers WHERE id_number = ?",
            (id_number,),
        )
        return None if row is None else CustomerRow(*row)

    def _registered(self, id_number: str) -> CustomerRow:
        cust = self._lookup(id_number)
        if cust is None or cust.status != "registered":
            raise SessionError(Reason.NOT_REGISTERED)
        return cust

    def _registered_card_number(self, cust_id: int) -> str | None:
        return self._store.scalar(
            "SELECT card_number FROM cards WHERE customer_id = ? AND registered = 1",
            (cust_id,),
        )

    def _verify_identity(
        self, cust: CustomerRow, document: IdDocument | None, service: str
    ) -> None:
        """The customer in person with their own, unexpired ID (R6, R10, R13, R19, R21)."""
        if document is None or not document.valid_for(cust.id_number, self._today()):
            raise CounterServiceRefused(Reason.ID_INVALID, service)

    def _verify_in_person(self, cust: CustomerRow, document: IdDocument | None,
                          card_number: str | None, service: str) -> None:
        """Both documents of a counter service: the ID, then the registered card."""
        self._verify_identity(cust, document, service)
        self._verify_card(cust, card_number, service)

    def _verify_card(self, cust: CustomerRow, card_number: str | None, service: str) -> None:
        """The card used to register online banking (R6, R10, R13, R19, R21)."""
        if card_number is None or card_number != self._registered_card_number(cust.id):
            raise CounterServiceRefused(Reason.CARD_MISSING, service)

    @staticmethod
    def _verify_application(business_form: bool, ecommerce_declared: bool, service: str) -> None:
        """The online-banking business application form, and the e-commerce function asked
        for at the counter (R6 for an OTP card, R10 for a U-key)."""
        if not business_form:
            raise CounterServiceRefused(Reason.BUSINESS_FORM_MISSING, service)
        if not ecommerce_declared:
            raise CounterServiceRefused(Reason.ECOMMERCE_NOT_DECLARED, service)

    # ------------------------------------------------------------------ sessions

    def _session_row(self, cust_id: int) -> SessionRow | None:
        """The customer's open session, whoever holds it."""
        row = self._store.one(
            "SELECT restricted, token FROM sessions WHERE customer_id = ?", (cust_id,)
        )
        return None if row is None else SessionRow(bool(row["restricted"]), row["token"])

    def _session(self, cust_id: int) -> SessionRow | None:
        """The customer's session, if this request belongs to it (see ``presenting``)."""
        session = self._session_row(cust_id)
        presented = _PRESENTED.get()
        if session is None or presented is None:
            return session
        if presented.digest is None:
            return None
        return session if hmac.compare_digest(presented.digest, session.token_digest) else None

    def _online_session(self, cust_id: int) -> SessionRow:
        """A session that may do anything: logged in, password not counter-set (Q7)."""
        session = self._session(cust_id)
        if session is None:
            raise SessionError(Reason.NOT_LOGGED_IN)
        if session.restricted:
            raise SessionError(Reason.PASSWORD_CHANGE_REQUIRED)
        return session

    def _check_password_change_session(self, cust_id: int) -> None:
        """Changing the login password needs a session, restricted or not (R17, R20)."""
        if self._session(cust_id) is None:
            raise SessionError(Reason.NOT_LOGGED_IN)

    def _open_session(self, cust_id: int, *, restricted: bool) -> str:
        """A new session; the bank keeps the digest of its 256-bit random token."""
        token = secrets.token_urlsafe(32)
        self._store.execute(
            "INSERT INTO sessions (customer_id, token, restricted, started_at) VALUES (?, ?, ?, ?)",
            (cust_id, token_digest(token), int(restricted), self._now()),
        )
        return token

    def _must_change_password(self, credential: CredentialRow) -> bool:
        """A counter-set login password restricts the session until changed (R20, Q7)."""
        return credential.origin == COUNTER

    def _lift_restriction(self, cust_id: int) -> None:
        self._store.execute("UPDATE sessions SET restricted = 0 WHERE customer_id = ?", (cust_id,))

    def _end_session_after_reset(self, cust_id: int) -> None:
        """A counter reset of the login password ends any open session (Q10)."""
        self._store.execute("DELETE FROM sessions WHERE customer_id = ?", (cust_id,))

    def _note_login(self, cust_id: int) -> None:
        now = self._now()
        self._store.execute("UPDATE customers SET last_login_at = ? WHERE id = ?", (now, cust_id))
        card = self._current_otp_card(cust_id)
        if card is not None and card.status in ("issued", "active") and not card.first_login_at:
            self._store.execute(
                "UPDATE otp_cards SET first_login_at = ? WHERE id = ?", (now, card.id)
            )

    def _check_download_session(self, cust_id: int, route: CertificateRoute) -> None:
        """Self-service download happens inside a full session (R15, Q7); a teller's not."""
        if route is CertificateRoute.ONLINE:
            self._online_session(cust_id)

    # ------------------------------------------------------------------ passwords

    def _credential(self, cust_id: int, purpose: str) -> CredentialRow | None:
        """The password of ``purpose`` in force now (the newest one already effective)."""
        row = self._store.one(
            "SELECT id, origin, status, algorithm, iterations, salt, digest FROM credentials "
            "WHERE customer_id = ? AND purpose = ? AND (effective_at IS NULL OR effective_at <= ?)"
            " ORDER BY id DESC LIMIT 1",
            (cust_id, purpose, self._now()),
        )
        return None if row is None else self._credential_row(row)

    @staticmethod
    def _credential_row(row: sqlite3.Row) -> CredentialRow:
        secret = StoredSecret(row["algorithm"], row["iterations"], row["salt"], row["digest"])
        return CredentialRow(row["id"], row["origin"], row["status"], secret)

    def _store_password(
        self,
        cust_id: int,
        purpose: str,
        password: str,
        origin: str,
        *,
        effective_at: str | None = None,
    ) -> None:
        """Store a new salted hash; the newest effective row is the password in force."""
        secret = self._hasher.hash(password)
        self._store.execute(
            "INSERT INTO credentials (customer_id, purpose, origin, status, algorithm, "
            "iterations, salt, digest, created_at, effective_at) "
            "VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?)",
            (cust_id, purpose, origin, secret.algorithm, secret.iterations, secret.salt,
             secret.digest, self._now(), effective_at),
        )

    def _reset_effective_at(self) -> str | None:
        """When a counter reset takes effect: at once (R20)."""
        return None

    def _login_password_matches(self, cust_id: int, password: str) -> bool:
        credential = self._credential(cust_id, LOGIN)
        return credential is not None and self._hasher.verify(credential.secret, password)

    def _check_old_login_password(self, cust_id: int, old: str) -> None:
        if not self._login_password_matches(cust_id, old):
            raise AuthenticationFailed(Reason.WRONG_PASSWORD)

    def _check_customer_password(self, rule: PasswordRule, password: str) -> None:
        if not rule.accepts(password):
            raise PasswordPolicyError(Reason.PASSWORD_POLICY_VIOLATION, rule.name)

    def _check_counter_password(self, password: str) -> None:
        rule = self.COUNTER_PASSWORD_RULE
        if not rule.accepts(password):
            raise PasswordPolicyError(Reason.PASSWORD_POLICY_VIOLATION, rule.name)

    def _invalidate_payment_password(self, cust_id: int, because: str) -> None:
        """Applying for an OTP card or a U-key invalidates the payment password (R22)."""
        credential = self._credential(cust_id, PAYMENT)
        if credential is not None:
            self._store.execute(
                "UPDATE credentials SET status = 'invalidated' WHERE id = ?", (credential.id,)
            )

    def _check_payment_password_for_card(self, cust_id: int) -> None:
        """R7, R22, Q8: a valid payment password, set online in letters and digits."""
        credential = self._credential(cust_id, PAYMENT)
        if credential is None or credential.status != "active":
            raise AuthenticatorError(Reason.PAYMENT_PASSWORD_INVALIDATED)
        if not self._payment_password_fit_for_card(credential):
            raise AuthenticatorError(Reason.PAYMENT_PASSWORD_NOT_ALPHANUMERIC)

    def _payment_password_fit_for_card(self, credential: CredentialRow) -> bool:
        """R7: the payment password was changed online to letters and digits."""
        return credential.origin == ONLINE

    def _check_payment_password(self, cust_id: int, password: str | None) -> None:
        credential = self._credential(cust_id, PAYMENT)
        if credential is None or credential.status != "active":
            raise AuthenticationFailed(Reason.PAYMENT_PASSWORD_INVALIDATED)
        if password is None or not self._hasher.verify(credential.secret, password):
            raise AuthenticationFailed(Reason.WRONG_PAYMENT_PASSWORD)

    # ------------------------------------------------------------------ payments

    def _pay(self, cust: CustomerRow, order: PaymentOrder) -> PaymentReceipt:
        self._check_payment_session(cust.id, order)
        if order.method in (PayMethod.STATIC, PayMethod.OTP):
            self._check_payment_password_of(cust.id, order)
        card: OtpCardRow | None = None
        if order.method is PayMethod.STATIC:
            self._check_static_payment(cust.id, order.amount_fen)
        elif order.method is PayMethod.OTP:
            card = self._check_otp_payment(cust, order)
        else:
            self._check_ukey_payment(cust.id, order)
        payment_id = self._book_payment(cust.id, order)
        if order.method is PayMethod.STATIC:
            self._after_static_payment(cust.id, order.amount_fen)
        elif card is not None:
            self._consume_otp_use(card, payment_id)
        return PaymentReceipt(payment_id, order.method, order.channel, order.amount_fen)

    def _check_payment_session(self, cust_id: int, order: PaymentOrder) -> None:
        """Online banking, and a U-key whatever the channel, pay inside a full session (R16)."""
        if order.channel is Channel.ONLINE_BANKING or order.method is PayMethod.UKEY:
            self._online_session(cust_id)

    def _check_payment_password_of(self, cust_id: int, order: PaymentOrder) -> None:
        """The payment password of a static-password or OTP payment (R5, R7, R22)."""
        self._check_payment_password(cust_id, order.payment_password)

    def _book_payment(self, cust_id: int, order: PaymentOrder) -> int:
        return self._store.execute(
            "INSERT INTO payments (customer_id, method, channel, amount_fen, status, created_at) "
            "VALUES (?, ?, ?, ?, 'accepted', ?)",
            (cust_id, order.method.value, order.channel.value, order.amount_fen, self._now()),
        )

    def _record_refused_payment(self, cust_id: int, order: PaymentOrder, reason: Reason) -> None:
        self._store.execute(
            "INSERT INTO payments (customer_id, method, channel, amount_fen, status, reason, "
            "created_at) VALUES (?, ?, ?, ?, 'refused', ?, ?)",
            (cust_id, order.method.value, order.channel.value, order.amount_fen, reason.value,
             self._now()),
        )

    # static password (R5, Q1, Q2)

    def _static_status(self, cust_id: int) -> str | None:
        return self._store.scalar(
            "SELECT status FROM static_quota WHERE customer_id = ?", (cust_id,)
        )

    def _static_spent(self, cust_id: int) -> int:
        """Accepted static-password payments in total, in fen (0 before registration)."""
        spent = self._store.scalar(
            "SELECT spent_fen FROM static_quota WHERE customer_id = ?", (cust_id,)
        )
        return int(spent or 0)

    def _add_static_spent(self, cust_id: int, amount_fen: int) -> None:
        self._store.execute(
            "UPDATE static_quota SET spent_fen = spent_fen + ? WHERE customer_id = ?",
            (amount_fen, cust_id),
        )

    def _check_static_payment(self, cust_id: int, amount_fen: int) -> None:
        status = self._static_status(cust_id)
        if status == "superseded":
            raise PaymentRefused(Reason.STATIC_SUPERSEDED)
        if status == "exhausted":
            raise PaymentRefused(Reason.QUOTA_EXHAUSTED)
        if not self._within_quota(self._static_spent(cust_id), amount_fen):
            raise PaymentRefused(Reason.QUOTA_EXCEEDED)

    def _within_quota(self, spent_fen: int, amount_fen: int) -> bool:
        return spent_fen + amount_fen <= self.STATIC_QUOTA_FEN

    def _quota_used_up(self, spent_fen: int) -> bool:
        return spent_fen >= self.STATIC_QUOTA_FEN

    def _after_static_payment(self, cust_id: int, amount_fen: int) -> None:
        self._add_static_spent(cust_id, amount_fen)
        if self._quota_used_up(self._static_spent(cust_id)):
            self._set_static_status(cust_id, "exhausted")

    def _supersede_static(self, cust_id: int) -> None:
        """A card or U-key application ends static-password payments (Q2)."""
        self._set_static_status(cust_id, "superseded")

    def _set_static_status(self, cust_id: int, status: str) -> None:
        self._store.execute(
            "UPDATE static_quota SET status = ?, changed_at = ? WHERE customer_id = ?",
            (status, self._now(), cust_id),
        )

    # OTP card (R6-R9, Q4, Q5, Q9)

    def _current_otp_card(self, cust_id: int) -> OtpCardRow | None:
        row = self._store.one(
            "SELECT id, serial, status, uses, cell_salt, cell_digests, first_login_at "
            "FROM otp_cards "
            "WHERE customer_id = ? ORDER BY id DESC LIMIT 1",
            (cust_id,),
        )
        if row is None:
            return None
        return OtpCardRow(
            id=row["id"],
            serial=row["serial"],
            status=row["status"],
            uses=row["uses"],
            cell_salt=row["cell_salt"],
            cell_digests=row["cell_digests"],
            first_login_at=row["first_login_at"],
        )

    def _holds_usable_otp_card(self, cust_id: int) -> bool:
        card = self._current_otp_card(cust_id)
        return card is not None and card.status in ("issued", "active")

    def _issue_otp_card(self, cust_id: int) -> OtpCard:
        """Print a new card for the customer; the bank keeps one salted digest per cell."""
        card = OtpCard(
            serial=f"OTP{secrets.token_hex(6).upper()}",
            grid=tuple(f"{secrets.randbelow(1000):03d}" for _ in range(OTP_CELLS)),
        )
        salt = secrets.token_bytes(CELL_SALT_BYTES)
        digests = b"".join(cell_digest(salt, i, code) for i, code in enumerate(card.grid))
        self._store.execute(
            "INSERT INTO otp_cards (customer_id, serial, status, cell_salt, cell_digests, "
            "issued_at) VALUES (?, ?, 'issued', ?, ?, ?)",
            (cust_id, card.serial, salt, digests, self._now()),
        )
        return card

    def _check_otp_payment(self, cust: CustomerRow, order: PaymentOrder) -> OtpCardRow:
        card = self._current_otp_card(cust.id)
        if card is None:
            raise AuthenticatorError(Reason.NO_OTP_CARD)
        if not self._otp_card_activated(card):
            raise AuthenticatorError(Reason.OTP_CARD_NOT_ACTIVATED)
        if card.status == "used_up":
            raise AuthenticatorError(Reason.OTP_CARD_USED_UP)
        if order.channel is Channel.B2C and not self._logged_in_since_issue(cust, card):
            raise AuthenticatorError(Reason.LOGIN_REQUIRED_AFTER_CARD_ISSUE)
        if not self._otp_code_ok(card, order.otp_code):
            raise AuthenticationFailed(Reason.WRONG_OTP_CODE)
        return card

    def _otp_card_activated(self, card: OtpCardRow) -> bool:
        return card.status != "issued"

    def _logged_in_since_issue(self, cust: CustomerRow, card: OtpCardRow) -> bool:
        """R9, Q4: a login after this card was issued."""
        return card.first_login_at is not None

    def _otp_challenge_for(self, card: OtpCardRow) -> OtpChallenge:
        return OtpChallenge.for_use(card.serial, card.uses + 1)

    def _otp_code_ok(self, card: OtpCardRow, code: str | None) -> bool:
        """The code typed is the challenged cells' codes, each checked against its digest."""
        cells = self._otp_challenge_for(card).cells
        if code is None or len(code) != OTP_CELL_DIGITS * len(cells):
            return False
        matches = 0
        for position, cell in enumerate(cells):
            index = cell_index(cell)
            typed = code[position * OTP_CELL_DIGITS:(position + 1) * OTP_CELL_DIGITS]
            matches += hmac.compare_digest(cell_digest(card.cell_salt, index, typed),
                                           card.cell(index))
        return matches == len(cells)

    def _consume_otp_use(self, card: OtpCardRow, payment_id: int | None) -> None:
        """One accepted payment, one use (Q5); the 1000th use finishes the card (R8)."""
        self._count_otp_use(card, payment_id)
        if self._otp_card_exhausted(card.uses + 1):
            self._store.execute("UPDATE otp_cards SET status = 'used_up' WHERE id = ?", (card.id,))

    def _count_otp_use(self, card: OtpCardRow, payment_id: int | None) -> None:
        """Log the use (with the challenge answered) and advance the card's counter."""
        self._store.execute(
            "INSERT INTO otp_card_uses (card_id, payment_id, challenge, used_at) "
            "VALUES (?, ?, ?, ?)",
            (card.id, payment_id, str(self._otp_challenge_for(card)), self._now()),
        )
        self._store.execute("UPDATE otp_cards SET uses = uses + 1 WHERE id = ?", (card.id,))

    def _otp_card_exhausted(self, uses: int) -> bool:
        return uses >= self.OTP_CARD_USES

    # U-key (R4, R10-R16, Q12)

    def _current_ukey(self, cust_id: int) -> UKeyRow | None:
        row = self._store.one(
            "SELECT id, serial, brand, driver_installed_at, certificate_serial FROM ukeys "
            "WHERE customer_id = ? ORDER BY id DESC LIMIT 1",
            (cust_id,),
        )
        if row is None:
            return None
        return UKeyRow(
            id=row["id"],
            serial=row["serial"],
            brand=row["brand"],
            driver_installed=row["driver_installed_at"] is not None,
            certificate=row["certificate_serial"] is not None,
        )

    def _holds_ukey(self, cust_id: int) -> bool:
        return self._current_ukey(cust_id) is not None

    def _record_ukey(self, cust_id: int, medium: UKeyMedium, source: str) -> None:
        self._store.execute(
            "INSERT INTO ukeys (customer_id, serial, brand, source, acquired_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (cust_id, medium.serial, medium.brand, source, self._now()),
        )

    def _driver_fits(self, key: UKeyRow, brand: str) -> bool:
        """A driver works only for U-keys of its own brand (R14)."""
        return brand == key.brand

    def _driver_required_for_download(self, route: CertificateRoute) -> bool:
        """Q12: self-service download needs the driver; a teller does without."""
        return route is CertificateRoute.ONLINE

    def _check_ukey_plugged_in(self, plugged_in: bool, purpose: str) -> None:
        """The U-key must be in the USB port to take a certificate (R15) or pay (R16)."""
        if not plugged_in:
            raise AuthenticatorError(Reason.UKEY_NOT_CONNECTED)

    def _check_ukey_payment(self, cust_id: int, order: PaymentOrder) -> None:
        """R11, R16: driver, certificate, plugged in, U-key password; no limit (R12)."""
        key = self._current_ukey(cust_id)
        if key is None:
            raise AuthenticatorError(Reason.NO_UKEY)
        if not self._ukey_has_driver(key):
            raise AuthenticatorError(Reason.DRIVER_NOT_INSTALLED)
        if not self._ukey_has_certificate(key):
            raise AuthenticatorError(Reason.CERTIFICATE_MISSING)
        self._check_ukey_plugged_in(order.ukey_plugged_in, "payment")
        if not self._ukey_signed(order):
            raise AuthenticationFailed(Reason.WRONG_UKEY_PASSWORD)

    def _ukey_has_driver(self, key: UKeyRow) -> bool:
        return key.driver_installed

    def _ukey_has_certificate(self, key: UKeyRow) -> bool:
        return key.certificate

    def _ukey_signed(self, order: PaymentOrder) -> bool:
        return order.ukey_pin_verified

    # ------------------------------------------------------------------ time

    def _now(self) -> str:
        return stamp(self._clock())

    def _today(self) -> date:
        return self._clock().astimezone(UTC).date()
