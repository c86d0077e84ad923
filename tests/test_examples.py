"""The documentation's own examples: every trace in examples/ runs as its comments say."""

from __future__ import annotations

from pathlib import Path

import pytest

from authspec.model.ir import System
from authspec.model.simulate import read_trace, run_trace

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_trace_runs_as_documented(system: System, path: Path) -> None:
    steps = read_trace(path, system)
    assert steps and all(step.expect for step in steps), "every example step states its outcome"
    results = run_trace(system, steps)
    wrong = [(r.number, r.step.event, r.step.expect, str(r.outcome)) for r in results
             if not r.as_expected]
    assert not wrong


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 4
