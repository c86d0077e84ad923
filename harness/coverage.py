"""Coverage of a conformance run, keyed by the IR's own ids.

Counted on every event the model processes during the run (generation, replay of saved
failures and shrinking alike):

``states``       ``"machine.state"`` -> how often a machine was found in that state after a
                 step (the initial configuration counts once per reset);
``transitions``  transition id (``"static_password.pay_within_quota"``) -> times taken;
``rejections``   rejection id (``"static_password.pay_beyond_quota"``) -> times it decided
                 a refusal; refusals by the system's ``otherwise`` reason count under
                 ``"<otherwise>"``;
``reasons``      reason code -> refusals with that code;
``rules``        rule or question ID -> steps whose deciding transitions/rejection cite it;
``events``       event -> ``{"sent", "accepted", "rejected"}``.

``runfiles.write_coverage`` writes it as ``coverage.json`` with, per category, the declared
ids never exercised (``uncovered``) and the totals; docs/harness.md documents the file.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Mapping
from dataclasses import dataclass, field

from authspec.model import Outcome
from authspec.model.ir import System, citation_order

OTHERWISE = "<otherwise>"
#: the categories counted, in the order of ``Coverage.declared``
CATEGORIES = ("states", "transitions", "rejections", "reasons", "rules", "events")


@dataclass
class Coverage:
    """The counts of one run (see the module docstring), against the spec's declared ids."""

    system: System
    states: Tally[str] = field(default_factory=Tally)
    transitions: Tally[str] = field(default_factory=Tally)
    rejections: Tally[str] = field(default_factory=Tally)
    reasons: Tally[str] = field(default_factory=Tally)
    rules: Tally[str] = field(default_factory=Tally)
    events: dict[str, Tally[str]] = field(default_factory=dict)
    steps: int = 0
    examples: int = 0

    def start(self, configuration: dict[str, str]) -> None:
        self.examples += 1
        self.states.update(f"{m}.{s}" for m, s in configuration.items())

    def record(self, outcome: Outcome, configuration: Mapping[str, str]) -> None:
        self.steps += 1
        tally = self.events.setdefault(outcome.event, Tally())
        tally["sent"] += 1
        if outcome.accepted:
            tally["accepted"] += 1
            self.transitions.update(outcome.transitions)
        else:
            tally["rejected"] += 1
            self.rejections[outcome.rejection or OTHERWISE] += 1
            self.reasons[outcome.reason or ""] += 1
        self.rules.update(outcome.rules)
        self.states.update(f"{m}.{s}" for m, s in configuration.items())

    # -- declared universe -----------------------------------------------------------------
    def declared(self) -> dict[str, list[str]]:
        system = self.system
        cited = sorted({r for t in system.transitions for r in t.rules}
                       | {r for j in system.rejections for r in j.rules}, key=citation_order)
        return {
            "states": [f"{m.name}.{s.name}" for m in system.machines for s in m.states],
            "transitions": [t.id for t in system.transitions],
            "rejections": [r.id for r in system.rejections],
            "reasons": sorted({r.reason for r in system.rejections} | {system.otherwise}),
            "rules": cited,
            "events": [e.name for e in system.events],
        }

    def summary(self) -> dict[str, tuple[int, int]]:
        """Category -> (covered, declared)."""
        out = {}
        for category, ids in self.declared().items():
            counts = self._counts(category)
            out[category] = (sum(1 for i in ids if counts.get(i)), len(ids))
        return out

    def _counts(self, category: str) -> dict[str, int]:
        if category == "events":
            return {e: t["sent"] for e, t in self.events.items()}
        return dict(getattr(self, category))

    def uncovered(self, category: str) -> list[str]:
        counts = self._counts(category)
        return [i for i in self.declared()[category] if not counts.get(i)]
