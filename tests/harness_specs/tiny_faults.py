"""A team's own fault-injected builds of the tiny card (tests/harness_specs/tiny), for the
tests of ``--backend-option``, ``authspec mutants --set module:NAME``, the rules cited for a
diverging observation, per-state observe exclusions and the wording of backend errors.

``make_card`` takes options (``min_pin``, ``limit``); ``make_faulty(fault)`` builds the
card with one named fault; ``MUTANTS`` is the same faults as a sequence of mutants. Each
class is its own factory (``--backend tiny_faults.py:IssueCountsAsUse``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authspec.harness.adapter import Observation, Response

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from adapters import TinyCard


def make_card(min_pin: int = 6, *, limit: int = 10000, system: object = None) -> TinyCard:
    """The tiny card with its PIN length and spending limit as options."""
    card = TinyCard()
    card.MIN_PIN, card.LIMIT = min_pin, limit
    return card


class IssueCountsAsUse(TinyCard):
    """Reports one use more than made, once a card is issued (answers stay right)."""

    def observe(self) -> Observation:
        seen = super().observe()
        extra = 1 if self.card != "none" else 0
        return Observation(seen.states, {**seen.variables, "card.uses": self.uses + extra})


class ForgetsSpentWhenFull(TinyCard):
    """Reports 0 spent once the wallet is full (answers stay right)."""

    def observe(self) -> Observation:
        seen = super().observe()
        spent = 0 if seen.states["wallet"] == "full" else self.spent
        return Observation(seen.states, {**seen.variables, "wallet.spent": spent})


class OffWhileOpen(TinyCard):
    """Reports one fen too many spent while the wallet is open (answers stay right)."""

    def observe(self) -> Observation:
        seen = super().observe()
        off = 1 if seen.states["wallet"] == "open" and self.spent else 0
        return Observation(seen.states, {**seen.variables, "wallet.spent": self.spent + off})


class FailsAtOnce(TinyCard):
    """Raises at the first event."""

    def perform(self, event: str, params: Any) -> Response:
        raise RuntimeError("the service is down")


class ObserveFails(TinyCard):
    """Answers every event, then fails to report its state."""

    def observe(self) -> Observation:
        raise RuntimeError("no state to report")


class ResetFails(TinyCard):
    """Starts, then cannot be reset for an example."""

    def __init__(self) -> None:
        super().__init__()
        self.started = True

    def reset(self) -> None:
        if getattr(self, "started", False):
            raise RuntimeError("cannot clear the store")
        super().reset()


class BeyondLimit(TinyCard):
    """Lets the wallet go one fen over its limit."""

    LIMIT = 10001


FAULTS: dict[str, Callable[[], TinyCard]] = {
    "weak_pin": lambda: make_card(5),
    "beyond_limit": BeyondLimit,
    "issue_counts_as_use": IssueCountsAsUse,
    "none": TinyCard,
}


def make_faulty(fault: str, *, limit: int = 10000) -> TinyCard:
    """The card with the fault named (``none``: the correct card)."""
    card = FAULTS[fault]()
    if limit != 10000:
        card.LIMIT = limit
    return card


@dataclass(frozen=True)
class OurMutant:
    name: str
    rules: tuple[str, ...]
    factory: Callable[..., TinyCard]


MUTANTS = (
    OurMutant("weak_pin", ("R1",), FAULTS["weak_pin"]),
    OurMutant("beyond_limit", ("R3",), BeyondLimit),
)

#: a set whose second item is no mutant at all
BROKEN = (OurMutant("weak_pin", ("R1",), FAULTS["weak_pin"]), object())
