"""Hand-written adapters over the tiny spec (tests/harness_specs/tiny), for the harness tests.

``TinyCard`` is an independent implementation of the tiny spec (no model inside); each
``make_*`` factory returns it as written or with one deliberate fault, or an adapter
that misbehaves as a backend (raises, hangs, answers garbage).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from authspec.harness.adapter import Observation, Response


def _pin_ok(pin: str, min_length: int = 6) -> bool:
    return (min_length <= len(pin) <= 12 and pin.isascii() and pin.isalnum()
            and any(c.isdigit() for c in pin) and any(c.isalpha() for c in pin))


class TinyCard:
    """The tiny spec by hand: a card good for 1000 uses with a PIN, a 100 yuan wallet."""

    MIN_PIN = 6
    LAST_USE = 1000
    LIMIT = 10000

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.card = "none"
        self.uses = 0
        self.pin = ""
        self.spent = 0

    def perform(self, event: str, params: Mapping[str, Any]) -> Response:
        return getattr(self, f"_{event}")(**params)

    def _issue(self, pin: str) -> Response:
        if self.card != "none":
            return Response.rejected("already_issued")
        if not _pin_ok(pin, self.MIN_PIN):
            return Response.rejected("weak_pin")
        self.card, self.pin, self.uses = "active", pin, 0
        return Response.ok()

    def _use(self, pin: str) -> Response:
        if self.card == "none":
            return Response.rejected("no_card")
        if self.card == "used_up":
            return Response.rejected("used_up")
        if pin != self.pin:
            return Response.rejected("wrong_pin")
        self.uses += 1
        if self.uses >= self.LAST_USE:
            self.card = "used_up"
        return Response.ok()

    def _spend(self, amount: int) -> Response:
        if self.spent >= self.LIMIT or self.spent + amount > self.LIMIT:
            return Response.rejected("over_limit")
        self.spent += amount
        return Response.ok()

    def observe(self) -> Observation:
        return Observation(
            states={"card": self.card, "wallet": "full" if self.spent >= self.LIMIT else "open"},
            variables={"card.uses": self.uses, "wallet.spent": self.spent})


class WeakPin(TinyCard):
    """Accepts a 5-character PIN."""

    MIN_PIN = 5


class Uses1001(TinyCard):
    """Retires the card after 1001 uses."""

    LAST_USE = 1001


class Uses999(TinyCard):
    """Retires the card after 999 uses."""

    LAST_USE = 999


class WrongObservation(TinyCard):
    """Answers right but reports the wallet one fen off."""

    def observe(self) -> Observation:
        seen = super().observe()
        return Observation(seen.states, {**seen.variables,
                                         "wallet.spent": self.spent + (self.spent > 0)})


class Raising(TinyCard):
    def _use(self, pin: str) -> Response:
        raise RuntimeError("database is locked")


class Hanging(TinyCard):
    def _use(self, pin: str) -> Response:
        time.sleep(30)
        return Response.ok()


class Garbage(TinyCard):
    def _use(self, pin: str) -> Any:
        return "OK"


def make_tiny() -> TinyCard:
    return TinyCard()


def make_weak_pin() -> TinyCard:
    return WeakPin()


def make_uses_1001() -> TinyCard:
    return Uses1001()


def make_uses_999() -> TinyCard:
    return Uses999()


def make_wrong_observation() -> TinyCard:
    return WrongObservation()


def make_raising() -> TinyCard:
    return Raising()


def make_hanging() -> TinyCard:
    return Hanging()


def make_garbage() -> TinyCard:
    return Garbage()
