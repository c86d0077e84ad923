"""Condition goals: the sweep's targets for what condition coverage still lacks.

After the sweep of every transition and refusal, ``coverage.condition_gaps`` lists each
condition of a guard not yet seen true, or false, or without its MC/DC pair (see
coverage.py). Each gap is a
``Goal("condition", element, event, index, what)``: the roadmap (roadmap.py) finds the
first state, breadth first, where it can happen (so the shortest route of the roadmap's,
rare contexts included: the restricted session after a counter reset, the 1000th use of a
card), and the sweep drives the route and sends the parameters found here.

A gap can happen in a state when parameters exist, found by ``Analysis.repair`` from the
roadmap's defaults, under which the model *evaluates* the element's guard (nothing of
higher priority decides first: see ``blockers``) with the condition as wanted; for an MC/DC
gap, two such parameter sets, differing in that condition alone, with it alone deciding
the guard (unique-cause MC/DC).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import combinations
from typing import TYPE_CHECKING, Any

from authspec.model import Executable, Snapshot
from authspec.model.expr import ParamRef, walk
from authspec.model.semantics import (
    CompiledRefusal,
    CompiledTransition,
    GuardConditions,
    condition_values,
)

from .coverage import Coverage, condition_guards
from .strategies import MISS, Analysis, Memory, candidates

if TYPE_CHECKING:
    from .roadmap import Goal, Roadmap


def condition_goals(coverage: Coverage) -> list[Goal]:
    """A goal for every condition gap of ``coverage`` not proven impossible by Z3
    (``Coverage.unreachable``: the proofs the reports give, remembered), in spec order.
    Left out, the impossible gaps cost the roadmap nothing: it would look for each of them
    in every state it explores, and the sweep's deadline would pass before the deep
    states (the 999th use of a card, then a U-key) are reached."""
    from .roadmap import Goal

    system = coverage.system
    events = {t.id: t.event for t in system.transitions}
    events.update((r.id, r.event) for r in system.rejections)
    proven = coverage.unreachable()
    return [Goal("condition", gap.element, events[gap.element], gap.index, gap.what)
            for gap in coverage.condition_gaps() if gap not in proven]


def still_missing(coverage: Coverage, goal: Goal) -> bool:
    """Whether the run has still not shown what ``goal`` asks for."""
    status = coverage.condition_status(goal.id)[goal.index]
    if goal.what == "mcdc":
        return status.pair is None
    return not (status.true if goal.what == "true" else status.false)


_GUARDS: dict[int, tuple[Analysis, dict[str, tuple[str, GuardConditions]]]] = {}


def _guards(analysis: Analysis) -> dict[str, tuple[str, GuardConditions]]:
    """``condition_guards`` of the analysis's system, remembered by identity (the scores
    below run thousands of times, and hashing a System is not free)."""
    known = _GUARDS.get(id(analysis))
    if known is None or known[0] is not analysis:
        known = _GUARDS[id(analysis)] = (analysis, condition_guards(analysis.system))
    return known[1]


def _holds(compiled: CompiledRefusal | CompiledTransition, params: Mapping[str, Any],
           snapshot: Snapshot) -> bool:
    guard = compiled.guard
    if guard is None:
        return True
    try:
        return bool(guard(params, snapshot.values, snapshot.states))
    except Exception:  # a guard that cannot be evaluated with these parameters: no
        return False


def blockers(analysis: Analysis, event: str, element: str, params: Mapping[str, Any],
             snapshot: Snapshot) -> int | None:
    """How many refusals (and, for a transition, transitions of its machine listed before
    it) would decide before the model evaluates ``element``'s guard; None when the model
    never evaluates it in this state (its machine is not in one of its states)."""
    table = analysis.semantics.table(event)
    states = snapshot.states
    count = 0
    for refusal in table.refusals:
        if refusal.rejection.id == element:
            return count if refusal.in_source(states) else None
        if refusal.in_source(states):
            count += _holds(refusal, params, snapshot)
    for machine, by_state in table.moves:
        earlier = 0
        for transition in by_state.get(states[machine], ()):
            if transition.transition.id == element:
                return count + earlier
            earlier += _holds(transition, params, snapshot)
    return None


def _deciding_distance(conditions: GuardConditions, values: tuple[bool | None, ...],
                       index: int) -> int:
    """The fewest other conditions to flip so that condition ``index`` alone decides."""
    others = [i for i in range(len(values)) if i != index]
    known = tuple(bool(v) for v in values)
    for size in range(len(others) + 1):
        for flipped in combinations(others, size):
            trial = tuple(not v if i in flipped else v for i, v in enumerate(known))
            if conditions.decides(trial, index):
                return size + sum(1 for i in others if values[i] is None)
    return len(others) + 1


def condition_score(analysis: Analysis, goal: Goal, want: bool, params: Mapping[str, Any],
                    snapshot: Snapshot, *, deciding: bool,
                    like: tuple[bool | None, ...] | None = None) -> int:
    """How far ``params`` are from the model evaluating ``goal``'s guard with condition
    ``goal.index`` equal to ``want`` (0: there), and with ``deciding``, that condition alone
    deciding it, every other condition as in ``like`` (when given)."""
    blocked = blockers(analysis, goal.event, goal.id, params, snapshot)
    if blocked is None:
        return MISS * MISS
    conditions = _guards(analysis)[goal.id][1]
    values = condition_values(conditions, snapshot, params)
    missing = int(values[goal.index] is not want)
    if deciding:
        missing += _deciding_distance(conditions, values, goal.index)
    if like is not None:
        missing += sum(1 for i, v in enumerate(values) if i != goal.index and v != like[i])
    # The condition first, then what would decide before it (as ``Analysis.score``).
    return blocked + MISS * missing


def condition_params(roadmap: Roadmap, analysis: Analysis, model: Executable, goal: Goal,
                     memory: Memory, want: bool, *, deciding: bool = False,
                     start: Mapping[str, Any] | None = None,
                     like: tuple[bool | None, ...] | None = None) -> dict[str, Any] | None:
    """Parameters under which the model evaluates ``goal``'s guard in its current state
    with the condition equal to ``want`` (see ``condition_score``), or None."""
    snapshot = model.current
    options = candidates(analysis, model, goal.event, memory)
    first = dict(start) if start is not None else _evaluating(roadmap, analysis, model, goal,
                                                              options)

    def score(params: Mapping[str, Any]) -> int:
        return condition_score(analysis, goal, want, params, snapshot, deciding=deciding,
                               like=like)

    params = analysis.repair(model, goal.event, first, options, goal_score=score)
    if 0 < score(params) < MISS:
        params = _restarted(analysis, model, goal, first, options, score) or params
    return params if score(params) == 0 else None


def _restarted(analysis: Analysis, model: Executable, goal: Goal, first: Mapping[str, Any],
               options: Mapping[str, list[Any]], score: Callable[[Mapping[str, Any]], int]
               ) -> dict[str, Any] | None:
    """The repair again from ``first`` with a parameter the goal's condition reads fixed
    to each of its other candidates in turn (the others repaired), or None. For a repair
    stuck where the condition is as wanted but a refusal decides first: ``method == 'otp'``
    made false by a static payment (refused: superseded), where a U-key payment, with its
    own parameters repaired, would have been evaluated."""
    node = _guards(analysis)[goal.id][1].conditions[goal.index].node
    names = dict.fromkeys(n.name for n in walk(node) if isinstance(n, ParamRef))
    for name in names:
        rest = {k: v for k, v in options.items() if k != name}
        for value in options.get(name, ()):
            if value == first.get(name):
                continue
            trial = analysis.repair(model, goal.event, {**first, name: value}, rest,
                                    goal_score=score)
            if score(trial) == 0:
                return trial
    return None


def _evaluating(roadmap: Roadmap, analysis: Analysis, model: Executable, goal: Goal,
                options: Mapping[str, list[Any]]) -> dict[str, Any]:
    """Starting parameters under which nothing of higher priority decides before the goal's
    guard, where the analysis finds some: the element itself deciding (its refusal, its
    transition, or any acceptance for a transition), else the roadmap's defaults."""
    start = roadmap.defaults(goal.event, options)
    if goal.id in {r.rejection.id for r in analysis.semantics.table(goal.event).refusals}:
        params = analysis.repair(model, goal.event, start, options, refuse_by=goal.id)
        return params if analysis.refusal_score(model, goal.event, params, goal.id) == 0 \
            else start
    for target in (frozenset({goal.id}), None):
        params = analysis.repair(model, goal.event, start, options, target=target)
        if analysis.score(model, goal.event, params, target) == 0:
            return params
    return start


def possible_here(analysis: Analysis, model: Executable, goal: Goal,
                  conditions: GuardConditions) -> bool:
    """A quick test before any repair: the model evaluates the guard in this state at all,
    and a condition that reads no parameter already has the value wanted."""
    snapshot = model.current
    params = {p.name: None for p in analysis.events[goal.event].params}
    if blockers(analysis, goal.event, goal.id, params, snapshot) is None:
        return False
    condition = conditions.conditions[goal.index]
    if goal.what == "mcdc" or any(isinstance(n, ParamRef) for n in walk(condition.node)):
        return True
    return condition_values(conditions, snapshot, params)[goal.index] is (goal.what == "true")


def goal_steps(roadmap: Roadmap, analysis: Analysis, model: Executable, goal: Goal,
               memory: Memory) -> list[dict[str, Any]] | None:
    """The parameters to send for ``goal`` in the model's current state (one set, or for an
    MC/DC goal the two of its pair, each to be sent from this state), or None."""
    conditions = _guards(analysis)[goal.id][1]
    if not possible_here(analysis, model, goal, conditions):
        return None
    if goal.what != "mcdc":
        found = condition_params(roadmap, analysis, model, goal, memory, goal.what == "true")
        return None if found is None else [found]
    for want in (True, False):
        first = condition_params(roadmap, analysis, model, goal, memory, want, deciding=True)
        if first is None:
            continue
        like = condition_values(conditions, model.current, first)
        second = condition_params(roadmap, analysis, model, goal, memory, not want,
                                  deciding=True, start=first, like=like)
        if second is not None:
            return [first, second]
    return None


__all__ = ["blockers", "condition_goals", "condition_params", "condition_score", "goal_steps",
           "still_missing"]
