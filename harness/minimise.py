"""Replay of recorded steps from a fresh start, minimisation by step deletion, and plain
parameter values.

``replay`` sends steps through a ``Driver`` and returns the nonconformance they cause;
``minimise`` deletes the steps a failure does not need, one at a time, after Hypothesis
has shrunk it (or could not finish shrinking within its budget); ``simplify`` then makes
each parameter as plain as it can be (False, the first enum value, the number nearest 0,
a plain string of the same length) while the trace still fails at the same step in the
same way, so that a reader sees which values matter.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

from authspec.model.ir import Param

from .driver import Driver, RunState
from .records import Failure, Nonconformance, Step


def replay(run: RunState, steps: Sequence[tuple[str, Mapping[str, Any]]], *,
           shrink_budget: bool = True) -> Failure | None:
    """Send ``steps`` from a fresh start; the nonconformance they cause, or None. With
    ``shrink_budget`` off, the run's shrink budget does not stop the replay."""
    driver = Driver(run, shrink_budget=shrink_budget)
    try:
        for event, params in steps:
            driver.send(event, params, "replay")
    except Nonconformance as error:
        return error.failure
    return None


def minimise(run: RunState, failure: Failure, *, seconds: float = 10.0,
             max_steps: int = 300) -> Failure:
    """Delete steps one at a time (last first) while the shorter trace still fails:
    route steps a goal did not need, refusals before the divergent step, steps a
    shrink budget left in. The run's shrink budget does not apply: ``seconds`` is the
    deadline."""
    if len(failure.steps) > max_steps:
        return failure
    deadline = time.monotonic() + seconds
    best = failure
    index = len(best.steps) - 2
    while index >= 0 and time.monotonic() < deadline:
        steps = [(s.event, s.params) for s in best.steps]
        if index >= len(steps) - 1:
            index = len(steps) - 2
            continue
        found = replay(run, steps[:index] + steps[index + 1:], shrink_budget=False)
        if found is not None and len(found.steps) < len(best.steps):
            kept = best.steps[:index] + best.steps[index + 1:]
            best = _with_origins(found, kept)
        index -= 1
    return best


def _with_origins(found: Failure, sent: Sequence[Step]) -> Failure:
    """``found`` (a replay of ``sent``, or of its first steps) with each step's origin as
    first sent (which part of the run sent it: a goal's route, the sweep, ...)."""
    steps = tuple(dataclasses.replace(step, origin=before.origin)
                  for step, before in zip(found.steps, sent, strict=False))
    return dataclasses.replace(found, steps=steps)


def _plainer(param: Param, value: Any) -> list[Any]:
    """Plainer values than ``value`` for ``param``, plainest first."""
    kind = param.type.kind
    if kind == "bool":
        return [False] if value is True else []
    if kind == "enum":
        return [param.type.values[0]] if value != param.type.values[0] else []
    if kind == "int" and isinstance(value, int):
        lo, hi = param.type.min, param.type.max
        number = lo if lo is not None and lo > 0 else hi if hi is not None and hi < 0 else 0
        return [number] if value != number else []
    if kind == "str" and isinstance(value, str) and value:
        text = "".join("0" if c.isdigit() else "a" if c.isalpha() else c for c in value)
        return [text] if text != value else []
    return []


def _signature(failure: Failure) -> tuple[Any, ...]:
    """What "failing the same way" keeps: the kind, the divergent step and event, and what
    differs (the outcomes, or which machines and variables)."""
    last = failure.steps[-1]
    differing = tuple(sorted(d.split(":", 1)[0] for d in failure.differences))
    outcomes = (last.expected.accepted, last.expected.reason,
                None if last.actual is None else (last.actual.accepted, last.actual.reason))
    return failure.kind, len(failure.steps), last.event, outcomes, differing


def _same_failure(found: Failure | None, best: Failure) -> bool:
    return found is not None and _signature(found) == _signature(best)


def simplify(run: RunState, failure: Failure, *, seconds: float = 5.0) -> Failure:
    """Each parameter of each step made plainer (see ``_plainer``) while the trace still
    fails at the same step in the same way; last steps first. ``seconds`` is the
    deadline."""
    deadline = time.monotonic() + seconds
    best = failure
    for index in range(len(best.steps) - 1, -1, -1):
        declared = run.system.event(best.steps[index].event)
        for param in declared.params:
            for value in _plainer(param, best.steps[index].params.get(param.name)):
                if time.monotonic() >= deadline:
                    return best
                steps = [(s.event, dict(s.params)) for s in best.steps]
                steps[index][1][param.name] = value
                found = replay(run, steps, shrink_budget=False)
                if found is not None and _same_failure(found, best):
                    best = _with_origins(found, best.steps)
    return best
