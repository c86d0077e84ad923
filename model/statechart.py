"""The machines of a spec as genuine python-statemachine classes.

A team that already works with python-statemachine gets its charts from the YAML:
``chart_classes(system)`` gives one ``StateChart`` subclass per machine, with the spec's
states (ids ``s_<state>``), events (``e_<event>``), guards as ``cond`` callbacks and
effects as ``on`` actions. Every chart of a system works on one shared model object
(``SharedModel``): it holds the variables (``model.values['machine.var']``), the
parameters of the event being processed (``model.params``), and each chart's own state
in a field of its own (``model.<machine>_state``), so the charts run side by side as the
parallel regions of one system::

    shared = SharedModel.initial(system)
    charts = {name: cls(model=shared) for name, cls in chart_classes(system).items()}

A chart alone does not know the spec's refusals nor that effects of several machines are
committed together; ``Composition`` coordinates the charts of a system to do what one
event does (semantics.py states the rule): it tries the refusals itself, commits the effects
of the deciding one and moves its chart to the refusal's target by setting the chart's
state field (a refusal is no transition of the chart). It is the design authspec ran on before the
pure semantics, kept as an independent second implementation: the differential test
(tests/test_semantics.py) runs random traces through both and asserts identical answers,
and benchmarks/bench_model.py measures both. Nothing on the hot path of simulate or check
goes through it (python-statemachine's ``send`` costs a few hundred microseconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from statemachine import StateChart
from statemachine.io.class_factory import create_machine_class_from_definition

from .errors import ModelError
from .expr import compile_expr
from .ir import Machine, Rejection, System, Transition
from .semantics import Outcome, Snapshot

STATE_PREFIX = "s_"
EVENT_PREFIX = "e_"
_class_numbers = count()


@dataclass
class SharedModel:
    """The object every chart of a system reads and acts on (see the module docstring)."""

    values: dict[str, Any]
    states: dict[str, str]  # machine -> state, kept by Composition (charts keep their own)
    params: Mapping[str, Any] = field(default_factory=dict)
    pending: list[tuple[str, Any]] = field(default_factory=list)  # effects not committed
    fired: list[Transition] = field(default_factory=list)

    @classmethod
    def initial(cls, system: System) -> SharedModel:
        model = cls({v.qualified: v.initial for v in system.variables},
                    {m.name: m.initial.name for m in system.machines})
        for machine in system.machines:
            setattr(model, state_field(machine.name), STATE_PREFIX + machine.initial.name)
        return model


def state_field(machine: str) -> str:
    """The attribute of the shared model holding ``machine``'s chart state."""
    return f"{machine}_state"


def chart_classes(system: System) -> dict[str, type[StateChart]]:
    """One python-statemachine ``StateChart`` class per machine of ``system``."""
    return {m.name: chart_class(system, m) for m in system.machines}


def chart_class(system: System, machine: Machine) -> type[StateChart]:
    """The ``StateChart`` class of one machine; instantiate it with ``model=SharedModel``
    and ``state_field=state_field(machine.name)`` (``new_chart`` does)."""
    policies = {p.name: p for p in system.policies}
    definition: dict[str, Any] = {
        STATE_PREFIX + s.name: {"initial": s.initial, "final": s.final, "on": {}}
        for s in machine.states
    }
    for transition in machine.transitions:
        callbacks = _callbacks(transition, policies)
        target = None if transition.target is None else STATE_PREFIX + transition.target
        for source in transition.sources:
            definition[STATE_PREFIX + source]["on"].setdefault(
                EVENT_PREFIX + transition.event, []).append({"target": target, **callbacks})
    # python-statemachine validates graph shape at class creation; authspec's own static
    # checks (checks.py) report those findings with locations instead.
    return create_machine_class_from_definition(
        f"{_class_name(machine.name)}Chart{next(_class_numbers)}", states=definition,
        catch_errors_as_events=False, enable_self_transition_entries=False,
        allow_event_without_transition=True, validate_disconnected_states=False,
        validate_trap_states=False, validate_final_reachability=False)


def _callbacks(transition: Transition, policies: Mapping[str, Any]) -> dict[str, Any]:
    guard = compile_expr(transition.guard.tree, policies) if transition.guard else None
    effects = [(f"{transition.machine}.{a.variable}", compile_expr(a.value.tree, policies))
               for a in transition.effects]

    def take(model: SharedModel) -> None:
        model.fired.append(transition)
        params, values, states = model.params, model.values, model.states
        model.pending.extend((key, value(params, values, states)) for key, value in effects)

    callbacks: dict[str, Any] = {"on": take}
    if guard is not None:
        callbacks["cond"] = lambda model: bool(guard(model.params, model.values, model.states))
    return callbacks


def new_chart(cls: type[StateChart], machine: str, model: SharedModel) -> StateChart:
    """An instance of a chart class on ``model``, in the state ``model`` holds for it."""
    return cls(model=model, state_field=state_field(machine))


class Composition:
    """The charts of a system coordinated as parallel regions (see the module docstring).

    Moves forward only; ``reset`` starts over with fresh charts."""

    def __init__(self, system: System):
        self.system = system
        self.classes = chart_classes(system)
        policies = {p.name: p for p in system.policies}
        self._refusals: dict[str, list[tuple[Rejection, Any, list[tuple[str, Any]]]]] = {
            e.name: [] for e in system.events}
        for rejection in system.rejections:
            guard = (compile_expr(rejection.guard.tree, policies)
                     if rejection.guard else None)
            effects = [(f"{rejection.machine}.{a.variable}", compile_expr(a.value.tree, policies))
                       for a in rejection.effects]
            self._refusals[rejection.event].append((rejection, guard, effects))
        self._handles = {(m.name, e): any(t.event == e for t in m.transitions)
                         for m in system.machines for e in self._refusals}
        self.reset()

    def reset(self) -> None:
        self.model = SharedModel.initial(self.system)
        self.charts = {name: new_chart(cls, name, self.model)
                       for name, cls in self.classes.items()}

    def snapshot(self) -> Snapshot:
        """The state read back from the charts' own configurations."""
        states = []
        for machine in self.system.machines:
            (active,) = [s.id for s in self.charts[machine.name].configuration] or [
                getattr(self.model, state_field(machine.name))]
            states.append(active.removeprefix(STATE_PREFIX))
        return Snapshot(tuple(states),
                        tuple(self.model.values[v.qualified] for v in self.system.variables))

    def step(self, event: str, params: Mapping[str, Any]) -> Outcome:
        if event not in self._refusals:
            raise ModelError(f"unknown event {event!r}")
        model = self.model
        for rejection, guard, effects in self._refusals[event]:
            if rejection.sources and model.states[rejection.machine] not in rejection.sources:
                continue
            if guard is None or guard(params, model.values, model.states):
                self._refused(rejection, effects, params)
                return Outcome(event, False, rejection.reason, (), rejection.id,
                               rejection.rules)
        model.params, model.pending, model.fired = params, [], []
        for machine in self.system.machines:
            if self._handles[(machine.name, event)]:
                self.charts[machine.name].send(EVENT_PREFIX + event)
        fired = model.fired
        if not fired:
            return Outcome(event, False, self.system.otherwise)
        for key, value in model.pending:
            model.values[key] = value
        for transition in fired:
            if transition.target is not None:
                model.states[transition.machine] = transition.target
        rules = tuple(dict.fromkeys(r for t in fired for r in t.rules))
        return Outcome(event, True, None, tuple(t.id for t in fired), None, rules)

    def _refused(self, rejection: Rejection, effects: list[tuple[str, Any]],
                 params: Mapping[str, Any]) -> None:
        """The deciding refusal's effects (all read before any is written) and target."""
        model = self.model
        new = [(key, value(params, model.values, model.states)) for key, value in effects]
        model.values.update(new)
        if rejection.target is not None:
            model.states[rejection.machine] = rejection.target
            setattr(model, state_field(rejection.machine), STATE_PREFIX + rejection.target)


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


__all__ = ["Composition", "SharedModel", "chart_class", "chart_classes", "new_chart",
           "state_field"]
