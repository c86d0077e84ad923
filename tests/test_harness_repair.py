"""The incremental repair (strategies._Scorer) gives exactly the scores and parameters of
the plain definition: ``Analysis.score`` / ``refusal_score`` evaluated on every trial."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from authspec.harness.roadmap import Roadmap
from authspec.harness.strategies import Analysis, Memory, analyse, candidates
from authspec.model import Executable, load
from authspec.model.ir import System


def plain_repair(analysis: Analysis, model: Executable, event: str, params: Mapping[str, Any],
                 options: Mapping[str, Sequence[Any]], target: frozenset[str] | None = None,
                 *, refuse_by: str | None = None, isolated: bool = False) -> dict[str, Any]:
    """The repair as first written: every trial scored from scratch."""

    def score(trial: Mapping[str, Any]) -> int:
        if refuse_by is not None:
            return analysis.refusal_score(model, event, trial, refuse_by, isolated=isolated)
        return analysis.score(model, event, trial, target)

    current, best = dict(params), score(params)
    for _ in range(3):
        if best == 0:
            break
        improved = False
        for name, values in options.items():
            for value in values:
                if value == current[name]:
                    continue
                trial = {**current, name: value}
                trial_score = score(trial)
                if trial_score < best:
                    current, best, improved = trial, trial_score, True
                    if best == 0:
                        return current
        if not improved:
            break
    return current


def _snapshots(system: System, analysis: Analysis, count: int) -> list[Any]:
    roadmap = Roadmap(system, analysis)
    roadmap._node(count)  # breadth first: states one, two, ... steps deep
    return [node.snapshot for node in roadmap.nodes[:count]]


@pytest.mark.parametrize("specs", ["specs", "examples/lockout/specs"])
def test_incremental_repair_equals_plain_repair(specs: str) -> None:
    system = load(specs)
    analysis = analyse(system)
    model = Executable(system)
    rng = random.Random(5)
    compared = 0
    for snapshot in _snapshots(system, analysis, 40):
        for event in analysis.events:
            model.restore(snapshot)
            options = candidates(analysis, model, event, Memory())
            goals: list[dict[str, Any]] = [{}]
            goals += [{"target": frozenset({t.element.id})} for t in analysis.transitions[event]]
            goals += [{"refuse_by": r.element.id, "isolated": iso}
                      for r in analysis.rejections[event] for iso in (False, True)]
            for goal in goals:
                start = {name: rng.choice(values) if values else ""
                         for name, values in options.items()}
                expected = plain_repair(analysis, model, event, start, options, **goal)
                assert analysis.repair(model, event, start, options, **goal) == expected, (
                    event, goal, start)
                compared += 1
    assert compared > 100
