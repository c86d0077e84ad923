"""Shared helpers of the diagrams, the report and the diff: readable text of guards and effects,
secret masking, shortening, and the structural facts (no way out, cross-machine events).

Secret parameters and variables (``secret: true`` in the spec) are never shown in clear: a
string literal compared with or assigned to a secret, and the value of a secret parameter in a
trace, are replaced by the drawn mask ``DRAWN`` (whatever their length; ``model/secrets.py``
says which form is shown where).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from authspec.model.expr import Binary, Lit, Node, ParamRef, VarRef, unparse
from authspec.model.ir import (
    Assignment,
    Expr,
    Machine,
    Rejection,
    State,
    System,
    Transition,
    citation_order,
)
from authspec.model.secrets import DRAWN

CJK_FONT = "Noto Sans CJK SC"
FONT_STACK = f'"{CJK_FONT}", "Noto Sans CJK", "Noto Sans", "DejaVu Sans", sans-serif'


# -- secrets -------------------------------------------------------------------------------------


def secret_names(system: System) -> set[str]:
    """Every name that is secret: event parameters (``name`` and ``event.name``) and variables
    (``name`` and ``machine.name``)."""
    names: set[str] = set()
    for event in system.events:
        for param in event.params:
            if param.secret:
                names.update({param.name, f"{event.name}.{param.name}"})
    for variable in system.variables:
        if variable.secret:
            names.update({variable.name, variable.qualified})
    return names


def secret_params(system: System, event: str) -> set[str]:
    """The secret parameter names of one event (empty for an unknown event)."""
    try:
        return {p.name for p in system.event(event).params if p.secret}
    except KeyError:
        return set()


def _is_secret_ref(node: Node, system: System) -> bool:
    if isinstance(node, ParamRef):
        return any(p.secret for e in system.events for p in e.params if p.name == node.name)
    if isinstance(node, VarRef):
        variable = system.machine(node.machine).variable(node.name) if any(
            m.name == node.machine for m in system.machines) else None
        return bool(variable and variable.secret)
    return False


def mask_tree(node: Node, system: System) -> Node:
    """A copy of an expression tree whose string literals next to a secret are masked."""
    if isinstance(node, Binary):
        left, right = mask_tree(node.left, system), mask_tree(node.right, system)
        if _is_secret_ref(left, system) and isinstance(right, Lit) and isinstance(right.value, str):
            right = dataclasses.replace(right, value=DRAWN)
        if _is_secret_ref(right, system) and isinstance(left, Lit) and isinstance(left.value, str):
            left = dataclasses.replace(left, value=DRAWN)
        return dataclasses.replace(node, left=left, right=right)
    if dataclasses.is_dataclass(node):
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, Node):
                changes[f.name] = mask_tree(value, system)
            elif isinstance(value, tuple) and value and all(isinstance(v, Node) for v in value):
                changes[f.name] = tuple(mask_tree(v, system) for v in value)
        return dataclasses.replace(node, **changes) if changes else node
    return node


def mask_params(params: Any, secrets: set[str]) -> Any:
    """Event parameters with the secret ones masked (tolerates non-dict input)."""
    if isinstance(params, dict):
        return {k: (DRAWN if k in secrets else mask_json(v, secrets)) for k, v in params.items()}
    return mask_json(params, secrets)


def mask_json(value: Any, secrets: set[str]) -> Any:
    """Any JSON value with the values under a secret key masked, at every depth."""
    if isinstance(value, dict):
        return {k: (DRAWN if str(k) in secrets else mask_json(v, secrets))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json(v, secrets) for v in value]
    return value


# -- text ----------------------------------------------------------------------------------------


def plain(value: Any) -> str:
    """A JSON value as short text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def expr_text(expr: Expr | None, system: System, machine: str | None = None) -> str:
    """Readable text of an expression, secrets masked, the own machine's prefix dropped."""
    if expr is None:
        return ""
    text = unparse(mask_tree(expr.tree, system))
    if machine:
        text = strip_own(text, machine)
    return text


def strip_own(text: str, machine: str) -> str:
    """Drop ``machine.`` before the machine's own names (but keep it after other names)."""
    prefix = f"{machine}."
    out, i = [], 0
    while i < len(text):
        if text.startswith(prefix, i) and (i == 0 or not (text[i - 1].isalnum()
                                                          or text[i - 1] in "_.'")):
            i += len(prefix)
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def effect_text(effect: Assignment, system: System, machine: str | None = None) -> str:
    value = expr_text(effect.value, system, machine)
    owner = machine or ""
    variable = next((v for m in system.machines for v in m.variables
                     if v.name == effect.variable and (not owner or m.name == owner)), None)
    if variable is not None and variable.secret and isinstance(effect.value.tree, Lit):
        value = repr(DRAWN)
    return f"{effect.variable} := {value}"


def effects_text(transition: Transition | Rejection, system: System) -> str:
    """The assignments of a transition (or of a refusal that counts), as written."""
    return ", ".join(effect_text(e, system, transition.machine) for e in transition.effects)


def refusal_edges(machine: Machine, r: Rejection) -> list[tuple[str, str]]:
    """(source, target) of each edge a refusal with a target draws (from every state of the
    machine when it names none); empty for a refusal that does not move its machine."""
    if r.target is None:
        return []
    return [(source, r.target) for source in (r.sources or tuple(s.name for s in
                                                                 machine.states))]


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 1)].rstrip() + "…"


def wrap(text: str, width: int = 34, max_lines: int = 3) -> list[str]:
    """Break a guard at ``and``/``or``/commas into lines of about ``width`` characters."""
    if not text:
        return []
    words = text.replace(" and ", " and\x00").replace(" or ", " or\x00").replace(", ", ",\x00")
    pieces = [p for p in words.split("\x00") if p]
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] = f"{lines[-1]} {piece}"
        else:
            lines.append(piece)
    lines = [shorten(line, width + 8) for line in lines]
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], shorten(" ".join(lines[max_lines - 1:]), width)]
        if not lines[-1].endswith("…"):
            lines[-1] += " …"
    return lines


def plural(n: int, word: str) -> str:
    """``n`` and an English noun, singular for one: "1 transition", "2 transitions"."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def sort_rule_ids(ids: Iterable[str]) -> list[str]:
    """Rule IDs (a letter and a number) first by letter, rules before questions, then by
    number; anything else last."""
    return sorted(set(ids), key=citation_order)


# -- structure -----------------------------------------------------------------------------------


def no_way_out(machine: Machine, state: State) -> bool:
    """True when no transition (nor refusal with a target) leaves ``state`` for another."""
    return not any(state.name in t.sources and t.target not in (None, state.name)
                   for t in machine.transitions) and not any(
        source == state.name and target != state.name
        for r in machine.rejections for source, target in refusal_edges(machine, r))


def unreachable(machine: Machine, state: State) -> bool:
    """True when ``state`` is not initial and no transition (nor refusal with a target)
    enters it from another state."""
    return not state.initial and not any(
        t.target == state.name and any(s != state.name for s in t.sources)
        for t in machine.transitions) and not any(
        target == state.name and source != state.name
        for r in machine.rejections for source, target in refusal_edges(machine, r))


def event_machines(system: System) -> dict[str, tuple[list[str], list[str]]]:
    """Event -> (machines it moves, machines that refuse it), both in system order."""
    table: dict[str, tuple[list[str], list[str]]] = {e.name: ([], []) for e in system.events}
    for machine in system.machines:
        for t in machine.transitions:
            moves = table.setdefault(t.event, ([], []))[0]
            if machine.name not in moves:
                moves.append(machine.name)
        for r in machine.rejections:
            refuses = table.setdefault(r.event, ([], []))[1]
            if machine.name not in refuses:
                refuses.append(machine.name)
    return table


def cross_machine_events(system: System) -> dict[str, list[str]]:
    """Events that several machines move or refuse -> those machines, in system order."""
    out: dict[str, list[str]] = {}
    order = [m.name for m in system.machines]
    for event, (moves, refuses) in event_machines(system).items():
        involved = sorted(set(moves) | set(refuses), key=order.index)
        if len(involved) > 1:
            out[event] = involved
    return out
