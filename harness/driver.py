"""The Hypothesis-free driver of one example: the run's shared state and the step.

``RunState`` is everything one run shares between its examples (model, backend,
coverage, failures, counters, time budget); ``Driver`` sends each step to the model and
the backend and compares them: the backend's ``Response`` against the model's
``Outcome`` (accepted or rejected, and the reason code); then the backend's observation,
if the adapter offers ``observe()`` (states, and variables that are not secret); then the
spec's invariants and step properties on the model (one the model breaks is a spec bug,
reported as kind "invariant" with the step and the rules). A difference raises
``Nonconformance``; a backend that raises, hangs or answers garbage raises
``BackendAbort``: it is a backend error, reported with its step, never a nonconformance.
The Hypothesis machine (machine.py), the sweep (sweep.py) and minimisation (minimise.py)
all drive examples through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis.control import current_build_context

from authspec.model import Executable, Outcome
from authspec.model.expr import policy_checker
from authspec.model.ir import System, Variable
from authspec.model.secrets import hint, relation
from authspec.model.semantics import Snapshot

from .adapter import Observation, Response
from .backends import Backend, BackendFailure
from .codes import Codes
from .coverage import Coverage
from .deadlines import Watch
from .options import CheckOptions
from .records import BackendAbort, Failure, Nonconformance, Origin, RunOver, Step, conforms
from .roadmap import Goal, Roadmap
from .strategies import Analysis, Counter, Memory, analyse


@dataclass
class RunState:
    """Everything one run shares between its examples; ``options`` is the run's
    configuration, read and never changed."""

    system: System
    backend: Backend
    options: CheckOptions
    on_progress: Callable[[RunState], None] | None = None
    watch: Watch | None = None  # told the number of steps sent, at each step
    analysis: Analysis = field(init=False)
    model: Executable = field(init=False)
    roadmap: Roadmap = field(init=False)
    coverage: Coverage = field(init=False)
    secret_variables: frozenset[str] = field(init=False)
    variables: Mapping[str, Variable] = field(init=False)
    policy_checks: Mapping[str, Callable[[str], bool]] = field(init=False)
    codes: Codes = field(init=False)  # the backend's own codes (--codes), see codes.py
    failures: list[Failure] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    first_failure_at: float | None = None
    steps: int = 0
    examples: int = 0
    phase: str = "start"
    notes: list[str] = field(default_factory=list)
    # Refusal goals the sweep could not make hold alone where they first can happen.
    not_isolated: list[Goal] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.analysis = analyse(self.system)
        self.model = Executable(self.system)
        self.roadmap = Roadmap(self.system, self.analysis,
                               repeat_cap=self.options.repeat_cap)
        self.coverage = Coverage(self.system)
        self.secret_variables = frozenset(
            v.qualified for v in self.system.variables if v.secret)
        self.variables = {v.qualified: v for v in self.system.variables}
        self.policy_checks = {p.name: policy_checker(p) for p in self.system.policies}
        self.codes = self.backend.codes

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

    def check_time(self, *, new_example: bool, shrink_budget: bool = True) -> None:
        """Raise ``RunOver`` once the exploration budget is spent (before any failure) or,
        at a new example, the shrink budget (after one), unless ``shrink_budget`` is off
        (minimisation has its own deadline)."""
        now = time.monotonic()
        shrink_seconds = self.options.shrink_seconds
        if self.first_failure_at is None:
            limit = self.options.max_seconds
            if limit is not None and now - self.started > limit:
                raise RunOver("time budget spent")
        elif (new_example and shrink_budget and shrink_seconds is not None
              and now - self.first_failure_at > shrink_seconds):
            try:
                final = current_build_context().is_final
            except Exception:
                final = False
            if not final:
                raise RunOver("shrink budget spent")


class Driver:
    """Sends steps to the model and the backend and compares them (one example)."""

    def __init__(self, run: RunState, *, shrink_budget: bool = True) -> None:
        """A fresh example; with ``shrink_budget`` off, starting it ignores the shrink
        budget (see ``RunState.check_time``)."""
        self.run = run
        run.check_time(new_example=True, shrink_budget=shrink_budget)
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
    def send(self, event: str, params: Mapping[str, Any], origin: Origin) -> Outcome:
        run = self.run
        run.check_time(new_example=False)
        hints = self.lazy_hints(event, params)
        model = self.model
        before = model.current
        expected = model.step(event, params)
        run.coverage.record(expected, model.states)
        run.coverage.record_conditions(before, params, expected)
        self.memory.note(model, self.analysis.str_variables)
        run.steps += 1
        if run.watch is not None:
            run.watch.step(run.steps)
        index = len(self.trace) + 1
        try:
            actual = run.backend.perform(event, params)
        except BackendFailure as error:
            step = Step(index, event, dict(params), expected, None, origin, hints)
            raise BackendAbort(error, (*self.trace, step)) from error
        outcome_only = run.options.compare == "outcome"
        step = Step(index, event, dict(params), expected, actual, origin, hints, outcome_only)
        self.trace.append(step)
        if not conforms(expected, actual, outcome_only=outcome_only):
            self.fail("outcome", _describe_difference(expected, actual),
                      rules=expected.rules)
        run.coverage.note_comparison(expected, actual, outcome_only=outcome_only)
        if run.options.observe and run.backend.can_observe:
            try:
                observation = run.backend.observe()
            except BackendFailure as error:
                raise BackendAbort(error, tuple(self.trace)) from error
            if observation is not None:
                diverged = self.compare(observation)
                if diverged:
                    self.fail("observation", "the backend's state differs from the model's",
                              differences=tuple(text for _, text in diverged),
                              rules=expected.rules,
                              subjects=tuple(subject for subject, _ in diverged))
        broken = model.violated_invariants()
        if broken:
            self.fail("invariant",
                      "the model breaks invariants of the spec: "
                      + ", ".join(f"{i.id} ({i.expr.source})" for i in broken),
                      rules=tuple(r for i in broken for r in i.rules))
        self.check_step_properties(before, event, params, expected)
        if run.on_progress is not None and run.steps % 200 == 0:
            run.on_progress(run)
        return expected

    def check_step_properties(self, before: Snapshot, event: str, params: Mapping[str, Any],
                              expected: Outcome) -> None:
        """Fail (kind "invariant": a spec bug) if the model's step breaks a step property."""
        model = self.model
        broken = model.semantics.violated_step_properties(before, event, params, expected,
                                                          model.snapshot())
        if broken:
            self.fail("invariant",
                      "the model breaks step properties of the spec: "
                      + ", ".join(f"{p.id} ({p.holds.source}) at {p.span}" for p in broken),
                      rules=tuple(dict.fromkeys(r for p in broken for r in p.rules)))

    def fail(self, kind: str, detail: str, *, differences: tuple[str, ...] = (),
             rules: tuple[str, ...] = (), subjects: tuple[str, ...] = ()) -> None:
        """Record and raise a failure; ``subjects``: the variables and machines whose
        observation diverged, each cited with its own rules (``System.rules_of``)."""
        view = {}
        if kind == "observation":  # what a replay compares: what ``compare`` compared
            states, variables = self.model.states, self.run.variables
            view = {"states": dict(states),
                    "variables": {k: v for k, v in self.model.values.items()
                                  if k not in self.run.secret_variables
                                  and variables[k].observed_in(states)}}
        cited = tuple((subject, self.run.system.rules_of(subject))
                      for subject in dict.fromkeys(subjects))
        failure = Failure(kind, tuple(self.trace), detail, differences, rules, view, cited)
        self.run.note_failure(failure)
        raise Nonconformance(failure)

    def compare(self, observation: Observation) -> tuple[tuple[str, str], ...]:
        """Differences between an observation and the model, as (the machine or variable,
        what differs). Secrets are never compared, nor a variable in a state its
        ``unobserved_in`` names; the names and types were checked by the backend
        (answers.py)."""
        run, model = self.run, self.model
        states = model.states
        differences = []
        for machine, state in observation.states.items():
            if state != states[machine]:
                differences.append((machine, f"{machine}: the model is in {states[machine]}, "
                                             f"the backend in {state}"))
        for name, value in observation.variables.items():
            if name in run.secret_variables or not run.variables[name].observed_in(states):
                continue
            if value != model.values[name]:
                differences.append((name, f"{name}: the model has {model.values[name]!r}, "
                                          f"the backend {value!r}"))
        return tuple(differences)

    def hints(self, event: str, params: Mapping[str, Any]) -> dict[str, str]:
        """For each secret string parameter, what it is (shown instead of the secret), in
        the model's current state."""
        return self._hints(event, params, self.model.values, self.memory.seen)

    def lazy_hints(self, event: str, params: Mapping[str, Any]) -> Mapping[str, str]:
        """``hints`` of a step about to be sent, worked out only if someone reads them (a
        failing trace is printed; most steps never are): the model's values before the
        step and the run's memory up to it are kept, both cheaply (a snapshot is immutable
        and the memory only grows)."""
        if not any(p.secret for p in self.analysis.events[event].params):
            return {}
        before, params = self.model.current, dict(params)
        seen = self.memory.seen
        lengths = {name: len(history) for name, history in seen.items()}
        values_of = self.analysis.semantics.values_of

        def compute() -> dict[str, str]:
            return self._hints(event, params, values_of(before),
                               {name: seen[name][:n] for name, n in lengths.items()})

        return LazyHints(compute)

    def _hints(self, event: str, params: Mapping[str, Any], values: Mapping[str, Any],
               seen: Mapping[str, list[str]]) -> dict[str, str]:
        hints: dict[str, str] = {}
        run = self.run
        for param in self.analysis.events[event].params:
            if not param.secret or not isinstance(params.get(param.name), str):
                continue
            value = params[param.name]
            fits = [p for p in param.policies if run.policy_checks[p](value)]
            relations = [found for name in self.analysis.str_variables
                         if isinstance(current := values.get(name), str)
                         and (found := relation(value, name, current,
                                                seen.get(name, ()))) is not None]
            hints[param.name] = hint(len(value), fits, relations)
        return hints


class LazyHints(Mapping[str, str]):
    """A step's hints, computed when first read (see ``Driver.lazy_hints``); pickled and
    compared as the plain dict they are."""

    def __init__(self, compute: Callable[[], dict[str, str]]) -> None:
        self._compute: Callable[[], dict[str, str]] | None = compute
        self._hints: dict[str, str] = {}

    def _value(self) -> dict[str, str]:
        if self._compute is not None:
            self._hints, self._compute = self._compute(), None
        return self._hints

    def __getitem__(self, name: str) -> str:
        return self._value()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._value())

    def __len__(self) -> int:
        return len(self._value())

    def __eq__(self, other: object) -> bool:
        return self._value() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._value())

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (self._value(),)



def _describe_difference(expected: Outcome, actual: Response) -> str:
    text = f"expected {expected}, the backend answered {actual}"
    if actual.stands_for:
        text += f" (standing for {', '.join(sorted(actual.stands_for))})"
    return text
