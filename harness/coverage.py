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

Condition coverage (``record_conditions``, on every step too): each guard of a transition
or refusal is split into its atomic conditions (``semantics.guard_conditions``: the
operands of ``and``/``or``/``implies``, ``not`` stripped); whenever the model *evaluates*
a guard (a refusal in its states, tried in priority order until one decides; a candidate
transition of a machine, tried in spec order until one fires; never a guard the model's
own step does not reach), the value of every condition there is read by the model's own
expressions (``semantics.condition_values``) and the vector of values kept. A condition
is covered *true* and covered *false* when some evaluation had it so; it has an *MC/DC
pair* (unique-cause MC/DC) when two evaluations differ in that condition alone and it
alone decides the guard's value in them (flipping it flips the guard). Once a guard has
all of that for every condition, it is no longer evaluated (the hot path stays cheap), so
what is kept is which values were seen, not how often. A gap that the spec makes
impossible (no state and parameters in which the model evaluates that guard with that
condition so) is proven so by Z3 (``model.checks.condition_possible``) and listed as
``unreachable`` instead of uncovered.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from authspec.model import Outcome
from authspec.model.checks import condition_possible, pair_possible
from authspec.model.ir import System, citation_order
from authspec.model.semantics import (
    CompiledRefusal,
    CompiledTransition,
    GuardConditions,
    Snapshot,
    condition_values,
    guard_conditions,
    semantics_of,
)

from .adapter import Response

OTHERWISE = "<otherwise>"
#: the condition categories, after ``CATEGORIES`` in the summary and coverage.json
CONDITION_CATEGORIES = ("conditions", "mcdc")
#: the seconds the Z3 proofs of one run's condition gaps may take in all
PROOF_BUDGET_S = 5.0
#: the categories counted, in the order of ``Coverage.declared``
CATEGORIES = ("states", "transitions", "rejections", "reasons", "rules", "events")


@dataclass(frozen=True)
class ConditionStatus:
    """One condition of a guard in a run: seen true, seen false, and its MC/DC pair (the
    two condition vectors, differing in this condition alone, that showed it decides)."""

    true: bool
    false: bool
    pair: tuple[tuple[bool | None, ...], tuple[bool | None, ...]] | None


@dataclass(frozen=True)
class ConditionGap:
    """What a run did not show of one condition: its value ``what`` (``"true"`` or
    ``"false"``), or (``"mcdc"``) its MC/DC pair."""

    kind: str  # "transition" | "rejection"
    element: str
    index: int
    source: str
    what: str

    @property
    def id(self) -> str:
        """``element[index]=what``, e.g. ``static_password.pay_beyond_quota[1]=false``."""
        return f"{self.element}[{self.index}]={self.what}"


_Entry = tuple[CompiledRefusal | CompiledTransition, str, GuardConditions | None]
_Plan = tuple[tuple[_Entry, ...], tuple[tuple[int, dict[str, tuple[_Entry, ...]]], ...]]


@cache
def condition_guards(system: System) -> dict[str, tuple[str, GuardConditions]]:
    """Element id -> (``"transition"`` or ``"rejection"``, its guard's conditions), for
    every transition and refusal with a guard, in spec order (compiled once per system)."""
    semantics = semantics_of(system)
    found: dict[str, tuple[str, GuardConditions]] = {}
    for kind, elements in (("transition", system.transitions),
                           ("rejection", system.rejections)):
        for element in elements:
            if element.guard is not None:
                found[element.id] = (kind, guard_conditions(semantics, element.guard.tree))
    return found


@cache
def _impossible(system: System, gap: ConditionGap) -> str | None:
    """Why Z3 finds ``gap`` impossible in the spec, or None (possible, or undecided)."""
    want = gap.what == "true" if gap.what != "mcdc" else None
    if want is not None:
        verdict = condition_possible(system, gap.element, gap.index, want)
        return None if verdict != "unsat" else (
            f"Z3: in no state where the model evaluates this guard is '{gap.source}' "
            f"{gap.what}")
    for value in (True, False):
        if condition_possible(system, gap.element, gap.index, value, deciding=True) == "unsat":
            return (f"Z3: in no state where the model evaluates this guard does "
                    f"'{gap.source}' alone decide it while {str(value).lower()}")
    if pair_possible(system, gap.element, gap.index) == "unsat":
        return (f"Z3: no two states where the model evaluates this guard differ in "
                f"'{gap.source}' alone with it deciding the guard")
    return None


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
    #: spec reason -> refusals compared coarsely (a backend code standing for several
    #: spec reasons, or ``--compare outcome``): see harness/codes.py
    coarse: Tally[str] = field(default_factory=Tally)
    #: element id -> the condition vectors of its guard seen evaluated (see the docstring)
    vectors: dict[str, set[tuple[bool | None, ...]]] = field(default_factory=dict)
    _complete: set[str] = field(default_factory=set, repr=False)
    _plans: dict[str, _Plan] = field(default_factory=dict, repr=False)
    _guards: dict[str, tuple[str, GuardConditions]] | None = field(default=None, repr=False)
    _proven: tuple[tuple[ConditionGap, ...], dict[ConditionGap, str]] | None = field(
        default=None, repr=False)

    def note_comparison(self, expected: Outcome, actual: Response, *,
                        outcome_only: bool) -> None:
        """Count a conforming refusal whose reason was only checked coarsely."""
        if expected.accepted or expected.reason is None:
            return
        if outcome_only or len(actual.stands_for) > 1:
            self.coarse[expected.reason] += 1

    def coarse_only(self) -> list[str]:
        """Spec reasons never checked exactly: only coarsely, every time they came up."""
        return sorted(r for r in self.coarse if self.coarse[r] >= self.reasons.get(r, 0))

    # -- condition coverage -----------------------------------------------------------------
    def record_conditions(self, before: Snapshot, params: Mapping[str, Any],
                          outcome: Outcome) -> None:
        """The condition values of every guard the model evaluated in the step from
        ``before`` with ``params`` that gave ``outcome`` (see the module docstring)."""
        plan = self._plans.get(outcome.event)
        if plan is None:
            plan = self._plans[outcome.event] = self._plan(outcome.event)
        refusals, moves = plan
        states, deciding, done = before.states, outcome.rejection, self._complete
        for refusal, element, conditions in refusals:
            if refusal.sources and states[refusal.machine] not in refusal.sources:
                continue
            if conditions is not None and element not in done:
                self._note(element, conditions, before, params)
            if element == deciding:
                return
        fired = outcome.transitions
        for machine, by_state in moves:
            for _transition, element, conditions in by_state.get(states[machine], ()):
                if conditions is not None and element not in done:
                    self._note(element, conditions, before, params)
                if element in fired:
                    break

    def _note(self, element: str, conditions: GuardConditions, before: Snapshot,
              params: Mapping[str, Any]) -> None:
        seen = self.vectors.setdefault(element, set())
        values = condition_values(conditions, before, params)
        if values not in seen:
            seen.add(values)
            if all(s.true and s.false and s.pair for s in self.condition_status(element)):
                self._complete.add(element)

    def _plan(self, event: str) -> _Plan:
        table = semantics_of(self.system).events[event]
        guards = self.guards()

        def entry(compiled: CompiledRefusal | CompiledTransition) -> _Entry:
            element = (compiled.rejection.id if isinstance(compiled, CompiledRefusal)
                       else compiled.transition.id)
            known = guards.get(element)
            return compiled, element, known[1] if known else None

        refusals = tuple(entry(r) for r in table.refusals)
        moves = tuple((machine, {state: tuple(entry(t) for t in candidates)
                                 for state, candidates in by_state.items()})
                      for machine, by_state in table.moves)
        return refusals, moves

    def guards(self) -> dict[str, tuple[str, GuardConditions]]:
        """See ``condition_guards`` (looked up once: hashing a System is not free)."""
        if self._guards is None:
            self._guards = condition_guards(self.system)
        return self._guards

    def condition_status(self, element: str) -> list[ConditionStatus]:
        """What the run showed of each condition of ``element``'s guard."""
        conditions = self.guards()[element][1]
        seen = self.vectors.get(element, set())
        out = []
        for index in range(len(conditions.conditions)):
            pair = None
            for vector in seen:
                if vector[index] is True and conditions.decides(vector, index):
                    other = (*vector[:index], False, *vector[index + 1:])
                    if other in seen:
                        pair = (vector, other)
                        break
            out.append(ConditionStatus(any(v[index] is True for v in seen),
                                       any(v[index] is False for v in seen), pair))
        return out

    def condition_gaps(self) -> list[ConditionGap]:
        """Every (element, condition, what is missing) the run did not show, in spec
        order; ``what`` is ``"true"``, ``"false"`` or ``"mcdc"``."""
        gaps = []
        for element, (kind, conditions) in self.guards().items():
            for index, status in enumerate(self.condition_status(element)):
                for what, shown in (("true", status.true), ("false", status.false),
                                    ("mcdc", status.pair is not None)):
                    if not shown:
                        gaps.append(ConditionGap(kind, element, index,
                                                 conditions.conditions[index].source, what))
        return gaps

    def unreachable(self) -> dict[ConditionGap, str]:
        """The gaps proven impossible by the spec (Z3), each with why. The proofs of one set
        of gaps take at most ``PROOF_BUDGET_S`` (a short run leaves many gaps: those not
        looked at stay uncovered), and are remembered: every report of the run agrees."""
        gaps = tuple(self.condition_gaps())
        known = self._proven
        if known is not None and known[0] == gaps:
            return known[1]
        deadline = time.monotonic() + PROOF_BUDGET_S
        proven: dict[ConditionGap, str] = {}
        for gap in gaps:
            if time.monotonic() > deadline:
                break
            why = _impossible(self.system, gap)
            if why is not None:
                proven[gap] = why
        self._proven = (gaps, proven)
        return proven

    def condition_summary(self) -> dict[str, tuple[int, int, int]]:
        """``"conditions"`` (each value of each condition) and ``"mcdc"`` (each condition)
        -> (covered, declared, proven unreachable)."""
        gaps = self.condition_gaps()
        proven = self.unreachable()
        count = sum(len(c.conditions) for _kind, c in self.guards().values())
        values = [g for g in gaps if g.what != "mcdc"]
        pairs = [g for g in gaps if g.what == "mcdc"]
        return {"conditions": (2 * count - len(values), 2 * count,
                               sum(1 for g in values if g in proven)),
                "mcdc": (count - len(pairs), count, sum(1 for g in pairs if g in proven))}

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
