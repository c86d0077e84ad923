"""The conformance state machine, built at run time from the IR.

``build_machine(run)`` makes a Hypothesis ``RuleBasedStateMachine`` subclass with

* one rule per event, ``event_<name>``, enabled while the model could accept the event
  (some transition leaves a current state and no unconditional refusal applies). It draws
  the parameters (strategies.py) and, three times in four, *repairs* them against the
  model's guards until the model would accept them; otherwise it sends them as drawn, so
  refusals by guard are tested too;
* ``refused``: sends an event the model refuses outright in the current state (negative
  testing), with parameters drawn from their domains;
* ``repeat`` (when the spec has counters, see ``strategies.Counter``): performs one
  accepted step ``k`` times, ``k`` drawn from the boundary counts (remaining-1,
  remaining, remaining+1, ...) solved from the guards, or a small number, so the 1000th
  use of a card is reached in a single rule.

Each machine instance holds the run's model (reset per example) and the backend (reset
per example). After each step the backend's ``Response`` is compared with the model's
``Outcome`` (accepted or rejected, and the reason code); then the backend's observation,
if the adapter offers ``observe()`` (states, and variables that are not secret); then the
spec's invariants on the model. A difference raises ``Nonconformance`` (an
AssertionError Hypothesis shrinks); a backend that raises, hangs or answers garbage raises
``BackendAbort``: it is a backend error, reported with its step, never a nonconformance.

``BackendAbort`` and ``RunOver`` (time budget spent) derive from KeyboardInterrupt on
purpose: that is the one exception Hypothesis lets through at once, without recording
the interrupted test case (any other exception would be shrunk, or would make the
interrupted case look like flaky data generation). ``run.check`` always catches them.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from authspec.model import Executable, Outcome
from authspec.model.expr import ParamRef, VarRef, policy_checker, walk
from authspec.model.ir import System

from .adapter import Observation, Response
from .backends import Backend, BackendFailure
from .coverage import Coverage
from .roadmap import Goal, Roadmap
from .strategies import (
    Analysis,
    Counter,
    Memory,
    analyse,
    candidates,
    draw_params,
    index_strategy,
)

SMALL_REPEAT = st.integers(1, 5)


# -- what a run records -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One event sent to both the model and the backend."""

    index: int  # 1-based position in the example
    event: str
    params: Mapping[str, Any]
    expected: Outcome
    actual: Response | None  # None when the backend failed to answer
    origin: str  # "event" | "refused" | "repeat"
    hints: Mapping[str, str] = field(default_factory=dict)  # secret param -> what it is

    @property
    def conforms(self) -> bool:
        return self.actual is not None and conforms(self.expected, self.actual)


@dataclass(frozen=True)
class Failure:
    """A nonconformance: the steps up to and including the divergent one."""

    kind: str  # "outcome" | "observation" | "invariant"
    steps: tuple[Step, ...]
    detail: str
    differences: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    view: Mapping[str, Any] = field(default_factory=dict)  # the model's observable state

    @property
    def last(self) -> Step:
        return self.steps[-1]


class Nonconformance(AssertionError):
    """The backend answered well but differently from the model."""

    def __init__(self, failure: Failure):
        self.failure = failure
        super().__init__(f"step {failure.last.index} ({failure.last.event}): {failure.detail}")


class BackendAbort(KeyboardInterrupt):
    """The backend failed (exception, timeout, garbage): stop the run, do not shrink."""

    def __init__(self, error: BackendFailure, steps: tuple[Step, ...]):
        self.error = error
        self.steps = steps
        super().__init__(str(error))


class RunOver(KeyboardInterrupt):
    """The time budget is spent (``why`` says which): end the run where it stands."""

    def __init__(self, why: str):
        self.why = why
        super().__init__(why)


def conforms(expected: Outcome, actual: Response) -> bool:
    if expected.accepted:
        return actual.accepted
    return not actual.accepted and actual.reason == expected.reason


@dataclass
class RunConfig:
    observe: bool = True  # compare observations when the adapter offers observe()
    repeat_cap: int = 5000  # the longest single repeat
    max_seconds: float | None = None  # exploration budget (no new example after it)
    shrink_seconds: float | None = 30.0  # shrinking budget once a failure is found
    repair: bool = True  # repair drawn parameters towards acceptance (off: uniform)
    repeat: bool = True  # the repeat rule (off: uniform)
    roadmap: bool = True  # start examples by jumping to a goal's state (off: uniform)


@dataclass
class RunState:
    """Everything one run shares between its examples."""

    system: System
    backend: Backend
    config: RunConfig = field(default_factory=RunConfig)
    analysis: Analysis = field(init=False)
    model: Executable = field(init=False)
    coverage: Coverage = field(init=False)
    failures: list[Failure] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    first_failure_at: float | None = None
    steps: int = 0
    examples: int = 0
    on_progress: Callable[[RunState], None] | None = None
    phase: str = "start"
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.analysis = analyse(self.system)
        self.model = Executable(self.system)
        self.roadmap = Roadmap(self.system, self.analysis, repeat_cap=self.config.repeat_cap)
        self.coverage = Coverage(self.system)
        self._secret_vars = {v.qualified for v in self.system.variables if v.secret}
        self._variables = {v.qualified: v for v in self.system.variables}
        self._policy_checks = {p.name: policy_checker(p) for p in self.system.policies}

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def best_failure(self) -> Failure | None:
        """The shortest failure seen (the latest among the shortest)."""
        best = None
        for failure in self.failures:
            if best is None or len(failure.steps) <= len(best.steps):
                best = failure
        return best

    def note_failure(self, failure: Failure) -> None:
        if self.first_failure_at is None:
            self.first_failure_at = time.monotonic()
        self.failures.append(failure)

    def check_time(self, *, new_example: bool) -> None:
        now = time.monotonic()
        if self.first_failure_at is None:
            limit = self.config.max_seconds
            if limit is not None and now - self.started > limit:
                raise RunOver("time budget spent")
        elif (new_example and self.config.shrink_seconds is not None
              and now - self.first_failure_at > self.config.shrink_seconds):
            try:
                final = current_build_context().is_final
            except Exception:
                final = False
            if not final:
                raise RunOver("shrink budget spent")


# -- the machine --------------------------------------------------------------------------------


class Driver:
    """Sends steps to the model and the backend and compares them (one example)."""

    def __init__(self, run: RunState) -> None:
        self.run = run
        run.check_time(new_example=True)
        run.examples += 1
        self.model = run.model
        self.model.reset()
        self.memory = Memory()
        self.analysis = run.analysis
        self.trace: list[Step] = []
        self.memory.note(self.model, self.analysis.str_variables)
        run.coverage.start(self.model.configuration)
        try:
            run.backend.reset()
        except BackendFailure as error:
            raise BackendAbort(error, ()) from error
        if run.on_progress is not None:
            run.on_progress(run)

    # -- preconditions ---------------------------------------------------------------------
    def may_accept(self, event: str) -> bool:
        return self.analysis.may_accept(self.model, event)

    def refused_events(self) -> list[str]:
        return [e for e in self.analysis.events if not self.analysis.may_accept(self.model, e)]

    def live_counters(self) -> list[Counter]:
        states = self.model.states
        return [c for c in self.analysis.counters
                if states[c.machine] in c.sources and self.may_accept(c.event)]

    # -- one step ----------------------------------------------------------------------------
    def send(self, event: str, params: Mapping[str, Any], origin: str) -> Outcome:
        run = self.run
        run.check_time(new_example=False)
        hints = self.hints(event, params)
        model = self.model
        expected = model.step(event, params)
        run.coverage.record(expected, model.states)
        self.memory.note(model, self.analysis.str_variables)
        run.steps += 1
        index = len(self.trace) + 1
        try:
            actual = run.backend.perform(event, params)
        except BackendFailure as error:
            step = Step(index, event, dict(params), expected, None, origin, hints)
            raise BackendAbort(error, (*self.trace, step)) from error
        step = Step(index, event, dict(params), expected, actual, origin, hints)
        self.trace.append(step)
        if not conforms(expected, actual):
            self.fail("outcome", _describe_difference(expected, actual, run.backend),
                      rules=expected.rules)
        if run.config.observe and run.backend.can_observe:
            try:
                observation = run.backend.observe()
            except BackendFailure as error:
                raise BackendAbort(error, tuple(self.trace)) from error
            if observation is not None:
                differences = self.compare(observation)
                if differences:
                    self.fail("observation", "the backend's state differs from the model's",
                              differences=differences, rules=expected.rules)
        broken = model.violated_invariants()
        if broken:
            self.fail("invariant",
                      "the model breaks invariants of the spec: "
                      + ", ".join(f"{i.id} ({i.expr.source})" for i in broken),
                      rules=tuple(r for i in broken for r in i.rules))
        if run.on_progress is not None and run.steps % 200 == 0:
            run.on_progress(run)
        return expected

    def fail(self, kind: str, detail: str, *, differences: tuple[str, ...] = (),
             rules: tuple[str, ...] = ()) -> None:
        view = {}
        if kind == "observation":
            view = {"states": dict(self.model.states),
                    "variables": {k: v for k, v in self.model.values.items()
                                  if k not in self.run._secret_vars}}
        failure = Failure(kind, tuple(self.trace), detail, differences, rules, view)
        self.run.note_failure(failure)
        raise Nonconformance(failure)

    def compare(self, observation: Observation) -> tuple[str, ...]:
        """Differences between an observation and the model (secrets never compared)."""
        run, model = self.run, self.model
        differences = []
        for machine, state in observation.states.items():
            if machine not in model.states:
                raise BackendAbort(BackendFailure(
                    "garbage", "observe()", f"no machine named {machine!r} in the spec"),
                    tuple(self.trace))
            if state != model.states[machine]:
                differences.append(f"{machine}: the model is in {model.states[machine]}, "
                                   f"the backend in {state}")
        for name, value in observation.variables.items():
            if name not in run._variables:
                raise BackendAbort(BackendFailure(
                    "garbage", "observe()", f"no variable named {name!r} in the spec "
                    "(variables are named machine.variable)"), tuple(self.trace))
            if name in run._secret_vars:
                continue
            if value != model.values[name]:
                differences.append(f"{name}: the model has {model.values[name]!r}, "
                                   f"the backend {value!r}")
        return tuple(differences)

    def hints(self, event: str, params: Mapping[str, Any]) -> dict[str, str]:
        """For each secret string parameter, what it is (shown instead of the secret)."""
        hints: dict[str, str] = {}
        run = self.run
        declared = self.analysis.events[event]
        for param in declared.params:
            if not param.secret or not isinstance(params.get(param.name), str):
                continue
            value = params[param.name]
            fits = [p for p in param.policies if run._policy_checks[p](value)]
            parts = [f"{len(value)} chars", "fits " + "/".join(fits) if fits else "fits no policy"]
            for name in self.analysis.str_variables:
                current = self.model.values.get(name)
                if not isinstance(current, str) or not current:
                    continue
                if value == current:
                    parts.append(f"= {name}")
                elif value.swapcase() == current and value != current:
                    parts.append(f"= {name} case-swapped")
                elif value in self.memory.seen.get(name, ()):
                    parts.append(f"= an earlier {name}")
            hints[param.name] = ", ".join(parts)
        return hints



class ConformanceMachine(RuleBasedStateMachine, Driver):
    """Base of the generated machines; ``run`` is set on each generated subclass."""

    run: ClassVar[RunState]  # type: ignore[misc]
    pinned: ClassVar[Goal | None] = None

    def __init__(self) -> None:
        RuleBasedStateMachine.__init__(self)
        Driver.__init__(self, type(self).run)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(steps={len(self.trace)})"

    # -- rules' bodies ---------------------------------------------------------------------
    def do_start(self, data: st.DataObject) -> None:
        """Three examples in four start by jumping to the state of a goal drawn among all
        transitions and rejections (the roadmap's shortest route), then make the goal
        happen with drawn parameters steered to it."""
        roadmap = self.run.roadmap
        if not self.run.config.roadmap or data.draw(index_strategy(4)) == 0:
            return
        goal = self.pinned or roadmap.goals[data.draw(index_strategy(len(roadmap.goals)))]
        route = roadmap.route(goal)
        if route is None:
            return
        for event, params, times in route:
            for _ in range(times):
                if not self.send(event, params, "route").accepted:
                    return
        self.do_goal(goal, data)

    def do_goal(self, goal: Goal, data: st.DataObject) -> None:
        analysis, model = self.analysis, self.model
        params = draw_params(data.draw, analysis, model, goal.event, self.memory)
        options = candidates(analysis, model, goal.event, self.memory)
        if goal.kind == "rejection":
            params = analysis.repair(model, goal.event, params, options, refuse_by=goal.id)
        else:
            params = analysis.repair(model, goal.event, params, options,
                                     target=frozenset({goal.id}))
        self.send(goal.event, params, "goal")

    def do_event(self, event: str, data: st.DataObject) -> None:
        """An event the model may accept now: steer to acceptance (5 in 8), to a refusal
        by one guarded rejection (2 in 8), or send the parameters as drawn (1 in 8)."""
        config = self.run.config
        mode = data.draw(index_strategy(8)) if config.repair else 0
        params = draw_params(data.draw, self.analysis, self.model, event, self.memory)
        if mode >= 3:
            params = self.analysis.repair(
                self.model, event, params,
                candidates(self.analysis, self.model, event, self.memory))
        elif mode >= 1:
            params = self.steer_to_refusal(event, params, data, guarded_only=True)
        self.send(event, params, "event")

    def do_refused(self, data: st.DataObject) -> None:
        """An event the model refuses in this state whatever the parameters: steer to a
        refusal by one of its applicable rejections (3 in 4) or send as drawn."""
        refused = self.refused_events()
        event = refused[data.draw(index_strategy(len(refused)))]
        mode = data.draw(index_strategy(4)) if self.run.config.repair else 0
        params = draw_params(data.draw, self.analysis, self.model, event, self.memory)
        if mode:
            params = self.steer_to_refusal(event, params, data, guarded_only=False)
        self.send(event, params, "refused")

    def steer_to_refusal(self, event: str, params: dict[str, Any], data: st.DataObject, *,
                         guarded_only: bool) -> dict[str, Any]:
        options = [r for r in self.analysis.applicable_rejections(self.model, event)
                   if r.guard is not None or not guarded_only]
        if not options:
            return params
        rejection = options[data.draw(index_strategy(len(options)))]
        return self.analysis.repair(
            self.model, event, params,
            candidates(self.analysis, self.model, event, self.memory),
            refuse_by=rejection.id)

    def do_repeat(self, data: st.DataObject) -> None:
        live = self.live_counters()
        counter = live[data.draw(index_strategy(len(live)))]
        model, analysis = self.model, self.analysis
        cap = self.run.config.repeat_cap
        boundary = [k for k in counter.remaining(model.values, model.states) if k <= cap]
        if boundary and data.draw(index_strategy(2)) == 1:
            times = boundary[data.draw(index_strategy(len(boundary)))]
        else:
            times = data.draw(SMALL_REPEAT)
        params = draw_params(data.draw, analysis, model, counter.event, self.memory)
        params = analysis.repair(model, counter.event, params,
                                 candidates(analysis, model, counter.event, self.memory),
                                 target=frozenset(counter.transitions))
        refused_in_a_row = 0
        for _ in range(times):
            outcome = self.send(counter.event, params, "repeat")
            refused_in_a_row = 0 if outcome.accepted else refused_in_a_row + 1
            if refused_in_a_row >= 2:
                break

def _describe_difference(expected: Outcome, actual: Response, backend: Backend) -> str:
    text = f"expected {expected}, the backend answered {actual}"
    if not actual.accepted and not backend.declared_reason(actual.reason):
        text += " (a reason code the spec does not declare)"
    return text


# -- building the class ---------------------------------------------------------------------


def spec_digest(system: System) -> str:
    """A digest of what the machine depends on, stable across processes and paths."""
    parts: list[str] = [system.name, system.otherwise]
    for event in system.events:
        parts.append(f"E {event.name} " + " ".join(
            f"{p.name}:{p.type.describe()}:{','.join(p.policies)}" for p in event.params))
    for policy in system.policies:
        parts.append(f"P {policy.name} {policy.min_length} {policy.max_length} "
                     f"{policy.alphabet} {policy.require} {policy.case_sensitive}")
    for machine in system.machines:
        parts.append(f"M {machine.name} " + " ".join(s.name for s in machine.states))
        parts.extend(f"V {v.qualified} {v.type.describe()} {v.initial!r}"
                     for v in machine.variables)
    for t in system.transitions:
        guard = t.guard.source if t.guard else ""
        effects = ";".join(f"{a.variable}={a.value.source}" for a in t.effects)
        parts.append(f"T {t.id} {t.event} {t.sources} {t.target} {guard} {effects}")
    for r in system.rejections:
        guard = r.guard.source if r.guard else ""
        parts.append(f"R {r.id} {r.event} {r.sources} {guard} {r.reason}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def class_name(system: System, backend: str) -> str:
    """The generated class's name: keys the example database per spec and backend."""
    slug = re.sub(r"\W+", "_", backend).strip("_") or "backend"
    return f"Conformance_{system.name}_{spec_digest(system)[:12]}_{slug}"


def _event_rule(event: str) -> Any:
    def body(self: ConformanceMachine, data: st.DataObject) -> None:
        self.do_event(event, data)

    body.__name__ = f"event_{event}"
    body.__qualname__ = body.__name__
    return precondition(lambda self: self.may_accept(event))(rule(data=st.data())(body))


def _refused_rule() -> Any:
    def refused(self: ConformanceMachine, data: st.DataObject) -> None:
        self.do_refused(data)

    return precondition(lambda self: bool(self.refused_events()))(
        rule(data=st.data())(refused))


def _repeat_rule() -> Any:
    def repeat(self: ConformanceMachine, data: st.DataObject) -> None:
        self.do_repeat(data)

    return precondition(lambda self: bool(self.live_counters()))(rule(data=st.data())(repeat))


def _start_rule() -> Any:
    def start(self: ConformanceMachine, data: st.DataObject) -> None:
        self.do_start(data)

    return initialize(data=st.data())(start)


def build_machine(run: RunState, backend_name: str = "backend", seed: int | None = None,
                  pinned: Goal | None = None) -> type[ConformanceMachine]:
    """A RuleBasedStateMachine subclass for ``run`` (see the module docstring).

    With ``pinned``, examples that start with a goal always take that one (used to
    reproduce and shrink a failure the sweep found); the class name, hence the example
    database key, then names the goal.
    """
    namespace: dict[str, Any] = {"run": run, "__module__": __name__, "start": _start_rule(),
                                 "pinned": pinned}
    for event in run.system.events:
        namespace[f"event_{event.name}"] = _event_rule(event.name)
    namespace["refused"] = _refused_rule()
    if run.analysis.counters and run.config.repeat:
        namespace["repeat"] = _repeat_rule()
    name = class_name(run.system, backend_name)
    if pinned is not None:
        name += "__" + re.sub(r"\W+", "_", pinned.id)
    cls = type(name, (ConformanceMachine,), namespace)
    if seed is not None:
        cls._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    return cls


# -- the sweep --------------------------------------------------------------------------------


def goal_params(driver: Driver, goal: Goal) -> dict[str, Any]:
    """Deterministic parameters that make ``goal`` happen now (the roadmap's defaults,
    repaired towards the goal)."""
    analysis, model = driver.analysis, driver.model
    options = candidates(analysis, model, goal.event, driver.memory)
    start = driver.run.roadmap.defaults(goal.event, options)
    if goal.kind == "rejection":
        return analysis.repair(model, goal.event, start, options, refuse_by=goal.id)
    return analysis.repair(model, goal.event, start, options, target=frozenset({goal.id}))


MAX_VARIANTS = 12


def refusal_variants(driver: Driver, goal: Goal,
                     params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Other values of the parameters the rejection's guard reads that it refuses too
    (each boundary and each way of breaking a policy), at most ``MAX_VARIANTS``."""
    analysis, model = driver.analysis, driver.model
    element = next(r.element for r in analysis.rejections[goal.event]
                   if r.element.id == goal.id)
    if element.guard is None:
        return []
    read = [n.name for n in walk(element.guard.tree) if isinstance(n, ParamRef)]
    options = candidates(analysis, model, goal.event, driver.memory)
    variants: list[dict[str, Any]] = []
    for name in dict.fromkeys(read):
        for value in options.get(name, ()):
            if value == params[name] or len(variants) >= MAX_VARIANTS:
                continue
            trial = {**params, name: value}
            if analysis.refusal_score(model, goal.event, trial, goal.id) == 0:
                variants.append(trial)
    return variants


def _sweep_goal(driver: Driver, goal: Goal) -> None:
    """The goal step, then the refusals around it (refusals change nothing)."""
    analysis, model = driver.analysis, driver.model
    params = goal_params(driver, goal)
    if goal.kind == "transition":
        params = _new_strings(driver, goal, params)
    driver.send(goal.event, params, "goal")
    if goal.kind == "rejection":
        for variant in refusal_variants(driver, goal, params):
            driver.send(goal.event, variant, "goal")
        return
    transition = next(t.element for t in analysis.transitions[goal.event]
                      if t.element.id == goal.id)
    if transition.target is None or transition.target in transition.sources:
        # A step that stays put: the same goal again with each boundary of its integers.
        target = frozenset({goal.id})
        options = candidates(analysis, model, goal.event, driver.memory)
        ints = [p.name for p in analysis.events[goal.event].params if p.type.kind == "int"]
        sent = 0
        for name in ints:
            for value in reversed(options[name]):
                trial = {**params, name: value}
                if (value != params[name] and sent < MAX_VARIANTS
                        and analysis.score(model, goal.event, trial, target) == 0):
                    driver.send(goal.event, trial, "goal")
                    sent += 1
    variables = {f"{transition.machine}.{a.variable}" for a in transition.effects}
    _sweep_old_values(driver, {v for v in variables if isinstance(model.values.get(v), str)})
    if not any(isinstance(model.values.get(v), int) and not isinstance(model.values.get(v), bool)
               for v in variables):
        return
    # Something was counted: each refusal of the same event, from the new values.
    for rejection in analysis.applicable_rejections(model, goal.event):
        if rejection.guard is None:
            continue
        follow = Goal("rejection", rejection.id, goal.event)
        params = goal_params(driver, follow)
        if analysis.refusal_score(model, goal.event, params, follow.id) == 0:
            driver.send(goal.event, params, "goal")
            for variant in refusal_variants(driver, follow, params):
                driver.send(goal.event, variant, "goal")


def _new_strings(driver: Driver, goal: Goal, params: dict[str, Any]) -> dict[str, Any]:
    """When the goal stores a parameter in a string variable (a new password), a value
    other than the one the variable holds: replacing a password by itself tests nothing."""
    analysis, model = driver.analysis, driver.model
    transition = next(t.element for t in analysis.transitions[goal.event]
                      if t.element.id == goal.id)
    target = frozenset({goal.id})
    options = candidates(analysis, model, goal.event, driver.memory)
    for assignment in transition.effects:
        tree = assignment.value.tree
        current = model.values.get(f"{transition.machine}.{assignment.variable}")
        if not (isinstance(tree, ParamRef) and isinstance(current, str)
                and params.get(tree.name) == current):
            continue
        for value in options.get(tree.name, ()):
            trial = {**params, tree.name: value}
            if value != current and analysis.score(model, goal.event, trial, target) == 0:
                params = trial
                break
    return params


def _sweep_old_values(driver: Driver, changed: set[str]) -> None:
    """A string variable (a password) was replaced: every refusal that compares a parameter
    with it must now refuse its earlier values too (the old password stops working)."""
    analysis, model = driver.analysis, driver.model
    if not changed:
        return
    old_values = [value for name in sorted(changed)
                  for value in driver.memory.seen.get(name, ()) if value != model.values[name]]
    if not old_values:
        return
    for event, rejections in analysis.rejections.items():
        for compiled in rejections:
            rejection = compiled.element
            if rejection.guard is None or not compiled.applies(model.states):
                continue
            nodes = list(walk(rejection.guard.tree))
            if not any(isinstance(n, VarRef) and n.qualified in changed for n in nodes):
                continue
            params = goal_params(driver, Goal("rejection", rejection.id, event))
            if analysis.refusal_score(model, event, params, rejection.id) != 0:
                continue
            for name in dict.fromkeys(n.name for n in nodes if isinstance(n, ParamRef)):
                for value in old_values:
                    trial = {**params, name: value}
                    if analysis.refusal_score(model, event, trial, rejection.id) == 0:
                        driver.send(event, trial, "goal")


def sweep(run: RunState, goals: list[Goal] | None = None) -> tuple[Failure, Goal] | None:
    """Make every goal happen once, from a fresh start along its route, with the
    refusals around it: the first nonconformance found, with its goal, or None.
    Deterministic; each goal costs its route and a few steps (a thousand more for goals
    past a counter's boundary)."""
    # Shallowest goals first, so that a fault one step from the start is not found only
    # after the thousand-step counters.
    for goal, route in run.roadmap.routes_by_depth(
            run.roadmap.goals if goals is None else goals):
        driver = Driver(run)
        try:
            arrived = True
            for event, params, times in route:
                for _ in range(times):
                    arrived = arrived and driver.send(event, params, "route").accepted
            if arrived:
                _sweep_goal(driver, goal)
        except Nonconformance as error:
            return error.failure, goal
    return None


# -- step deletion ------------------------------------------------------------------------------


def replay(run: RunState, steps: list[tuple[str, Mapping[str, Any]]]) -> Failure | None:
    """Send ``steps`` from a fresh start; the nonconformance they cause, or None."""
    driver = Driver(run)
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
    shrink budget left in. Repeated runs of one step are kept whole."""
    if len(failure.steps) > max_steps:
        return failure
    deadline = time.monotonic() + seconds
    best = failure
    index = len(best.steps) - 2
    saved, run.config.shrink_seconds = run.config.shrink_seconds, None
    try:
        while index >= 0 and time.monotonic() < deadline:
            steps = [(s.event, s.params) for s in best.steps]
            if index >= len(steps) - 1:
                index = len(steps) - 2
                continue
            found = replay(run, steps[:index] + steps[index + 1:])
            if found is not None and len(found.steps) < len(best.steps):
                best = found
            index -= 1
    finally:
        run.config.shrink_seconds = saved
    return best
