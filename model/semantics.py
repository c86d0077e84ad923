"""The one semantics of authspec: what one event does, as a pure function.

A loaded ``System`` is compiled once (``semantics_of``) into a ``Semantics``: per event, its
refusals in priority order with their guard closures, and per machine and state the
candidate transitions with their guard and effect closures. Everything that runs a spec
reads this one structure: the stateful ``Executable`` (runtime.py), ``simulate``, the
conformance harness's analysis and sweep, and the exploration and linearizability checks
to come. The rule below is written here and nowhere else::

    step(snapshot, event, params) -> (Outcome, Snapshot)

1. **Refusals first** (``deciding_refusal``). The event's refusals are tried in priority
   order: machines in the order of the system file's ``machines:``, then the order within
   each file. The first whose machine is in one of its ``from`` states (any state when it
   names none) and whose guard holds refuses the event with its reason. A refused event
   changes nothing (the snapshot returned is the one given) unless the deciding refusal has
   effects or a target (``do:``/``to:`` on a ``rejects`` entry: a wrong password is refused
   *and* counted): then its effects, read from the snapshot before the event, are committed
   and its machine moves to its target, by the same ``commit`` as transitions; no transition
   fires and the outcome stays the refusal's (not accepted, with its reason).
2. **Otherwise every machine moves that can** (``enabled_transitions``). For each machine
   with transitions for the event from its current state, the first whose guard holds is
   taken (the static checks prove that at most one can hold). Guards and the right-hand
   sides of effects all read the snapshot *before* the event; the effects of all machines
   are then committed together (``commit``).
3. **If no machine moved**, the event is refused with the system's ``otherwise`` reason.

``step`` is pure, as Porcupine's model step must be: it never mutates its input, and the
same snapshot, event and parameters always give the same answer. Snapshots are immutable,
hashable tuples (one state per machine, one value per variable, in the system's order), so
they serve as keys of explored state spaces and as linearization points.

The runtime enforces what the spec declares: an effect that would take an ``int`` outside
its ``min``/``max``, or a division or modulo by zero in a guard or an effect, raises a
``ModelError`` naming the spec's file, line and column, the event and what to change.

Step properties (``step_properties:``, stepprops.py) are conditions on a whole step; they are
not part of ``step`` but judged of its result by the pure ``violated_step_properties(before,
event, params, outcome, after)``: simulate, the harness and the exploration to come all ask it.

Guards and effects are compiled with positional keys (``expr.Keys``): closures read the
snapshot tuples directly, with no dictionary built per step. Consumers that need closures
of their own over the same snapshots (the harness's analysis of guard conjuncts) get them
from ``Semantics.compile``.

``guard_conditions`` and ``condition_values`` (pure, outside the step) split a guard into its
atomic conditions and give the value of each in a snapshot: the harness's condition and
MC/DC coverage (harness/coverage.py) counts them from the model's own expressions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any

from .errors import ModelError
from .expr import (
    Binary,
    Evaluator,
    Keys,
    Node,
    StateRef,
    Unary,
    VarRef,
    compile_expr,
    unparse,
    walk,
)
from .ir import (
    Assignment,
    Event,
    Invariant,
    Policy,
    Rejection,
    Span,
    StepProperty,
    System,
    Transition,
    Variable,
)


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
    """The whole state of a system: one state per machine and one value per variable, in
    the order of ``System.machines`` and ``System.variables``. Hashable and comparable."""

    states: tuple[str, ...]
    values: tuple[Any, ...]


# -- the compiled structure ---------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledEffect:
    """One assignment of a transition or refusal: ``variable := value`` (value read before
    the event)."""

    assignment: Assignment
    variable: Variable
    index: int  # position of the variable in the snapshot's values
    value: Evaluator
    low: int | None  # the declared range of an int variable (None: not bounded)
    high: int | None


@dataclass(frozen=True)
class CompiledRefusal:
    """One refusal of the spec, ready to be tried against a snapshot."""

    rejection: Rejection
    machine: int  # position of its machine in the snapshot's states
    sources: frozenset[str]  # empty: in any state
    guard: Evaluator | None
    outcome: Outcome  # what the model answers when this refusal decides
    effects: tuple[CompiledEffect, ...] = ()  # committed when it decides (rule 1)

    @property
    def target(self) -> str | None:
        return self.rejection.target

    def in_source(self, states: tuple[str, ...]) -> bool:
        """Whether the refusal's machine is in one of its ``from`` states."""
        return not self.sources or states[self.machine] in self.sources


@dataclass(frozen=True)
class CompiledTransition:
    """One transition of the spec, ready to be tried against a snapshot."""

    transition: Transition
    machine: int
    sources: frozenset[str]
    guard: Evaluator | None
    effects: tuple[CompiledEffect, ...]
    outcome: Outcome  # what the model answers when this transition alone fires

    @property
    def target(self) -> str | None:
        return self.transition.target

    def in_source(self, states: tuple[str, ...]) -> bool:
        return states[self.machine] in self.sources


@dataclass(frozen=True)
class EventTable:
    """Everything the semantics needs to process one event."""

    event: Event
    refusals: tuple[CompiledRefusal, ...]  # in priority order
    # For each machine with transitions for the event: its position and, per state, the
    # candidate transitions from that state in spec order.
    moves: tuple[tuple[int, Mapping[str, tuple[CompiledTransition, ...]]], ...]
    transitions: tuple[CompiledTransition, ...]  # all of the event's, in spec order
    otherwise: Outcome
    param_names: frozenset[str]
    domains: tuple[tuple[str, Callable[[Any], bool]], ...]  # each parameter's type test


@dataclass(frozen=True)
class CompiledInvariant:
    invariant: Invariant
    holds: Evaluator
    reads: frozenset[str]  # the variables ("machine.var") and machines (states) it reads


@dataclass(frozen=True)
class CompiledStepProperty:
    """A step property ready to be judged: ``holds(params, values, states)`` reads the
    parameters with ``event``, ``accepted`` and ``reason`` added, the values of the snapshot
    before followed by those after, and the states likewise (``step_keys``)."""

    property: StepProperty
    holds: Evaluator


Element = (CompiledRefusal | CompiledTransition | CompiledEffect | CompiledInvariant
           | CompiledStepProperty)


@dataclass(frozen=True, eq=False)
class Semantics:
    """A System compiled for ``step`` (see the module docstring). Build it with
    ``semantics_of(system)``; it is immutable and may be shared between threads."""

    system: System
    machines: tuple[str, ...]
    variables: tuple[Variable, ...]
    machine_index: Mapping[str, int]
    variable_index: Mapping[str, int]
    events: Mapping[str, EventTable]
    invariants: tuple[CompiledInvariant, ...]
    initial: Snapshot
    keys: Keys
    policies: Mapping[str, Policy]  # by name, as the compiled closures were given them
    _combined: dict[tuple[str, ...], Outcome] = field(default_factory=dict, repr=False)
    _may_accept: dict[tuple[tuple[str, ...], str], bool] = field(default_factory=dict,
                                                                  repr=False)
    _touched: dict[tuple[str | None, ...], tuple[CompiledInvariant, ...]] = field(
        default_factory=dict, repr=False)
    # Per event, the step properties that apply to it, in spec order.
    step_properties: Mapping[str, tuple[CompiledStepProperty, ...]] = field(
        default_factory=lambda: MappingProxyType({}))

    # -- the three hooks of one step ----------------------------------------------------------
    def deciding_refusal(self, table: EventTable, snapshot: Snapshot,
                         params: Mapping[str, Any]) -> CompiledRefusal | None:
        """Rule 1: the first refusal, in priority order, that applies and whose guard holds."""
        states, values = snapshot.states, snapshot.values
        refusal = None
        try:
            for refusal in table.refusals:
                if refusal.sources and states[refusal.machine] not in refusal.sources:
                    continue
                if refusal.guard is None or refusal.guard(params, values, states):
                    return refusal
        except ArithmeticError as error:
            raise self._located(refusal, table, error) from None
        return None

    def enabled_transitions(self, table: EventTable, snapshot: Snapshot,
                            params: Mapping[str, Any]) -> list[CompiledTransition]:
        """Rule 2: per machine, the first candidate transition whose guard holds."""
        states, values = snapshot.states, snapshot.values
        fired: list[CompiledTransition] = []
        transition = None
        try:
            for machine, by_state in table.moves:
                for transition in by_state.get(states[machine], ()):
                    if transition.guard is None or transition.guard(params, values, states):
                        fired.append(transition)
                        break
        except ArithmeticError as error:
            raise self._located(transition, table, error) from None
        return fired

    def commit(self, table: EventTable, snapshot: Snapshot, params: Mapping[str, Any],
               fired: list[CompiledTransition] | list[CompiledRefusal]) -> Snapshot:
        """Rule 2, second half (and rule 1 for a deciding refusal with effects or a target):
        every effect computed from ``snapshot``, then all committed together with the targets
        of ``fired``. Range-checked: see the module docstring."""
        states, values = snapshot.states, snapshot.values
        new_values: list[Any] | None = None
        new_states: list[str] | None = None
        for transition in fired:
            for effect in transition.effects:
                try:
                    value = effect.value(params, values, states)
                except ArithmeticError as error:
                    raise self._located(effect, table, error) from None
                if (effect.low is not None and value < effect.low) or (
                        effect.high is not None and value > effect.high):
                    raise self._out_of_range(effect, table, value)
                if new_values is None:
                    new_values = list(values)
                new_values[effect.index] = value
            target = transition.target
            if target is not None and target != states[transition.machine]:
                if new_states is None:
                    new_states = list(states)
                new_states[transition.machine] = target
        if new_values is None and new_states is None:
            return snapshot
        return Snapshot(states if new_states is None else tuple(new_states),
                        values if new_values is None else tuple(new_values))

    # -- the step -----------------------------------------------------------------------------
    def step(self, snapshot: Snapshot, event: str,
             params: Mapping[str, Any]) -> tuple[Outcome, Snapshot]:
        """What ``event`` with ``params`` does in ``snapshot``: the outcome and the snapshot
        after it (the same object when refused, unless the deciding refusal has effects or a
        target that change it). Pure. Raises ``ModelError`` for an event
        or parameters the spec does not declare, and for a runtime error of the spec."""
        table = self.table(event)
        self.check_params(table, params)
        return self.step_checked(table, snapshot, params)

    def step_checked(self, table: EventTable, snapshot: Snapshot,
                     params: Mapping[str, Any]) -> tuple[Outcome, Snapshot]:
        """``step`` for parameters already checked against the event's declaration."""
        refusal = self.deciding_refusal(table, snapshot, params)
        if refusal is not None:
            if refusal.effects or refusal.target is not None:
                return refusal.outcome, self.commit(table, snapshot, params, [refusal])
            return refusal.outcome, snapshot
        fired = self.enabled_transitions(table, snapshot, params)
        if not fired:
            return table.otherwise, snapshot
        after = self.commit(table, snapshot, params, fired)
        if len(fired) == 1:
            return fired[0].outcome, after
        return self._outcome_of(table, fired), after

    def _outcome_of(self, table: EventTable, fired: list[CompiledTransition]) -> Outcome:
        ids = tuple(t.transition.id for t in fired)
        outcome = self._combined.get(ids)
        if outcome is None:
            rules = tuple(dict.fromkeys(r for t in fired for r in t.transition.rules))
            outcome = Outcome(table.event.name, True, None, ids, None, rules)
            self._combined[ids] = outcome  # a benign race: every writer writes the same
        return outcome

    # -- questions about a snapshot -----------------------------------------------------------
    def table(self, event: str) -> EventTable:
        table = self.events.get(event)
        if table is None:
            known = ", ".join(self.events)
            raise ModelError(f"unknown event {event!r}; the spec declares: {known}")
        return table

    def check_params(self, table: EventTable, params: Mapping[str, Any]) -> None:
        """Raise ``ModelError`` unless ``params`` are exactly the event's, each in its domain.
        The message never shows a secret's value."""
        names = table.param_names
        if params.keys() == names and all(
                contains(params[name]) for name, contains in table.domains):
            return
        if params.keys() != names:
            missing, extra = names - params.keys(), params.keys() - names
            parts = []
            if missing:
                parts.append(f"missing {', '.join(sorted(missing))}")
            if extra:
                parts.append(f"unknown {', '.join(sorted(map(str, extra)))}")
            raise ModelError(f"event {table.event.name}: {'; '.join(parts)} "
                             f"(parameters: {', '.join(sorted(names)) or 'none'})")
        for param in table.event.params:
            value = params[param.name]
            if not param.type.contains(value):
                shown = f"<secret {type(value).__name__}>" if param.secret else repr(value)
                raise ModelError(f"event {table.event.name}: {param.name}={shown} is not a "
                                 f"{param.type.describe()}")

    def violated_invariants(self, snapshot: Snapshot,
                            only: tuple[CompiledInvariant, ...] | None = None) -> list[Invariant]:
        """The spec's invariants that ``snapshot`` breaks, in spec order (``only``: those
        of them to evaluate, see ``invariants_touched``)."""
        states, values = snapshot.states, snapshot.values
        broken = []
        for compiled in self.invariants if only is None else only:
            try:
                holds = compiled.holds({}, values, states)
            except ArithmeticError as error:
                raise self._located(compiled, None, error) from None
            if not holds:
                broken.append(compiled.invariant)
        return broken

    def violated_step_properties(self, before: Snapshot, event: str, params: Mapping[str, Any],
                                 outcome: Outcome, after: Snapshot) -> list[StepProperty]:
        """The step properties that the step from ``before`` by ``event`` with ``params`` to
        ``outcome`` and ``after`` breaks, in spec order. Pure: it reads only what it is given
        (the model's step, or a backend's observed one)."""
        compiled = self.step_properties.get(event, ())
        if not compiled:
            return []
        seen = {**params, "event": event, "accepted": outcome.accepted,
                "reason": outcome.reason}
        values, states = before.values + after.values, before.states + after.states
        broken = []
        for prop in compiled:
            try:
                holds = prop.holds(seen, values, states)
            except ArithmeticError as error:
                raise self._located(prop, self.events.get(event), error) from None
            if not holds:
                broken.append(prop.property)
        return broken

    def invariants_touched(self, outcome: Outcome) -> tuple[CompiledInvariant, ...]:
        """The invariants that read a variable or a state that ``outcome``'s transitions (or
        its deciding refusal) write: after a step from a snapshot where every invariant held,
        only these can break. (Remembered per combination of transitions.)"""
        key = (outcome.event, outcome.rejection, *outcome.transitions)
        touched = self._touched.get(key)
        if touched is None:
            table = self.events[outcome.event]
            written: set[str] = set()
            deciding: list[CompiledTransition | CompiledRefusal] = [
                *(t for t in table.transitions if t.transition.id in outcome.transitions),
                *(r for r in table.refusals if r.rejection.id == outcome.rejection)]
            for element in deciding:
                written.update(e.variable.qualified for e in element.effects)
                if element.target is not None:
                    written.add(self.machines[element.machine])
            touched = tuple(i for i in self.invariants if i.reads & written)
            self._touched[key] = touched
        return touched

    def applicable_refusals(self, snapshot: Snapshot, event: str) -> list[CompiledRefusal]:
        """The event's refusals whose machine is in one of their states, in priority order."""
        states = snapshot.states
        return [r for r in self.table(event).refusals if r.in_source(states)]

    def candidate_transitions(self, snapshot: Snapshot, event: str) -> list[CompiledTransition]:
        """The event's transitions that leave a current state, in spec order."""
        states = snapshot.states
        return [t for t in self.table(event).transitions if t.in_source(states)]

    def may_accept(self, snapshot: Snapshot, event: str) -> bool:
        """Whether some parameters could make ``event`` accepted, judged from the states
        alone: no unconditional refusal applies and some transition leaves a current state.
        (Remembered per configuration: there are finitely many.)"""
        key = (snapshot.states, event)
        known = self._may_accept.get(key)
        if known is None:
            table = self.table(event)
            states = snapshot.states
            known = not any(r.guard is None and r.in_source(states) for r in table.refusals) \
                and any(states[machine] in by_state for machine, by_state in table.moves)
            self._may_accept[key] = known  # a benign race: every writer writes the same
        return known

    def states_of(self, snapshot: Snapshot) -> Mapping[str, str]:
        """Machine name -> state, read-only."""
        return MappingProxyType(dict(zip(self.machines, snapshot.states, strict=True)))

    def values_of(self, snapshot: Snapshot) -> Mapping[str, Any]:
        """``machine.variable`` -> value, read-only."""
        return MappingProxyType({v.qualified: value for v, value
                                 in zip(self.variables, snapshot.values, strict=True)})

    def snapshot_of(self, states: Mapping[str, str], values: Mapping[str, Any]) -> Snapshot:
        """The snapshot of named states and values (every machine and variable named)."""
        return Snapshot(tuple(states[m] for m in self.machines),
                        tuple(values[v.qualified] for v in self.variables))

    def check_snapshot(self, snapshot: Any) -> Snapshot:
        """``snapshot`` if it is one of this system's; a ``ModelError`` saying why not."""
        if not isinstance(snapshot, Snapshot):
            raise ModelError(f"not a Snapshot: {type(snapshot).__name__}")
        if len(snapshot.states) != len(self.machines) or len(snapshot.values) != len(
                self.variables):
            raise ModelError(f"a snapshot of another system: {len(snapshot.states)} states and "
                             f"{len(snapshot.values)} values, this one has "
                             f"{len(self.machines)} machines and {len(self.variables)} "
                             "variables")
        return snapshot

    def compile(self, node: Node) -> Evaluator:
        """A closure over this semantics' snapshots for an expression of the spec."""
        return compile_expr(node, self.policies, self.keys)


    # -- located runtime errors ---------------------------------------------------------------
    def _located(self, element: Element | None, table: EventTable | None,
                 error: ArithmeticError) -> ModelError:
        span, what = _where(element)
        during = f" during {table.event.name}" if table is not None else ""
        return ModelError(f"{span}: {what} fails{during}: {error}\n    hint: a divisor "
                          "that can be zero: guard it (for example 'd != 0 and n // d > 1') "
                          "or divide by a constant")

    def _out_of_range(self, effect: CompiledEffect, table: EventTable, value: Any) -> ModelError:
        variable = effect.variable
        return ModelError(
            f"{effect.assignment.span}: effect {variable.name}: {effect.assignment.value.source}"
            f" during {table.event.name} gives {value}, outside {variable.qualified}'s range "
            f"[{variable.type.min}, {variable.type.max}]\n    hint: add a guard that keeps the "
            "result in range, or widen the variable's min/max (authspec validate reports "
            "such effects as effect-out-of-range)")


def _where(element: Element | None) -> tuple[Span | str, str]:
    if isinstance(element, CompiledRefusal):
        r = element.rejection
        return (r.guard.span if r.guard else r.span), f"the guard of refusal {r.id}"
    if isinstance(element, CompiledTransition):
        t = element.transition
        return (t.guard.span if t.guard else t.span), f"the guard of transition {t.id}"
    if isinstance(element, CompiledEffect):
        a = element.assignment
        return a.span, f"effect {element.variable.qualified} := {a.value.source}"
    if isinstance(element, CompiledInvariant):
        i = element.invariant
        return i.expr.span, f"invariant {i.id} ({i.expr.source})"
    if isinstance(element, CompiledStepProperty):
        p = element.property
        return p.holds.span, f"step property {p.id} ({p.holds.source})"
    return "<spec>", "an expression"


# -- compilation --------------------------------------------------------------------------------


@cache
def semantics_of(system: System) -> Semantics:
    """The compiled semantics of ``system`` (compiled once per system)."""
    return _compile(system)


def _compile(system: System) -> Semantics:
    machines = tuple(m.name for m in system.machines)
    machine_index = {name: i for i, name in enumerate(machines)}
    variables = system.variables
    variable_index = {v.qualified: i for i, v in enumerate(variables)}
    keys = Keys(variable=variable_index.__getitem__, state=machine_index.__getitem__)
    policies = {p.name: p for p in system.policies}

    def compiled(expr: Any) -> Evaluator | None:
        return None if expr is None else compile_expr(expr.tree, policies, keys)

    refusals: dict[str, list[CompiledRefusal]] = {e.name: [] for e in system.events}
    for r in system.rejections:
        refusals[r.event].append(CompiledRefusal(
            r, machine_index[r.machine], frozenset(r.sources), compiled(r.guard),
            Outcome(r.event, False, r.reason, (), r.id, r.rules),
            tuple(_effect(system, r.machine, a, variable_index, policies, keys)
                  for a in r.effects)))
    transitions: dict[str, list[CompiledTransition]] = {e.name: [] for e in system.events}
    for t in system.transitions:
        effects = tuple(_effect(system, t.machine, a, variable_index, policies, keys)
                        for a in t.effects)
        transitions[t.event].append(CompiledTransition(
            t, machine_index[t.machine], frozenset(t.sources), compiled(t.guard), effects,
            Outcome(t.event, True, None, (t.id,), None, tuple(dict.fromkeys(t.rules)))))
    tables = {e.name: _table(e, refusals[e.name], transitions[e.name], system.otherwise)
              for e in system.events}
    invariants = tuple(CompiledInvariant(i, compile_expr(i.expr.tree, policies, keys),
                                         _reads(i.expr.tree))
                       for i in system.all_invariants)
    initial = Snapshot(tuple(m.initial.name for m in system.machines),
                       tuple(v.initial for v in variables))
    return Semantics(system, machines, variables, MappingProxyType(machine_index),
                     MappingProxyType(variable_index), MappingProxyType(tables), invariants,
                     initial, keys, MappingProxyType(policies),
                     step_properties=_step_properties(system, machine_index, variable_index,
                                                      policies))


def step_keys(machine_index: Mapping[str, int], variable_index: Mapping[str, int]) -> Keys:
    """Where a step property's ``before.m.x`` and ``after.m.x`` (and ``before.m.state``)
    are in the concatenation of the two snapshots: before's positions, then after's."""
    n_machines, n_values = len(machine_index), len(variable_index)

    def variable(name: str) -> int:
        moment, _, qualified = name.partition(".")
        return variable_index[qualified] + (n_values if moment == "after" else 0)

    def state(name: str) -> int:
        moment, _, machine = name.partition(".")
        return machine_index[machine] + (n_machines if moment == "after" else 0)

    return Keys(variable=variable, state=state)


def _step_properties(system: System, machine_index: Mapping[str, int],
                     variable_index: Mapping[str, int], policies: Mapping[str, Policy]
                     ) -> Mapping[str, tuple[CompiledStepProperty, ...]]:
    keys = step_keys(machine_index, variable_index)
    compiled = [CompiledStepProperty(p, compile_expr(p.holds.tree, policies, keys))
                for p in system.step_properties]
    return MappingProxyType({
        e.name: tuple(c for c in compiled if c.property.applies_to(e.name))
        for e in system.events})


def _reads(tree: Node) -> frozenset[str]:
    """The variables and machines (for their states) an expression reads."""
    return frozenset(n.qualified if isinstance(n, VarRef) else n.machine
                     for n in walk(tree) if isinstance(n, VarRef | StateRef))


def _effect(system: System, machine: str, assignment: Assignment,
            variable_index: Mapping[str, int], policies: Mapping[str, Any],
            keys: Keys) -> CompiledEffect:
    variable = system.machine(machine).variable(assignment.variable)
    assert variable is not None, f"{assignment.span}: the loader resolves effect targets"
    bounded = variable.type.kind == "int"
    return CompiledEffect(assignment, variable, variable_index[variable.qualified],
                          compile_expr(assignment.value.tree, policies, keys),
                          variable.type.min if bounded else None,
                          variable.type.max if bounded else None)


def _table(event: Event, refusals: list[CompiledRefusal], transitions: list[CompiledTransition],
           otherwise: str) -> EventTable:
    by_machine: dict[int, dict[str, list[CompiledTransition]]] = {}
    for t in transitions:
        per_state = by_machine.setdefault(t.machine, {})
        for source in t.transition.sources:
            per_state.setdefault(source, []).append(t)
    moves = tuple((machine, MappingProxyType({s: tuple(ts) for s, ts in per_state.items()}))
                  for machine, per_state in sorted(by_machine.items()))
    return EventTable(event, tuple(refusals), moves, tuple(transitions),
                      Outcome(event.name, False, otherwise),
                      frozenset(p.name for p in event.params),
                      tuple((p.name, p.type.contains) for p in event.params))


# -- the conditions of a guard (condition coverage, MC/DC) -------------------------------------


#: The boolean operators whose operands are conditions of their own; every other node of a
#: guard's boolean structure is one atomic condition.
CONNECTIVES = frozenset({"and", "or", "implies"})


@dataclass(frozen=True)
class Condition:
    """One atomic condition of a guard (``method == 'otp'``, ``not`` stripped), compiled
    over the semantics' snapshots like the guard itself."""

    node: Node
    source: str
    holds: Evaluator


@dataclass(frozen=True)
class GuardConditions:
    """The atomic conditions of one guard, in the order written, and the guard's boolean
    structure over them (``shape``: ``("leaf", i)``, ``("not", a)`` or ``(op, a, b)`` for
    ``and``/``or``/``implies``), from which ``decides`` tells whether one condition alone
    settles the guard's value (MC/DC)."""

    conditions: tuple[Condition, ...]
    shape: tuple[Any, ...]

    def outcome(self, values: tuple[bool, ...]) -> bool:
        """The guard's value for the conditions' ``values`` (as the guard computes it)."""
        return _shape_value(self.shape, values)

    def decides(self, values: tuple[bool | None, ...], index: int) -> bool:
        """Whether condition ``index`` alone decides the guard at ``values``: flipping it
        flips the guard, every other condition kept (None: a condition that could not be
        evaluated, so nothing is decided)."""
        if any(v is None for i, v in enumerate(values) if i != index):
            return False
        known = tuple(bool(v) for v in values)
        as_true = (*known[:index], True, *known[index + 1:])
        as_false = (*known[:index], False, *known[index + 1:])
        return _shape_value(self.shape, as_true) != _shape_value(self.shape, as_false)


def _shape_value(shape: tuple[Any, ...], values: tuple[bool, ...]) -> bool:
    kind = shape[0]
    if kind == "leaf":
        return values[shape[1]]
    if kind == "not":
        return not _shape_value(shape[1], values)
    left = _shape_value(shape[1], values)
    right = _shape_value(shape[2], values)
    if kind == "and":
        return left and right
    if kind == "or":
        return left or right
    return (not left) or right


def atomic_conditions(tree: Node) -> tuple[tuple[Node, ...], tuple[Any, ...]]:
    """The atomic conditions of a guard's tree, in the order written, and its boolean
    structure over them (see ``GuardConditions.shape``)."""
    nodes: list[Node] = []

    def shape(node: Node) -> tuple[Any, ...]:
        if isinstance(node, Binary) and node.op in CONNECTIVES:
            return (node.op, shape(node.left), shape(node.right))
        if isinstance(node, Unary) and node.op == "not":
            return ("not", shape(node.operand))
        nodes.append(node)
        return ("leaf", len(nodes) - 1)

    structure = shape(tree)
    return tuple(nodes), structure


def guard_conditions(semantics: Semantics, tree: Node | None) -> GuardConditions:
    """The atomic conditions of a guard's tree (none for an unconditional element), each
    compiled by ``semantics`` as the guard is. Pure; compile once per guard and reuse."""
    if tree is None:
        return GuardConditions((), ("leaf", -1))
    nodes, structure = atomic_conditions(tree)
    return GuardConditions(tuple(Condition(n, unparse(n), semantics.compile(n)) for n in nodes),
                           structure)


def condition_values(conditions: GuardConditions, snapshot: Snapshot,
                     params: Mapping[str, Any]) -> tuple[bool | None, ...]:
    """The truth value of each condition of a guard in ``snapshot`` with ``params``, read
    by the model's own compiled expressions (all of them, with no short circuit: the
    value a condition would have). None for a condition that cannot be evaluated there
    (a division by zero that the guard's own short circuit avoids). Pure."""
    values, states = snapshot.values, snapshot.states
    out: list[bool | None] = []
    for condition in conditions.conditions:
        try:
            out.append(bool(condition.holds(params, values, states)))
        except (ArithmeticError, KeyError, TypeError):
            out.append(None)
    return tuple(out)


__all__ = [
    "CompiledEffect",
    "CompiledRefusal",
    "CompiledStepProperty",
    "CompiledTransition",
    "Condition",
    "EventTable",
    "GuardConditions",
    "Outcome",
    "Semantics",
    "Snapshot",
    "atomic_conditions",
    "condition_values",
    "guard_conditions",
    "semantics_of",
]
