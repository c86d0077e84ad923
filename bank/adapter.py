"""Conformance adapter for the reference bank: the spec's vocabulary in, bank calls out.

``BankAdapter`` plays one customer at the counter and at the keyboard. It turns each spec
event (names and parameters as in ``specs/system.yaml``) into a call of the bank's domain
API, turns a :class:`~authspec.bank.errors.BankError` into ``Response.rejected(code)``, and
reads back from the bank's database, through its back-office snapshot, the state of each
spec machine. Symbolic parameters become concrete objects: ``id_document: expired`` is the
customer's own ID card with a past expiry date, ``card: other_card`` a card number that is
not the registered one, ``otp_code_correct: true`` the code printed on the customer's OTP
card for the challenge the bank shows, and so on.

Name it on a command line as ``authspec.bank.adapter:make_adapter``. By default the bank
uses a low PBKDF2 iteration count and no fsync (test mode): see ``make_adapter``.

Several customers (a spec with ``entities: {customer: [alice, bob]}``, e.g.
``examples/two_customers``): the adapter maps each declared instance, in order, to a real
customer of the one bank (their own identity number, local card, U-key and wallet; see
``CUSTOMERS``), takes the implicit ``customer`` parameter of each event to choose who acts,
and observes every customer under the instance's machine names (``session[alice]``,
``static_password[bob].spent``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from authspec.bank.core import Bank
from authspec.bank.domain import (
    CertificateRoute,
    CustomerSnapshot,
    IdDocument,
    OtpCard,
    PaymentOrder,
    RegistrationRequest,
    UKeyMedium,
)
from authspec.bank.errors import BankError
from authspec.bank.passwords import TEST_KDF_ITERATIONS
from authspec.harness.adapter import Observation, Response

CUSTOMER = "110101199001011234"  # the customer's identity number
OTHER_PERSON = "310101198505054321"  # somebody else's identity number
LOCAL_CARD = "6212260200001234567"  # the customer's card at a local account
OTHER_CARD = "6212260299998765432"  # a card that is not the registered one
OWN_UKEY_SERIAL = "OWNUK0001"
VALID_UNTIL = date(2099, 12, 31)
EXPIRED_ON = date(2001, 1, 1)

ID_DOCUMENTS = ("valid", "expired", "other_person", "none")
CARDS = ("registered_card", "other_card", "none")
BRANDS = ("brand_a", "brand_b")
PAY_METHODS = ("static", "otp", "ukey")
CHANNELS = ("b2c", "online_banking")
ROUTES = ("online", "counter")

#: The real customers that a spec's instances stand for, in order: identity number, the
#: card of their local account, the serial of their own U-key.
CUSTOMERS: tuple[tuple[str, str, str], ...] = (
    (CUSTOMER, LOCAL_CARD, OWN_UKEY_SERIAL),
    ("110101199202023456", "6212260200007654321", "OWNUK0002"),
    ("110101199303034567", "6212260200001112223", "OWNUK0003"),
    ("110101199404045678", "6212260200004445556", "OWNUK0004"),
)
#: The entity kind whose instances are the bank's customers.
CUSTOMER_KIND = "customer"

ParamKind = type | tuple[str, ...]

EVENT_PARAMS: dict[str, dict[str, ParamKind]] = {
    "register": {
        "local_account": bool,
        "registration_form": bool,
        "agreement_acknowledged": bool,
        "card_application_form": bool,
        "id_document": ID_DOCUMENTS,
        "card": CARDS,
        "own_ukey": bool,
        "ukey_presented": bool,
        "ukey_brand": BRANDS,
        "initial_login_password": str,
        "initial_payment_password": str,
    },
    "login": {"password": str},
    "logout": {},
    "change_login_password": {"old": str, "new": str},
    "reset_login_password": {"id_document": ID_DOCUMENTS, "card": CARDS, "new": str},
    "change_payment_password": {"old": str, "new": str},
    "set_payment_password": {"new": str},
    "reset_payment_password": {"id_document": ID_DOCUMENTS, "card": CARDS},
    "apply_otp_card": {"id_document": ID_DOCUMENTS, "card": CARDS, "business_form": bool,
                       "ecommerce_declared": bool},
    "activate_otp_card": {},
    "apply_ukey": {"id_document": ID_DOCUMENTS, "card": CARDS, "business_form": bool,
                   "ecommerce_declared": bool, "brand": BRANDS},
    "install_driver": {"brand": BRANDS},
    "download_certificate": {"route": ROUTES, "ukey_connected": bool},
    "pay": {
        "method": PAY_METHODS,
        "channel": CHANNELS,
        "amount": int,
        "password": str,
        "otp_code_correct": bool,
        "ukey_connected": bool,
        "ukey_password_correct": bool,
    },
}


def check_params(event: str, params: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``params`` are exactly the event's parameters, well typed."""
    if event not in EVENT_PARAMS:
        raise ValueError(f"unknown event {event!r}")
    declared = EVENT_PARAMS[event]
    missing = sorted(set(declared) - set(params))
    extra = sorted(set(params) - set(declared))
    if missing or extra:
        raise ValueError(f"{event}: missing parameters {missing}, unknown parameters {extra}")
    for name, kind in declared.items():
        value = params[name]
        if isinstance(kind, tuple):
            ok = value in kind
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise ValueError(f"{event}: parameter {name}={value!r} is not a valid {kind}")


@dataclass
class Wallet:
    """What the customer carries home: the registered card and the OTP card.

    The bank keeps only digests of the OTP card's codes, so the printed card exists only
    here. A wallet is kept between adapters on the same database in a drawer beside it
    (``<database>.wallet.json``, readable by its owner only), as a customer keeps the card
    at home; the bank never reads that file.
    """

    card_number: str | None = None
    otp_card: OtpCard | None = None

    def to_json(self) -> str:
        card = self.otp_card
        otp = None if card is None else {"serial": card.serial, "grid": list(card.grid)}
        return json.dumps({"card_number": self.card_number, "otp_card": otp})

    @classmethod
    def from_json(cls, text: str) -> Wallet:
        data = json.loads(text)
        otp = data.get("otp_card")
        card = None if otp is None else OtpCard(otp["serial"], tuple(otp["grid"]))
        return cls(card_number=data.get("card_number"), otp_card=card)


def drawer_of(database: Path) -> Path:
    """Where the customer's wallet is kept between adapters on ``database``."""
    return database.with_name(database.name + ".wallet.json")


@dataclass
class Customer:
    """One real customer the adapter plays: who they are and what they carry."""

    instance: str  # the spec's name for them ("" for the one customer of a plain spec)
    id_number: str
    local_card: str
    ukey_serial: str
    drawer: Path
    wallet: Wallet

    @classmethod
    def at(cls, database: Path, instance: str, index: int) -> Customer:
        id_number, card, serial = CUSTOMERS[index]
        drawer = drawer_of(database) if not instance else database.with_name(
            f"{database.name}.{instance}.wallet.json")
        try:
            wallet = Wallet.from_json(drawer.read_text(encoding="utf-8"))
        except FileNotFoundError:
            wallet = Wallet()
        return cls(instance, id_number, card, serial, drawer, wallet)


class BankAdapter:
    """The harness's view of one customer of a :class:`Bank` (or of a mutant of it), or of
    several (``customers``: the spec's instance names, one real customer each)."""

    def __init__(self, bank: Bank, *, temp_dir: Path | None = None,
                 customers: tuple[str, ...] = ()) -> None:
        if len(customers) > len(CUSTOMERS):
            raise ValueError(f"the adapter plays at most {len(CUSTOMERS)} customers, "
                             f"the spec declares {len(customers)}")
        self.bank = bank
        self._temp_dir = temp_dir
        self._customers = [Customer.at(bank.path, name, i)
                           for i, name in enumerate(customers or ("",))]
        self._by_instance = {c.instance: c for c in self._customers}
        self._who = self._customers[0]
        self._handlers: dict[str, Callable[[Mapping[str, Any]], None]] = {
            "register": self._register,
            "login": self._login,
            "logout": self._logout,
            "change_login_password": self._change_login_password,
            "reset_login_password": self._reset_login_password,
            "change_payment_password": self._change_payment_password,
            "set_payment_password": self._set_payment_password,
            "reset_payment_password": self._reset_payment_password,
            "apply_otp_card": self._apply_otp_card,
            "activate_otp_card": self._activate_otp_card,
            "apply_ukey": self._apply_ukey,
            "install_driver": self._install_driver,
            "download_certificate": self._download_certificate,
            "pay": self._pay,
        }

    def __repr__(self) -> str:
        return f"BankAdapter({self.bank!r})"

    @property
    def _wallet(self) -> Wallet:
        return self._who.wallet

    @property
    def _drawer(self) -> Path:
        return self._who.drawer

    @property
    def _customer(self) -> str:
        return self._who.id_number

    # ------------------------------------------------------------------ protocol

    def reset(self) -> None:
        """A fresh bank: no customers, nothing spent; the customers' pockets emptied."""
        self.bank.reset()
        for customer in self._customers:
            customer.wallet = Wallet()
            customer.drawer.unlink(missing_ok=True)

    def perform(self, event: str, params: Mapping[str, Any]) -> Response:
        """Carry out one spec event; a bank refusal becomes ``Response.rejected(code)``.

        With several customers, ``params['customer']`` says who acts."""
        if len(self._customers) > 1 or CUSTOMER_KIND in params:
            params = dict(params)
            who = params.pop(CUSTOMER_KIND, None)
            if who not in self._by_instance:
                raise ValueError(f"{event}: customer={who!r} is not one of "
                                 f"{', '.join(self._by_instance)}")
            self._who = self._by_instance[who]
        check_params(event, params)
        try:
            self._handlers[event](params)
        except BankError as refusal:
            return Response.rejected(refusal.code.value)
        return Response.ok()

    def observe(self) -> Observation:
        """The state of every spec machine, as the bank's database tells it."""
        if not self._customers[0].instance:
            return observation_of(self.bank.snapshot(self._customer))
        states: dict[str, str] = {}
        variables: dict[str, Any] = {}
        for customer in self._customers:
            seen = observation_of(self.bank.snapshot(customer.id_number))
            suffix = f"[{customer.instance}]"
            states.update({m + suffix: state for m, state in seen.states.items()})
            for name, value in seen.variables.items():
                machine, variable = name.split(".", 1)
                variables[f"{machine}{suffix}.{variable}"] = value
        return Observation(states=states, variables=variables)

    def close(self) -> None:
        """Close the database; remove it if it lives in a temporary directory of ours.

        The customers' wallets go into drawers beside a database that stays.
        """
        self.bank.close()
        for customer in self._customers:
            if self._temp_dir is None and customer.wallet != Wallet():
                customer.drawer.touch(mode=0o600)
                customer.drawer.write_text(customer.wallet.to_json(), encoding="utf-8")
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    # ------------------------------------------------------------------ concrete objects

    def _id_document(self, kind: str) -> IdDocument | None:
        if kind == "valid":
            return IdDocument(self._customer, VALID_UNTIL)
        if kind == "expired":
            return IdDocument(self._customer, EXPIRED_ON)
        if kind == "other_person":
            return IdDocument(OTHER_PERSON, VALID_UNTIL)
        return None

    def _registered_card(self) -> str:
        if self._wallet.card_number is None:
            self._wallet.card_number = self.bank.snapshot(self._customer).card_number
        return self._wallet.card_number or self._who.local_card

    def _card(self, kind: str) -> str | None:
        if kind == "registered_card":
            return self._registered_card()
        if kind == "other_card":
            return OTHER_CARD
        return None

    def _otp_code(self, correct: bool) -> str:
        challenge = self.bank.otp_challenge(self._customer)
        card = self._wallet.otp_card
        if challenge is None or card is None:
            return "000000"
        code = card.code_for(challenge)
        return code if correct else "".join(str((int(d) + 1) % 10) for d in code)

    # ------------------------------------------------------------------ events

    def _register(self, p: Mapping[str, Any]) -> None:
        local = p["local_account"]
        who = self._who
        presented = {"registered_card": who.local_card, "other_card": OTHER_CARD}.get(p["card"])
        medium = UKeyMedium(who.ukey_serial, p["ukey_brand"]) if p["ukey_presented"] else None
        request = RegistrationRequest(
            customer=self._customer,
            form_submitted=p["registration_form"],
            agreement_acknowledged=p["agreement_acknowledged"],
            local_account=local,
            card_to_register=self._who.local_card if local else None,
            card_presented=presented,
            card_application_submitted=p["card_application_form"],
            id_document=self._id_document(p["id_document"]),
            own_ukey=p["own_ukey"],
            ukey_medium=medium,
            login_password=p["initial_login_password"],
            payment_password=p["initial_payment_password"],
        )
        registration = self.bank.register_customer(request)
        self._wallet.card_number = registration.card_number

    def _login(self, p: Mapping[str, Any]) -> None:
        self.bank.login(self._customer, p["password"])

    def _logout(self, p: Mapping[str, Any]) -> None:
        self.bank.logout(self._customer)

    def _change_login_password(self, p: Mapping[str, Any]) -> None:
        self.bank.change_login_password(self._customer, p["old"], p["new"])

    def _reset_login_password(self, p: Mapping[str, Any]) -> None:
        self.bank.reset_login_password_at_counter(
            self._customer, self._id_document(p["id_document"]), self._card(p["card"]), p["new"]
        )

    def _change_payment_password(self, p: Mapping[str, Any]) -> None:
        self.bank.change_payment_password(self._customer, p["old"], p["new"])

    def _set_payment_password(self, p: Mapping[str, Any]) -> None:
        self.bank.set_payment_password(self._customer, p["new"])

    def _reset_payment_password(self, p: Mapping[str, Any]) -> None:
        self.bank.reset_payment_password_at_counter(
            self._customer, self._id_document(p["id_document"]), self._card(p["card"])
        )

    def _apply_otp_card(self, p: Mapping[str, Any]) -> None:
        self._wallet.otp_card = self.bank.apply_otp_card(
            self._customer, self._id_document(p["id_document"]), self._card(p["card"]),
            business_form=p["business_form"], ecommerce_declared=p["ecommerce_declared"],
        )

    def _activate_otp_card(self, p: Mapping[str, Any]) -> None:
        self.bank.activate_otp_card(self._customer)

    def _apply_ukey(self, p: Mapping[str, Any]) -> None:
        self.bank.apply_ukey(
            self._customer, self._id_document(p["id_document"]), self._card(p["card"]), p["brand"],
            business_form=p["business_form"], ecommerce_declared=p["ecommerce_declared"],
        )

    def _install_driver(self, p: Mapping[str, Any]) -> None:
        self.bank.install_ukey_driver(self._customer, p["brand"])

    def _download_certificate(self, p: Mapping[str, Any]) -> None:
        self.bank.download_certificate(
            self._customer, CertificateRoute(p["route"]), p["ukey_connected"]
        )

    def _pay(self, p: Mapping[str, Any]) -> None:
        otp_code = self._otp_code(p["otp_code_correct"]) if p["method"] == "otp" else None
        order = PaymentOrder(
            method=p["method"],
            channel=p["channel"],
            amount_fen=p["amount"],
            payment_password=p["password"],
            otp_code=otp_code,
            ukey_plugged_in=p["ukey_connected"],
            ukey_pin_verified=p["ukey_password_correct"],
        )
        self.bank.pay(self._customer, order)


def observation_of(snap: CustomerSnapshot) -> Observation:
    """The bank's back-office snapshot in the spec's machine, state and variable names."""
    states = {
        "account": "registered" if snap.registered else "unregistered",
        "session": {None: "logged_out", "restricted": "restricted", "full": "logged_in"}[
            snap.session
        ],
        "login_password": {None: "unset", "counter": "counter_set", "online": "customer_set"}[
            snap.login_password_origin
        ],
        "payment_password": snap.payment_password_status or "unset",
        "static_password": snap.static_status or "unavailable",
        "otp_card": snap.otp_status or "none",
        "ukey": _ukey_state(snap),
    }
    variables: dict[str, Any] = {
        "account.card_opened": snap.card_opened,
        "static_password.spent": snap.static_spent_fen,
        "otp_card.uses": snap.otp_uses,
        "otp_card.login_since_issue": snap.otp_login_since_issue,
    }
    if snap.ukey_brand is not None:  # no U-key, no brand to tell
        variables["ukey.key_brand"] = snap.ukey_brand
    return Observation(states=states, variables=variables)


def _ukey_state(snap: CustomerSnapshot) -> str:
    if snap.ukey_brand is None:
        return "none"
    if snap.ukey_driver_installed and snap.ukey_certificate:
        return "ready"
    if snap.ukey_driver_installed:
        return "driver_installed"
    if snap.ukey_certificate:
        return "certificate_only"
    return "issued"


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def make_adapter(
    path: str | None = None, *, system: object = None, specs: object = None, **options: Any
) -> BankAdapter:
    """A :class:`BankAdapter` over a :class:`Bank` stored in the SQLite file ``path``.

    With ``path=None`` the file lives in a fresh temporary directory, removed by
    ``close()``. ``specs``, which the harness offers every factory, is ignored: the bank is
    written by hand and never reads the specification. Of ``system`` the adapter reads only
    the names of the ``customer`` instances, if the spec declares any, to map each to a
    real customer.
    Options (strings from a command line are accepted):

    * ``kdf_iterations`` (default ``TEST_KDF_ITERATIONS`` = 32): PBKDF2 work factor. The
      bank's own default is production strength (600 000); the adapter uses a low count so
      that a conformance run makes thousands of operations per second.
    * ``durable`` (default false): fsync every commit (``synchronous=FULL``).
    * ``bank_class`` (default :class:`Bank`): the bank implementation, e.g. a mutant.
    * ``clock``: a callable returning the current, timezone-aware time.
    * ``customers``: the instance names to play (a comma-separated string from a command
      line), when no ``system`` says them.
    """
    bank_class: type[Bank] = options.pop("bank_class", Bank)
    kdf_iterations = int(options.pop("kdf_iterations", TEST_KDF_ITERATIONS))
    durable = _as_bool(options.pop("durable", False))
    clock = options.pop("clock", None)
    customers = _customers(system, options.pop("customers", ""))
    del specs  # deliberately unused
    if options:
        raise TypeError(f"unknown adapter options: {sorted(options)}")
    temp_dir: Path | None = None
    if path is None:
        temp_dir = Path(tempfile.mkdtemp(prefix="authspec-bank-"))
        db_path = temp_dir / "bank.sqlite3"
    else:
        db_path = Path(path)
    bank = bank_class(db_path, kdf_iterations=kdf_iterations, durable=durable, clock=clock)
    return BankAdapter(bank, temp_dir=temp_dir, customers=customers)


def _customers(system: object, given: str | tuple[str, ...]) -> tuple[str, ...]:
    """The customer instances of the spec (``system.entities``), else those given."""
    for entity in getattr(system, "entities", ()):
        if entity.kind == CUSTOMER_KIND:
            return tuple(entity.instances)
    if isinstance(given, str):
        return tuple(name.strip() for name in given.split(",") if name.strip())
    return tuple(given)
