"""Records the reference bank's API takes and returns.

These are the bank's own words for what crosses a counter or a web form: an identity
document, a registration request, a payment order, the OTP card handed to a customer, and
the back-office snapshot of one customer. Secrets (passwords, OTP codes, the OTP grid) are
kept out of every ``repr``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import lru_cache


class PayMethod(StrEnum):
    """How a payment is authorised."""

    STATIC = "static"  # payment password only (静态密码)
    OTP = "otp"  # payment password and a code from the OTP card (口令卡)
    UKEY = "ukey"  # U-key (U盾)


class Channel(StrEnum):
    """Where a payment is made."""

    B2C = "b2c"  # a merchant's checkout
    ONLINE_BANKING = "online_banking"  # inside the online-banking session


class CertificateRoute(StrEnum):
    """Who puts the certificate on the U-key."""

    ONLINE = "online"  # the customer, self-service, logged in
    COUNTER = "counter"  # a teller at a branch


@dataclass(frozen=True)
class IdDocument:
    """An identity document shown at a counter."""

    number: str
    expires_on: date

    def valid_for(self, person: str, today: date) -> bool:
        """Whether this is ``person``'s own document and not expired."""
        return self.number == person and self.expires_on >= today


@dataclass(frozen=True)
class UKeyMedium:
    """A physical U-key: its serial number and its maker's brand."""

    serial: str
    brand: str


@dataclass(frozen=True)
class RegistrationRequest:
    """What a customer hands to the counter to register for online banking."""

    customer: str  # the applicant's identity number, the customer's key at the bank
    form_submitted: bool
    agreement_acknowledged: bool
    local_account: bool
    card_to_register: str | None  # card number written on the form (local account)
    card_presented: str | None  # card number of the card physically shown
    card_application_submitted: bool  # card application form (no local account)
    id_document: IdDocument | None
    own_ukey: bool
    ukey_medium: UKeyMedium | None
    login_password: str = field(repr=False)
    payment_password: str = field(repr=False)


@dataclass(frozen=True)
class Registration:
    """The counter's answer to a successful registration."""

    customer: str
    card_number: str
    card_opened: bool


OTP_ROWS = "ABCDEFGH"
OTP_COLUMNS = 10
OTP_CELLS = len(OTP_ROWS) * OTP_COLUMNS
OTP_CELL_DIGITS = 3
OTP_CELLS_PER_CHALLENGE = 2


def cell_name(index: int) -> str:
    """``0`` -> ``"A1"``, ``79`` -> ``"H10"``."""
    return f"{OTP_ROWS[index // OTP_COLUMNS]}{index % OTP_COLUMNS + 1}"


def cell_index(name: str) -> int:
    """Inverse of :func:`cell_name`."""
    return OTP_ROWS.index(name[0]) * OTP_COLUMNS + int(name[1:]) - 1


@lru_cache(maxsize=4096)
def _challenge_cells(serial: str, use_number: int) -> tuple[str, ...]:
    seed = hashlib.sha256(f"{serial}:{use_number}".encode()).digest()
    picked: list[int] = []
    for byte in seed:
        index = byte % OTP_CELLS
        if index not in picked:
            picked.append(index)
        if len(picked) == OTP_CELLS_PER_CHALLENGE:
            break
    return tuple(cell_name(i) for i in picked)


@dataclass(frozen=True)
class OtpChallenge:
    """The cells of the OTP card whose codes a payment asks for, e.g. ``B3 G7``."""

    cells: tuple[str, ...]

    @classmethod
    def for_use(cls, serial: str, use_number: int) -> OtpChallenge:
        """The challenge shown for a card's ``use_number``-th use (distinct cells)."""
        return cls(_challenge_cells(serial, use_number))

    def __str__(self) -> str:
        return " ".join(self.cells)


@dataclass(frozen=True)
class OtpCard:
    """The printed OTP card (电子银行口令卡) a customer takes home: a grid of codes."""

    serial: str
    grid: tuple[str, ...] = field(repr=False)

    def code_for(self, challenge: OtpChallenge) -> str:
        """The code a customer types for ``challenge``: the cells' codes, concatenated."""
        return "".join(self.grid[cell_index(cell)] for cell in challenge.cells)


@dataclass(frozen=True)
class PaymentOrder:
    """A payment as submitted: authenticator, channel, amount (fen) and credentials."""

    method: PayMethod
    channel: Channel
    amount_fen: int
    payment_password: str | None = field(default=None, repr=False)
    otp_code: str | None = field(default=None, repr=False)
    ukey_plugged_in: bool = False
    ukey_pin_verified: bool = False  # the U-key checks its own password and signs, or not

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", PayMethod(self.method))
        object.__setattr__(self, "channel", Channel(self.channel))
        if isinstance(self.amount_fen, bool) or not isinstance(self.amount_fen, int):
            raise ValueError("amounts are whole fen (int)")
        if self.amount_fen < 1:
            raise ValueError("a payment is at least 1 fen")


@dataclass(frozen=True)
class PaymentReceipt:
    """A booked payment."""

    payment_id: int
    method: PayMethod
    channel: Channel
    amount_fen: int


@dataclass(frozen=True)
class CustomerSnapshot:
    """The back office's view of one customer (no secrets)."""

    registered: bool = False
    card_opened: bool = False
    card_number: str | None = None
    session: str | None = None  # None, "restricted" or "full"
    login_password_origin: str | None = None  # None, "counter" or "online"
    payment_password_status: str | None = None  # None, "active" or "invalidated"
    static_status: str | None = None  # None, "active", "exhausted" or "superseded"
    static_spent_fen: int = 0
    otp_status: str | None = None  # None, "issued", "active" or "used_up"
    otp_uses: int = 0
    otp_login_since_issue: bool = False
    ukey_brand: str | None = None
    ukey_driver_installed: bool = False
    ukey_certificate: bool = False
