"""Run a written trace of events through the model (``authspec simulate``).

A trace file (YAML or JSON, read safely) is either a list of steps or a mapping::

    defaults:            # optional: parameters shared by every step of an event
      pay: {method: static, channel: b2c, password: '654321', ...}
    steps:
      - event: login
        params: {password: '123456'}
        expect: accepted           # optional: accepted, or the expected reason code
      - {event: pay, params: {amount: 30000}, expect: accepted}

Every problem in the trace (unknown event, missing or ill-typed parameter, unknown reason)
is reported at ``file:line:column`` before anything runs. A step after which an invariant
does not hold, or that breaks a step property of the spec, is not as expected: its result
names the property, its expression, where it is written and the rules it cites.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SpecError, SpecErrors
from .ir import StepProperty, System
from .runtime import Executable, Outcome
from .yamlsafe import Located, read_yaml


@dataclass(frozen=True)
class Step:
    event: str
    params: Mapping[str, Any]
    expect: str | None = None  # "accepted" or a reason code
    where: str = ""


@dataclass(frozen=True)
class StepResult:
    number: int
    step: Step
    outcome: Outcome
    configuration: Mapping[str, str]
    values: Mapping[str, Any] = field(default_factory=dict)
    broken_invariants: tuple[str, ...] = ()
    broken_step_properties: tuple[str, ...] = ()

    @property
    def as_expected(self) -> bool:
        if self.broken_invariants or self.broken_step_properties:
            return False
        if self.step.expect is None:
            return True
        return str(self.outcome) == "accepted" if self.step.expect == "accepted" else (
            self.outcome.reason == self.step.expect)


def read_trace(path: Path, system: System) -> list[Step]:
    """Read and check a trace file against the system's events."""
    doc = read_yaml(path)
    data = doc.data
    errors: list[SpecError] = []
    defaults: Mapping[str, Any] = {}
    base: tuple[str, ...]
    if isinstance(data, dict):
        unknown = set(data) - {"steps", "defaults"}
        for key in sorted(unknown, key=str):
            errors.append(SpecError(doc.span((key,), key=True), f"unknown key {key!r}",
                                    "a trace has 'steps' and optional 'defaults'"))
        defaults = data.get("defaults") or {}
        steps_data, base = data.get("steps"), ("steps",)
    else:
        steps_data, base = data, ()
    if not isinstance(steps_data, list):
        raise SpecErrors([SpecError(doc.span(base), "a trace is a list of steps",
                                    "write '- event: NAME' items, or 'steps:' with such a list")])
    steps = [step for index, item in enumerate(steps_data)
             if (step := _step(doc, (*base, index), item, defaults, system, errors)) is not None]
    if errors:
        raise SpecErrors(errors)
    return steps


def _step(doc: Located, path: tuple, item: Any, defaults: Mapping[str, Any], system: System,
          errors: list[SpecError]) -> Step | None:
    if isinstance(item, str):
        item = {"event": item}
    if not isinstance(item, dict) or "event" not in item:
        errors.append(SpecError(doc.span(path), "a step needs an 'event'",
                                "write '- event: NAME' with optional params and expect"))
        return None
    for key in set(item) - {"event", "params", "expect"}:
        errors.append(SpecError(doc.span((*path, key), key=True), f"unknown key {key!r} in a "
                                "step", "a step has event, params and expect"))
    name = item["event"]
    events = {e.name: e for e in system.events}
    if name not in events:
        errors.append(SpecError(doc.span((*path, "event")), f"unknown event {name!r}",
                                f"events: {', '.join(events)}"))
        return None
    event = events[name]
    merged = {**(defaults.get(name) or {}), **(item.get("params") or {})}
    declared = {p.name: p for p in event.params}
    params = {**{k: merged[k] for k in declared if k in merged}, **merged}
    for key in params:
        if key not in declared:
            errors.append(SpecError(doc.span((*path, "params", key), key=True),
                                    f"event {name} has no parameter {key!r}",
                                    f"parameters: {', '.join(declared) or 'none'}"))
    for param in event.params:
        if param.name not in params:
            errors.append(SpecError(doc.span(path), f"step {name} lacks parameter "
                                    f"{param.name!r} ({param.type.describe()})",
                                    f"add it to params or to defaults.{name}"))
        elif not param.type.contains(params[param.name]):
            value = params[param.name]
            shown = f"<secret {type(value).__name__}>" if param.secret else repr(value)
            errors.append(SpecError(doc.span((*path, "params", param.name)),
                                    f"{param.name}={shown} is not a "
                                    f"{param.type.describe()}", "give a value of that type"))
    expect = item.get("expect")
    reasons = {r.code for r in system.reasons}
    if expect is not None and expect != "accepted" and expect not in reasons:
        errors.append(SpecError(doc.span((*path, "expect")), f"unknown expectation {expect!r}",
                                "write 'accepted' or a reason code of the spec"))
    return Step(name, params, expect, str(doc.span(path)))


def run_trace(system: System, steps: list[Step]) -> list[StepResult]:
    """Run the steps in a fresh model; a broken invariant or step property is recorded on
    its step."""
    model = Executable(system)
    results = []
    for number, step in enumerate(steps, 1):
        before = model.snapshot()
        outcome = model.step(step.event, step.params)
        broken = tuple(f"{i.id} ({i.expr.source}, {i.span})" for i in model.violated_invariants())
        properties = model.semantics.violated_step_properties(
            before, step.event, step.params, outcome, model.snapshot())
        results.append(StepResult(number, step, outcome, model.configuration, dict(model.values),
                                  broken, tuple(describe_step_property(p) for p in properties)))
    return results


def describe_step_property(prop: StepProperty) -> str:
    """``id (holds, file:line:column; rules R1, Q2)``: a broken step property, located."""
    return (f"{prop.id} ({prop.holds.source}, {prop.span}; rules "
            f"{', '.join(prop.rules)})")
