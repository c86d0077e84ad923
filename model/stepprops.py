"""The names of step properties: what a ``holds:`` expression may read, and how it is checked.

A step property is a condition on one whole step, not on one state. Its expression reads:

- ``before.machine.variable`` and ``before.machine.state``: the value before the step;
  ``after.machine.variable`` and ``after.machine.state``: the value after it. In a machine
  file, ``before.variable`` and ``before.state`` (and ``after.``...) name that machine's own.
  A variable or state named without ``before.`` or ``after.`` is an error: a step has two
  values of each, and the spec must say which one it means.
- the event's parameters by name, as in guards, when the property lists its ``events:`` and
  every listed event declares the parameter with the same type;
- ``event``: the event's name (``event == 'pay'``; an enum of the events it applies to);
- ``accepted``: whether the model accepted the event;
- ``reason``: the reason code of a refusal (``reason == 'wrong_password'``; on an accepted
  step it equals no code, so ``reason != 'x'`` holds and ``reason == 'x'`` does not).

``check_holds`` parses and checks such an expression and returns the resolved tree, in which
variable and state references name their machine ``before.m`` or ``after.m`` (so ``unparse``
shows them as written, and ``semantics.py`` compiles them against the two snapshots).
Every error is an ``ExprError`` at the offset of the name or operator at fault.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from . import expr as ex
from .errors import ExprError
from .ir import BOOL, Event, Policy, Type

#: The two moments of a step an expression names a value at.
MOMENTS = ("before", "after")
#: The names a step property reads besides parameters: what the step was and what came of it.
OUTCOME_NAMES = ("event", "accepted", "reason")


class _StepParser(ex._Parser):
    """The expression parser, and ``before.``/``after.`` in front of a name."""

    def name_or_call(self) -> ex.Node:
        first = self.tok
        following = self.tokens[self.pos + 1]
        if first.text not in MOMENTS or following.text != ".":
            return super().name_or_call()
        self.take()
        self.take()
        if self.tok.kind != "name":
            raise ExprError(f"expected a name after '{first.text}.'", self.tok.offset,
                            f"write {first.text}.machine.variable or {first.text}.machine.state")
        inner = super().name_or_call()
        if not isinstance(inner, ex.Name):
            raise ExprError(f"'{first.text}.' goes before a variable or a state, not a call",
                            first.offset, f"write len({first.text}.machine.variable)")
        return ex.Name(first.offset, (first.text, *inner.parts))


def parse(source: str) -> ex.Node:
    """Parse a step property's expression (the language of guards, plus ``before.``/``after.``)."""
    tree = _StepParser(source).parse()
    ex._check_depth(tree)
    return tree


@dataclass(frozen=True)
class StepScope:
    """What a step property may name: its own machine (None in the system file or a
    properties file), the events it applies to (empty: all), and the system's names."""

    machine: str | None
    events: tuple[Event, ...]
    all_events: tuple[str, ...]
    reasons: tuple[str, ...]
    variables: Mapping[str, Mapping[str, Type]]
    states: Mapping[str, tuple[str, ...]]
    policies: Mapping[str, Policy]

    def params(self) -> dict[str, Type]:
        """The parameters every listed event declares with the same type."""
        if not self.events:
            return {}
        first, *rest = self.events
        return {p.name: p.type for p in first.params
                if all((other := e.param(p.name)) is not None and other.type == p.type
                       for e in rest)}

    def outcome_names(self) -> dict[str, Type]:
        names = tuple(e.name for e in self.events) or self.all_events
        return {"event": Type("enum", "event", names), "accepted": BOOL,
                "reason": Type("enum", "reason", self.reasons)}


def check_holds(source: str, scope: StepScope) -> tuple[ex.Node, Type]:
    """The resolved tree of a step property's expression; ``ExprError`` for what is wrong."""
    names = {**scope.params(), **scope.outcome_names()}
    moments: dict[int, str] = {}
    tree = _rename(parse(source), _Renamer(scope, names, moments))
    checker = ex.Scope(names, None, scope.variables, scope.states, scope.policies)
    resolved, typ = ex.check(tree, checker, BOOL)
    return _at_moments(resolved, moments), typ


@dataclass(frozen=True)
class _Renamer:
    """Turns each written name into one ``expr.check`` resolves, remembering its moment."""

    scope: StepScope
    names: Mapping[str, Type]
    moments: dict[int, str]

    def __call__(self, node: ex.Name) -> ex.Name:
        parts = node.parts
        if parts[0] in MOMENTS and len(parts) > 1:
            self.moments[node.offset] = parts[0]
            return ex.Name(node.offset, self.qualified(node, parts[0], parts[1:]))
        if len(parts) == 1 and (parts[0] in self.names or parts[0] in self.scope.policies):
            return node
        raise self.unresolved(node)

    def qualified(self, node: ex.Name, moment: str, rest: tuple[str, ...]) -> tuple[str, ...]:
        """``(machine, name)`` for ``before.machine.name`` or, in a machine, ``before.name``."""
        if len(rest) == 2:
            return rest
        (name,) = rest
        own = self.scope.machine
        if own is not None and (name == "state" or name in self.scope.variables[own]):
            return (own, name)
        if name in self.scope.states:
            raise ExprError(f"'{moment}.{name}' names a machine, not a value", node.offset,
                            f"write {moment}.{name}.state or {moment}.{name}.<variable>")
        if own is None:
            raise ExprError(f"unknown name '{moment}.{name}'", node.offset,
                            f"outside a machine file write {moment}.machine.variable or "
                            f"{moment}.machine.state; machines: {', '.join(self.scope.states)}")
        known = ", ".join(["state", *self.scope.variables[own]])
        raise ExprError(f"machine {own!r} has no variable {name!r}", node.offset,
                        f"{own} has: {known}; another machine's are written "
                        f"{moment}.machine.name")

    def unresolved(self, node: ex.Name) -> ExprError:
        written = ".".join(node.parts)
        if node.parts[0] in MOMENTS:
            return ExprError(f"'{written}' needs a name after it", node.offset,
                             f"write {written}.machine.variable or {written}.machine.state")
        if self._is_value(node.parts):
            return ExprError(f"say whether {written!r} is meant before or after the step",
                             node.offset, f"write {self._choices(node.parts)}")
        if len(node.parts) == 1 and any(e.param(written) for e in self.scope.events):
            lacking = [e.name for e in self.scope.events if e.param(written) is None]
            return ExprError(f"parameter {written!r} is not declared alike by every event the "
                             "property lists", node.offset, f"lacking or of another type in: "
                             f"{', '.join(lacking) or 'some of them'}; list fewer events")
        params = ", ".join(p for p in self.names if p not in OUTCOME_NAMES) or "none"
        return ExprError(f"unknown name {written!r}", node.offset,
                         f"a step property reads parameters ({params}; list the property's "
                         "'events:' to read theirs), event, accepted, reason, and "
                         "before.machine.name / after.machine.name")

    def _choices(self, parts: tuple[str, ...]) -> str:
        """``before.x or after.x`` for a value written without its moment (qualified with
        the machines that have it, when it is not the property's own machine's)."""
        own = self.scope.machine
        if len(parts) == 2 or (own is not None and (
                parts[0] == "state" or parts[0] in self.scope.variables[own])):
            written = [".".join(parts)]
        else:
            written = [f"{m}.{parts[0]}" for m, names in self.scope.variables.items()
                       if parts[0] in names]
        return " or ".join(f"{moment}.{w}" for w in written for moment in MOMENTS)

    def _is_value(self, parts: tuple[str, ...]) -> bool:
        own = self.scope.machine
        if len(parts) == 2:
            return parts[0] in self.scope.states
        name = parts[0]
        return (own is not None and (name == "state" or name in self.scope.variables[own])) \
            or any(name in names for names in self.scope.variables.values())


def _rename(node: ex.Node, rename: _Renamer) -> ex.Node:
    """``node`` with every name passed through ``rename`` (a policy argument left alone)."""
    if isinstance(node, ex.Name):
        return rename(node)
    if isinstance(node, ex.Call) and node.func == "matches" and len(node.args) == 2:
        return replace(node, args=(_rename(node.args[0], rename), node.args[1]))
    return map_children(node, lambda child: _rename(child, rename))


def _at_moments(node: ex.Node, moments: Mapping[int, str]) -> ex.Node:
    """The resolved tree with each variable and state reference's machine named
    ``before.m`` or ``after.m``, as the name was written."""
    if isinstance(node, ex.VarRef | ex.StateRef) and node.offset in moments:
        return replace(node, machine=f"{moments[node.offset]}.{node.machine}")
    return map_children(node, lambda child: _at_moments(child, moments))


def map_children(node: ex.Node, change: Callable[[ex.Node], ex.Node]) -> ex.Node:
    """``node`` with ``change`` applied to each direct sub-expression."""
    updates: dict[str, Any] = {}
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, ex.Node):
            updates[f.name] = change(value)
        elif isinstance(value, tuple) and value and isinstance(value[0], ex.Node):
            updates[f.name] = tuple(change(item) for item in value)
    return replace(node, **updates) if updates else node


def without_moments(tree: ex.Node) -> tuple[ex.Node, dict[int, str]]:
    """The tree with ``before.m``/``after.m`` references turned back into plain ``m`` ones,
    and the moment of each by offset (``with_moments`` undoes it): for tools that look
    variables up in the system, such as the masking of secrets in reports."""
    moments: dict[int, str] = {}

    def strip(node: ex.Node) -> ex.Node:
        if isinstance(node, ex.VarRef | ex.StateRef) and "." in node.machine:
            moment, machine = split_moment(node.machine)
            moments[node.offset] = moment
            return replace(node, machine=machine)
        return map_children(node, strip)

    return strip(tree), moments


def with_moments(tree: ex.Node, moments: Mapping[int, str]) -> ex.Node:
    """Undo ``without_moments``."""
    return _at_moments(tree, moments)


def split_moment(machine: str) -> tuple[str, str]:
    """``("before", "session")`` for the machine ``before.session`` of a resolved reference."""
    moment, _, name = machine.partition(".")
    return moment, name
