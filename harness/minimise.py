"""Replay of recorded steps from a fresh start, and minimisation by step deletion.

``replay`` sends steps through a ``Driver`` and returns the nonconformance they cause;
``minimise`` deletes the steps a failure does not need, one at a time, after Hypothesis
has shrunk it (or could not finish shrinking within its budget).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .driver import Driver, RunState
from .records import Failure, Nonconformance


def replay(run: RunState, steps: list[tuple[str, Mapping[str, Any]]], *,
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
            best = found
        index -= 1
    return best
