"""Entities: many customers, and what is theirs.

A spec of one customer says nothing of entities and means exactly what it always meant. A
system that has several instances of something (customers, accounts, devices) declares
them in its system file::

    entities:
      customer: [alice, bob]            # short form: every machine exists once per customer

    entities:
      customer:
        instances: 2                    # customer1, customer2
        machines: [account, session]    # only these exist per customer; the rest are shared
        label: {en: Customer}

The language, in five rules:

1. **Instances are finite and declared.** An entity kind is an enumeration of its
   instances; ``customer`` is also a type, so an event may declare a parameter naming
   another instance (``params: {payee: {type: customer}}``).
2. **Machines per instance.** A machine of the kind (every machine, in the short form)
   exists once per instance, with its own state and its own variables.
3. **Events name their instance.** Every event that a per-instance machine reacts to gets
   an implicit first parameter named after the kind (``customer``), whose value selects
   the instance that acts: only that instance's transitions and refusals are considered,
   and only its variables are assigned. Events only shared machines react to get none.
4. **What is one's own is unqualified.** Inside a guard, effect or invariant of an
   instance's machine, ``x``, ``state``, ``login_password.current`` all mean the same
   instance's (the spec of one customer is read unchanged for each customer). Another
   instance's state is read only through an explicit reference: ``session[payee].state``
   (a parameter naming an instance) or ``session['bob'].state`` (a declared instance).
   A shared machine reads the acting instance's state unqualified too, when its event
   names one. Effects assign only the acting machine's own variables.
5. **Invariants hold for every instance.** An invariant that reads per-instance machines
   unqualified is stated once per instance (per combination, for several kinds).
6. **Step properties speak of the acting instance.** In a step property whose events all
   name an instance of the kind, ``before.session.state`` is the acting customer's session;
   otherwise the property is stated once per instance, as an invariant is.

**Grounding.** The loader builds the spec as written (the *template*) and grounds it here
(``ground``) into an ordinary ``System``: machine ``session`` becomes ``session[alice]``
and ``session[bob]``, in place (so the priority order of machines is the written one),
and everything of an instance machine is named after it: transition
``session[alice].login``, state ``session[alice].logged_in`` (coverage), variable
``session[alice].failures`` (observations), invariant ``session[alice].one_session``;
a system invariant ``I3`` becomes ``I3[alice]``. Each instance's transition and refusal
has its guard prefixed by the selector ``customer == 'alice' and (...)``, and its names
resolved to the instance (``expr.Select`` for a reference chosen by a parameter). Because
the result is an ordinary system, there is still one pure semantics (semantics.py
``step``): its snapshot holds one configuration and one valuation per instance, the
event's instance parameter selects them, and the static checks, harness, diagrams and
report work on it unchanged. The harness draws ``customer`` like any other enumeration.

**Partitions.** ``partition`` (and ``project``, ``project_history``) project a snapshot or
a history onto one instance, for the linearizability check to come: a history of a
system with no cross-instance reads and no shared machines is linearizable iff each
instance's projection is (P-compositionality). ``cross_instance_reads`` lists the
elements that prevent it.

**Tokens with identity** (docs/spec-language.md): an int parameter with ``issued_by:
request_reset`` (``Param.issued_by``, loader) selects one of the tokens that event issued
for the acting instance, counted back from the latest (0 the latest), as an index the
adapter maps to the concrete token it kept (``authspec.harness.tokens.TokenBook``, which
keys the tokens by the event's instance parameters).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from . import expr as ex
from . import stepprops
from .errors import SpecError, SpecErrors
from .ir import (
    BOOL,
    Assignment,
    Event,
    Expr,
    Invariant,
    Machine,
    Rejection,
    StepProperty,
    System,
    Transition,
    instance_name,
)

# What a reference of a kind means where it is read: a fixed instance, or the instance a
# parameter names.
_Own = tuple[str, str]  # ("instance", "alice") or ("param", "customer")
_Element = TypeVar("_Element", Transition, Rejection)


class _Grounder:
    """Grounds a template system (see the module docstring), collecting located errors."""

    def __init__(self, system: System):
        self.system = system
        self.kind_of = {m: e.kind for e in system.entities for m in e.machines}
        self.instances = {e.kind: e.instances for e in system.entities}
        self.errors: list[SpecError] = []

    # -- expressions ----------------------------------------------------------------------
    def tree(self, node: ex.Node, ctx: Mapping[str, _Own], expr: Expr) -> ex.Node:
        """``node`` with every reference to a per-instance machine resolved (see rule 4)."""
        if isinstance(node, ex.VarRef | ex.StateRef):
            kind = self.kind_of.get(node.machine)
            if kind is None:
                return node
            name = node.name if isinstance(node, ex.VarRef) else "state"
            own = ctx.get(kind)
            if own is None:
                self._unnamed(node, node.machine, name, kind, expr)
                return node
            return self.pick(node.offset, node.machine, name, own)
        if isinstance(node, ex.InstanceRef):
            index = node.index
            own = (("instance", index.value) if isinstance(index, ex.Lit)
                   else ("param", index.name))  # type: ignore[attr-defined]
            return self.pick(node.offset, node.machine, node.name, own)
        return self._rebuild(node, ctx, expr)

    def _rebuild(self, node: ex.Node, ctx: Mapping[str, _Own], expr: Expr) -> ex.Node:
        if isinstance(node, ex.Unary):
            return replace(node, operand=self.tree(node.operand, ctx, expr))
        if isinstance(node, ex.Binary):
            return replace(node, left=self.tree(node.left, ctx, expr),
                           right=self.tree(node.right, ctx, expr))
        if isinstance(node, ex.Call):
            return replace(node, args=tuple(self.tree(a, ctx, expr) for a in node.args))
        if isinstance(node, ex.ListLit):
            return replace(node, items=tuple(self.tree(i, ctx, expr) for i in node.items))
        return node

    def pick(self, offset: int, machine: str, name: str, own: _Own) -> ex.Node:
        """The reference to ``machine``'s ``name`` of the instance ``own`` says."""
        how, which = own
        if how == "instance":
            return _leaf(offset, instance_name(machine, which), name)
        cases = tuple((i, _leaf(offset, instance_name(machine, i), name))
                      for i in self.instances[self.kind_of[machine]])
        return ex.Select(offset, which, machine, name, cases)

    def _unnamed(self, node: ex.Node, machine: str, name: str, kind: str, expr: Expr) -> None:
        first = self.instances[kind][0]
        self.errors.append(SpecError(
            expr.span_at(node.offset),
            f"{machine}.{name} exists once per {kind}, and nothing here names which one",
            f"read one {kind}'s: {machine}[param].{name} with a parameter of type {kind}, "
            f"or {machine}['{first}'].{name}"))

    def expression(self, expr: Expr | None, ctx: Mapping[str, _Own]) -> Expr | None:
        return None if expr is None else self.present(expr, ctx)

    def guard(self, expr: Expr | None, ctx: Mapping[str, _Own], selector: tuple[str, str] | None,
              span: Any) -> Expr | None:
        """The guard of one instance's element: the selector, then the written guard."""
        grounded = self.expression(expr, ctx)
        if selector is None:
            return grounded
        param, instance = selector
        test = ex.Binary(-1, "==", ex.ParamRef(-1, param), ex.Lit(-1, instance))
        if grounded is None:
            return Expr(f"{param} == '{instance}'", test, BOOL, span)
        return replace(grounded, source=f"{param} == '{instance}' and ({grounded.source})",
                       tree=ex.Binary(-1, "and", test, grounded.tree))

    # -- elements -------------------------------------------------------------------------
    def context(self, event: Event, machine: Machine, instance: str) -> dict[str, _Own]:
        ctx: dict[str, _Own] = {p.entity: ("param", p.name) for p in event.acts_on}
        if instance:
            ctx[machine.entity] = ("instance", instance)
        return ctx

    def selector(self, event: Event, machine: Machine, instance: str) -> tuple[str, str] | None:
        if not instance:
            return None
        param = next(p for p in event.acts_on if p.entity == machine.entity)
        return param.name, instance

    def effects(self, effects: tuple[Assignment, ...], ctx: Mapping[str, _Own]
                ) -> tuple[Assignment, ...]:
        return tuple(replace(a, value=self.present(a.value, ctx)) for a in effects)

    def present(self, expr: Expr, ctx: Mapping[str, _Own]) -> Expr:
        """``expr`` grounded (for an expression that is always there)."""
        return replace(expr, tree=self.tree(expr.tree, ctx, expr))

    def element(self, e: _Element, machine: Machine, name: str, instance: str) -> _Element:
        """A transition or refusal of one instance's machine: renamed, its guard behind
        the instance's selector, its names resolved to the instance."""
        event = self.system.event(e.event)
        ctx = self.context(event, machine, instance)
        return replace(e, id=_renamed(e.id, machine.name, name), machine=name,
                       guard=self.guard(e.guard, ctx, self.selector(event, machine, instance),
                                        e.span),
                       effects=self.effects(e.effects, ctx))

    def invariants(self, invariant: Invariant, ctx: Mapping[str, _Own], iid: str,
                   machine: str | None) -> list[Invariant]:
        """One invariant per combination of instances of the kinds it reads (rule 5)."""
        kinds = sorted({self.kind_of[n.machine] for n in ex.walk(invariant.expr.tree)
                        if isinstance(n, ex.VarRef | ex.StateRef) and n.machine in self.kind_of}
                       - set(ctx))
        result = []
        for combination in itertools.product(*(self.instances[k] for k in kinds)):
            inner = {**ctx, **{k: ("instance", i) for k, i in zip(kinds, combination,
                                                                   strict=True)}}
            suffix = "".join(f"[{i}]" for i in combination)
            result.append(replace(invariant, id=iid + suffix, machine=machine,
                                  expr=self.present(invariant.expr, inner)))
        return result

    def step_property(self, prop: StepProperty) -> list[StepProperty]:
        """A step property grounded (rule 6): a reference to a per-instance machine means
        the acting instance's (the one the property's events all name, by their implicit
        parameter); when they do not all name one, the property is stated once per
        instance, as an invariant is."""
        tree, moments = stepprops.without_moments(prop.holds.tree)
        kinds = {self.kind_of[n.machine] for n in ex.walk(tree)
                 if isinstance(n, ex.VarRef | ex.StateRef) and n.machine in self.kind_of}
        events = ([self.system.event(e) for e in prop.events] if prop.events
                  else list(self.system.events))
        ctx: dict[str, _Own] = {}
        for kind in sorted(kinds):
            names = {p.name for e in events for p in e.acts_on if p.entity == kind}
            if len(names) == 1 and all(any(p.entity == kind for p in e.acts_on)
                                       for e in events):
                ctx[kind] = ("param", names.pop())
        rest = sorted(kinds - set(ctx))
        result = []
        for combination in itertools.product(*(self.instances[k] for k in rest)):
            inner = {**ctx, **{k: ("instance", i) for k, i in zip(rest, combination,
                                                                   strict=True)}}
            grounded = _at_moments(self.tree(tree, inner, prop.holds), moments)
            suffix = "".join(f"[{i}]" for i in combination)
            result.append(replace(prop, id=prop.id + suffix,
                                  holds=replace(prop.holds, tree=grounded)))
        return result

    def machine(self, machine: Machine, instance: str) -> Machine:
        name = instance_name(machine.name, instance) if instance else machine.name
        ctx: dict[str, _Own] = {machine.entity: ("instance", instance)} if instance else {}
        invariants = [grounded for i in machine.invariants
                      for grounded in self.invariants(i, ctx, _renamed(i.id, machine.name, name),
                                                      name)]
        return replace(
            machine, name=name, instance=instance, template=machine.name if instance else "",
            states=tuple(replace(s, machine=name) for s in machine.states),
            variables=tuple(replace(v, machine=name) for v in machine.variables),
            transitions=tuple(self.element(t, machine, name, instance)
                              for t in machine.transitions),
            rejections=tuple(self.element(r, machine, name, instance)
                             for r in machine.rejections),
            invariants=tuple(invariants))

    def system_(self) -> System:
        machines: list[Machine] = []
        for machine in self.system.machines:
            if machine.entity:
                machines.extend(self.machine(machine, i) for i in self.instances[machine.entity])
            else:
                machines.append(self.machine(machine, ""))
        invariants = tuple(g for i in self.system.invariants
                           for g in self.invariants(i, {}, i.id, None))
        step_properties = tuple(g for p in self.system.step_properties
                                for g in self.step_property(p))
        if self.errors:
            raise SpecErrors(self.errors)
        return replace(self.system, machines=tuple(machines), invariants=invariants,
                       step_properties=step_properties, _index={})


def _at_moments(node: ex.Node, moments: Mapping[int, str]) -> ex.Node:
    """A grounded step-property tree with its ``before.``/``after.`` prefixes back (see
    stepprops.without_moments), in the cases of a ``Select`` too."""
    if isinstance(node, ex.VarRef | ex.StateRef) and node.offset in moments:
        return replace(node, machine=f"{moments[node.offset]}.{node.machine}")
    if isinstance(node, ex.Select) and node.offset in moments:
        moment = moments[node.offset]
        return replace(node, machine=f"{moment}.{node.machine}", cases=tuple(
            (i, _at_moments(case, moments)) for i, case in node.cases))
    return stepprops.map_children(node, lambda child: _at_moments(child, moments))


def _leaf(offset: int, machine: str, name: str) -> ex.Node:
    return ex.StateRef(offset, machine) if name == "state" else ex.VarRef(offset, machine, name)


def _renamed(element_id: str, machine: str, name: str) -> str:
    """``session.login`` of ``session[alice]`` -> ``session[alice].login``."""
    return name + element_id[len(machine):]


def ground(system: System) -> System:
    """The ordinary system a template with entities stands for (module docstring); a system
    without entities is returned as it is. Raises ``SpecErrors`` for a reference to a
    per-instance machine that names no instance."""
    if not system.entities:
        return system
    return _Grounder(system).system_()


# -- partitions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """The part of a grounded system's snapshots that belongs to one instance."""

    kind: str
    instance: str
    machines: tuple[str, ...]  # the instance's machines, in the system's order
    variables: tuple[str, ...]  # their variables, qualified
    state_positions: tuple[int, ...]
    value_positions: tuple[int, ...]

    def of(self, snapshot: Any) -> Any:
        """The projection of a ``semantics.Snapshot`` onto the instance (a Snapshot whose
        states and values are the instance's, in the system's order)."""
        from .semantics import Snapshot

        return Snapshot(tuple(snapshot.states[i] for i in self.state_positions),
                        tuple(snapshot.values[i] for i in self.value_positions))


def partition(semantics: Any, kind: str, instance: str) -> Partition:
    """The partition of ``semantics`` (a compiled grounded system) for one instance."""
    system: System = semantics.system
    entity = system.entity(kind)
    if instance not in entity.instances:
        from .errors import ModelError

        raise ModelError(f"{instance!r} is not an instance of {kind} "
                         f"(instances: {', '.join(entity.instances)})")
    machines = tuple(m.name for m in system.machines
                     if m.entity == kind and m.instance == instance)
    variables = tuple(v.qualified for m in system.machines if m.name in machines
                      for v in m.variables)
    return Partition(kind, instance, machines, variables,
                     tuple(semantics.machine_index[m] for m in machines),
                     tuple(semantics.variable_index[v] for v in variables))


def project(semantics: Any, snapshot: Any, kind: str, instance: str) -> Any:
    """``snapshot`` projected onto one instance (see ``Partition.of``)."""
    return partition(semantics, kind, instance).of(snapshot)


def acting_instance(system: System, event: str, params: Mapping[str, Any], kind: str
                    ) -> str | None:
    """The instance of ``kind`` that ``event`` with ``params`` acts on (None: it names none)."""
    param = next((p for p in system.event(event).acts_on if p.entity == kind), None)
    return None if param is None else params.get(param.name)


def project_history(system: System, history: Iterable[Any], kind: str, instance: str
                    ) -> list[Any]:
    """The operations of ``history`` that act on ``instance``, in order. Each operation is
    an object with ``event`` and ``params`` attributes, or an ``(event, params, ...)``
    tuple; operations are returned as given."""
    kept = []
    for operation in history:
        if isinstance(operation, tuple):
            event, params = operation[0], operation[1]
        else:
            event, params = operation.event, operation.params
        if acting_instance(system, event, params, kind) == instance:
            kept.append(operation)
    return kept


def twin_route(system: System, route: Iterable[tuple[str, dict[str, Any], int]]
               ) -> list[tuple[str, dict[str, Any], int]]:
    """A route of ``(event, params, times)`` steps with each step that acts on an instance
    followed by the same step for every other instance of its kind: the instances walk
    the same road side by side, so a step of one that changes, or is decided by, another's
    state shows in the other's next step or observation (the harness's isolation sweep)."""
    twinned = []
    for event, params, times in route:
        twinned.append((event, params, times))
        for param in system.event(event).acts_on:
            own = params.get(param.name)
            twinned.extend((event, {**params, param.name: other}, times)
                           for other in system.entity(param.entity).instances if other != own)
    return twinned


def first_instances(system: System) -> dict[str, str]:
    """Entity kind -> its first instance."""
    return {e.kind: e.instances[0] for e in system.entities}


def stand_in(system: System, element_id: str) -> tuple[str, str, str] | None:
    """For an element of an instance other than its kind's first: the id of the same
    element of the first instance, the kind and the instance (``session[bob].login`` ->
    ``("session[alice].login", "customer", "bob")``); None for any other element.
    Instances are interchangeable, so a route to one serves the other, renamed
    (``swapped``): the harness's roadmap explores the first instance only."""
    first = first_instances(system)
    for machine in system.machines:
        if (machine.instance and machine.instance != first[machine.entity]
                and element_id.startswith(machine.name + ".")):
            twin = instance_name(machine.template, first[machine.entity])
            return twin + element_id[len(machine.name):], machine.entity, machine.instance
    return None


def swapped(system: System, event: str, params: Mapping[str, Any], kind: str, one: str,
            other: str) -> dict[str, Any]:
    """``params`` of ``event`` with the instances ``one`` and ``other`` of ``kind`` swapped
    in every parameter that names an instance of that kind."""
    swap = {one: other, other: one}
    kinds = {p.name for p in system.event(event).params if p.entity == kind}
    return {name: swap.get(value, value) if name in kinds else value
            for name, value in params.items()}


def cross_instance_reads(system: System) -> list[str]:
    """The ids of the elements of a grounded system that read an instance other than their
    own or a shared machine's state, or whose shared machine reacts to an instance's event:
    what keeps a history from being checked one instance at a time."""
    owner = {m.name: (m.entity, m.instance) for m in system.machines}
    found = []
    for machine in system.machines:
        elements: list[Transition | Rejection] = [*machine.transitions, *machine.rejections]
        for element in elements:
            trees = [e.tree for e in (element.guard, *(a.value for a in element.effects))
                     if e is not None]
            if not machine.instance or any(_foreign(tree, owner, machine) for tree in trees):
                found.append(element.id)
    return found


def _foreign(tree: ex.Node, owner: Mapping[str, tuple[str, str]], machine: Machine) -> bool:
    for node in ex.walk(tree):
        if isinstance(node, ex.Select):
            return True
        if isinstance(node, ex.VarRef | ex.StateRef) and owner[node.machine] != (
                machine.entity, machine.instance):
            return True
    return False


__all__ = [
    "Partition",
    "acting_instance",
    "cross_instance_reads",
    "first_instances",
    "ground",
    "partition",
    "project",
    "project_history",
    "stand_in",
    "swapped",
    "twin_route",
]
