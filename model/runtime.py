"""The executable model: a loaded System compiled to python-statemachine charts.

Each machine of the system becomes one ``StateChart`` (python-statemachine 3.x); an
``Executable`` coordinates them as parallel regions sharing variables. One event is
processed like this (the semantics every other tool relies on):

1. Refusals first. The event's rejections are tried in priority order (machines in the
   system file's order, then the order in each file). The first whose machine is in one
   of its ``from`` states and whose guard holds refuses the event with its reason.
   A refused event changes nothing.
2. Otherwise the event is sent to every machine that has a transition for it from its
   current state. Each chart selects its transition by the guards (the static checks make
   sure at most one holds). Guards and the right-hand sides of effects all read the state
   *before* the event; the effects of all machines are then committed together.
3. If no machine moved, the event is refused with the system's ``otherwise`` reason.

The ``Outcome`` of each event names the transitions taken or the refusal, and the rule
IDs they cite, so a harness can compare a backend's answer and explain a difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import count
from typing import Any

from statemachine import StateChart
from statemachine.io.class_factory import create_machine_class_from_definition

from .errors import ModelError
from .expr import Evaluator, compile_expr
from .ir import Event, Invariant, Machine, Rejection, System, Transition

_STATE_PREFIX = "s_"
_EVENT_PREFIX = "e_"
_class_numbers = count()


@dataclass(frozen=True)
class Outcome:
    """What the model says of one event."""

    event: str
    accepted: bool
    reason: str | None = None
    transitions: tuple[str, ...] = ()  # ids of the transitions taken
    rejection: str | None = None  # id of the deciding refusal (None for 'otherwise')
    rules: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "accepted" if self.accepted else f"rejected({self.reason})"


@dataclass(frozen=True)
class Snapshot:
    """The whole state of an Executable: hashable, comparable, cheap to restore."""

    states: tuple[str, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True)
class _CompiledRejection:
    rejection: Rejection
    sources: frozenset[str]
    guard: Evaluator | None


class Executable:
    """A running instance of a System. Not thread-safe; make one per thread."""

    def __init__(self, system: System, *, check_invariants: bool = False):
        self.system = system
        self.check_invariants = check_invariants
        self._machines = system.machines
        self._variables = system.variables
        self._policies = {p.name: p for p in system.policies}
        self._events: dict[str, Event] = {e.name: e for e in system.events}
        self._rejections = self._compile_rejections()
        self._invariants = [(i, compile_expr(i.expr.tree, self._policies))
                            for i in system.all_invariants]
        # Per step scratch, read by the chart callbacks.
        self._params: Mapping[str, Any] = {}
        self._pending: list[tuple[str, Any]] = []
        self._fired: list[Transition] = []
        self.values: dict[str, Any] = {}
        self.states: dict[str, str] = {}
        self._charts: dict[str, StateChart] = {}
        self._chart_classes: dict[str, type[StateChart]] = {}
        self._candidates: dict[tuple[str, str], frozenset[str]] = {}
        for machine in self._machines:
            self._chart_classes[machine.name] = self._compile_machine(machine)
            self._charts[machine.name] = self._chart_classes[machine.name]()
        self.reset()

    # -- compilation ---------------------------------------------------------------------------
    def _compile_rejections(self) -> dict[str, list[_CompiledRejection]]:
        table: dict[str, list[_CompiledRejection]] = {e.name: [] for e in self.system.events}
        for rejection in self.system.rejections:
            guard = (compile_expr(rejection.guard.tree, self._policies)
                     if rejection.guard else None)
            table[rejection.event].append(
                _CompiledRejection(rejection, frozenset(rejection.sources), guard))
        return table

    def _compile_machine(self, machine: Machine) -> type[StateChart]:
        definition: dict[str, dict[str, Any]] = {
            _STATE_PREFIX + s.name: {"initial": s.initial, "final": s.final, "on": {}}
            for s in machine.states
        }
        handled: dict[str, set[str]] = {s.name: set() for s in machine.states}
        for transition in machine.transitions:
            callbacks = self._transition_callbacks(transition)
            for source in transition.sources:
                target = (None if transition.target is None
                          else _STATE_PREFIX + transition.target)
                definition[_STATE_PREFIX + source]["on"].setdefault(
                    _EVENT_PREFIX + transition.event, []).append({"target": target, **callbacks})
                handled[source].add(transition.event)
        for state, events in handled.items():
            self._candidates[(machine.name, state)] = frozenset(events)
        # python-statemachine validates graph shape at class creation; authspec's own static
        # checks (checks.py) report those findings with locations instead.
        return create_machine_class_from_definition(
            f"{_class_name(machine.name)}Chart{next(_class_numbers)}", states=definition,
            catch_errors_as_events=False, enable_self_transition_entries=False,
            allow_event_without_transition=True, validate_disconnected_states=False,
            validate_trap_states=False, validate_final_reachability=False)

    def _transition_callbacks(self, transition: Transition) -> dict[str, Any]:
        guard = (compile_expr(transition.guard.tree, self._policies)
                 if transition.guard else None)
        effects = [(f"{transition.machine}.{a.variable}", compile_expr(a.value.tree,
                                                                         self._policies))
                   for a in transition.effects]

        def take() -> None:
            self._fired.append(transition)
            params, values, states = self._params, self.values, self.states
            self._pending.extend((key, value(params, values, states)) for key, value in effects)

        callbacks: dict[str, Any] = {"on": take}
        if guard is not None:
            callbacks["cond"] = lambda: bool(guard(self._params, self.values, self.states))
        return callbacks

    # -- state ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the initial configuration and initial values."""
        self.values = {v.qualified: v.initial for v in self._variables}
        for machine in self._machines:
            self._set_state(machine.name, machine.initial.name)

    def _set_state(self, machine: str, state: str) -> None:
        chart = self._charts[machine]
        if chart.is_terminated:
            # A chart that entered a final state has stopped for good; going back in time
            # (reset, restore) needs a fresh instance.
            chart = self._charts[machine] = self._chart_classes[machine]()
        chart.model.state = _STATE_PREFIX + state
        self.states[machine] = state

    @property
    def configuration(self) -> dict[str, str]:
        """Machine name -> its current state."""
        return dict(self.states)

    def snapshot(self) -> Snapshot:
        return Snapshot(tuple(self.states[m.name] for m in self._machines),
                        tuple(self.values[v.qualified] for v in self._variables))

    def restore(self, snapshot: Snapshot) -> None:
        for machine, state in zip(self._machines, snapshot.states, strict=True):
            self._set_state(machine.name, state)
        self.values = {v.qualified: value
                       for v, value in zip(self._variables, snapshot.values, strict=True)}

    def chart(self, machine: str) -> StateChart:
        """The python-statemachine chart of one machine (read it; do not send to it)."""
        return self._charts[machine]

    # -- events --------------------------------------------------------------------------------
    def send(self, event: str, **params: Any) -> Outcome:
        return self.step(event, params)

    def step(self, event: str, params: Mapping[str, Any]) -> Outcome:
        """Process one event; return what the model says of it."""
        self._check_params(event, params)
        states, values = self.states, self.values
        for compiled in self._rejections[event]:
            rejection = compiled.rejection
            if compiled.sources and states[rejection.machine] not in compiled.sources:
                continue
            if compiled.guard is None or compiled.guard(params, values, states):
                return Outcome(event, False, rejection.reason, (), rejection.id,
                               rejection.rules)
        self._params, self._pending, self._fired = params, [], []
        chart_event = _EVENT_PREFIX + event
        for machine in self._machines:
            if event in self._candidates[(machine.name, states[machine.name])]:
                self._charts[machine.name].send(chart_event)
        fired = self._fired
        if not fired:
            return Outcome(event, False, self.system.otherwise)
        for key, value in self._pending:
            values[key] = value
        for transition in fired:
            if transition.target is not None:
                states[transition.machine] = transition.target
        rules = tuple(dict.fromkeys(r for t in fired for r in t.rules))
        outcome = Outcome(event, True, None, tuple(t.id for t in fired), None, rules)
        if self.check_invariants:
            broken = self.violated_invariants()
            if broken:
                raise InvariantViolation(outcome, broken)
        return outcome

    def _check_params(self, event: str, params: Mapping[str, Any]) -> None:
        declared = self._events.get(event)
        if declared is None:
            known = ", ".join(self._events)
            raise ModelError(f"unknown event {event!r}; the spec declares: {known}")
        names = {p.name for p in declared.params}
        extra = set(params) - names
        missing = names - set(params)
        if extra or missing:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(sorted(missing))}")
            if extra:
                parts.append(f"unknown {', '.join(sorted(extra))}")
            raise ModelError(f"event {event}: {'; '.join(parts)} "
                             f"(parameters: {', '.join(sorted(names)) or 'none'})")
        for param in declared.params:
            value = params[param.name]
            if not param.type.contains(value):
                raise ModelError(f"event {event}: {param.name}={value!r} is not a "
                                 f"{param.type.describe()}")

    def violated_invariants(self) -> list[Invariant]:
        return [inv for inv, holds in self._invariants
                if not holds({}, self.values, self.states)]

    def with_state(self, run: Callable[[], Any]) -> Any:
        """Run ``run`` and put the state back as it was (for look-ahead)."""
        saved = self.snapshot()
        try:
            return run()
        finally:
            self.restore(saved)


class InvariantViolation(AssertionError):
    def __init__(self, outcome: Outcome, invariants: list[Invariant]):
        self.outcome = outcome
        self.invariants = invariants
        names = ", ".join(f"{i.id} ({i.expr.source}) at {i.span}" for i in invariants)
        super().__init__(f"after {outcome.event}: invariant broken: {names}")


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
