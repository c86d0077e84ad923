"""Mermaid (``stateDiagram-v2``) diagrams, for wikis and pull requests.

``markdown(system)`` gives one Markdown document with a ```` ```mermaid ```` block per machine
and one for the overview (each machine a composite state). Mermaid cannot take some characters
in labels (``: ; # < > { } " & `` and a few more); they are written as Mermaid entity codes
(``#58;`` ...), and every line break or control character becomes a space, so that a label
can never end its line (nor its Markdown block) and start a directive such as ``click``.
State ids are prefixed (``s_``) so that no state name clashes with a keyword, and keep only
letters, digits and ``_``. Text outside the blocks (the title, the headings) is escaped for
Markdown: one line, with Markdown's and HTML's special characters backslash-escaped.
"""

from __future__ import annotations

import unicodedata

from authspec.model.ir import Machine, Rejection, System

from .common import effects_text, expr_text, no_way_out, refusal_edges, shorten
from .dot import Options

_ENTITIES = {":": "#58;", ";": "#59;", "#": "#35;", "<": "#60;", ">": "#62;", "{": "#123;",
             "}": "#125;", '"': "#34;", "`": "#96;", "|": "#124;", "\\": "#92;", "%": "#37;",
             "&": "#38;"}
_MARKDOWN_SPECIAL = set("\\`*[]<>&#|~!{}")


def _one_line(text: str) -> str:
    """``text`` with every line break and control character made a space."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
                   for c in text)


def esc(text: str) -> str:
    """Text made safe for a Mermaid label: one line, special characters as entity codes."""
    return "".join(_ENTITIES.get(c, c) for c in _one_line(text))


def md_text(text: str) -> str:
    """Text made safe for Markdown outside a code block: one line, specials escaped."""
    return "".join(f"\\{c}" if c in _MARKDOWN_SPECIAL else c for c in _one_line(text))


def _ident(name: str) -> str:
    """A Mermaid id from a spec name: letters, digits and ``_`` only (others as ``_xHH``)."""
    return "".join(c if (c.isascii() and c.isalnum()) or c == "_" else f"_x{ord(c):x}"
                   for c in name)


def sid(machine: str, state: str, prefixed: bool = False) -> str:
    return _ident(f"{machine}__{state}" if prefixed else f"s_{state}")


def _transition_text(system: System, t, options: Options, compact: bool) -> str:
    if compact:
        return esc(t.event)
    parts = [t.event]
    guard = expr_text(t.guard, system, t.machine)
    if guard:
        parts.append(f"[{shorten(guard, 48)}]")
    effects = effects_text(t, system)
    if effects:
        parts.append(f"/ {shorten(effects, 40)}")
    if t.rules:
        parts.append("· " + " ".join(t.rules))
    return esc(" ".join(parts))


def _refusal_text(system: System, r: Rejection) -> str:
    """``event [guard] → reason / effects · rule IDs`` of one refusal."""
    guard = shorten(expr_text(r.guard, system, r.machine), 40)
    text = r.event + (f" [{guard}]" if guard else "") + f" → {r.reason}"
    effects = effects_text(r, system)
    if effects:
        text += f" / {shorten(effects, 40)}"
    return text + (f" · {' '.join(r.rules)}" if r.rules else "")


def _body(system: System, machine: Machine, options: Options, *, indent: str, prefixed: bool,
          compact: bool) -> list[str]:
    lines: list[str] = []
    for state in machine.states:
        label = state.label.get(options.lang)
        text = esc(state.name) + (f"<br/>{esc(shorten(label, 40))}" if label else "")
        lines.append(f'{indent}state "{text}" as {sid(machine.name, state.name, prefixed)}')
    lines.append(f"{indent}[*] --> {sid(machine.name, machine.initial.name, prefixed)}")
    for t in machine.transitions:
        label = _transition_text(system, t, options, compact)
        for source in t.sources:
            lines.append(f"{indent}{sid(machine.name, source, prefixed)} --> "
                         f"{sid(machine.name, t.target_from(source), prefixed)} : {label}")
    for state in machine.states:
        if state.final:
            lines.append(f"{indent}{sid(machine.name, state.name, prefixed)} --> [*]")
    if options.rejections and not compact:
        for r in machine.rejections:
            for source, target in refusal_edges(machine, r):
                lines.append(f"{indent}{sid(machine.name, source, prefixed)} --> "
                             f"{sid(machine.name, target, prefixed)} : "
                             f"{esc('refused: ' + _refusal_text(system, r))}")
        for state in machine.states:
            rows = []
            for r in machine.rejections:
                if (r.sources and state.name not in r.sources) or r.target is not None:
                    continue
                rows.append(esc(_refusal_text(system, r)))
            if rows:
                lines.append(f"{indent}note right of {sid(machine.name, state.name, prefixed)}")
                lines.extend(f"{indent}    {row}" for row in rows)
                lines.append(f"{indent}end note")
    marked = [sid(machine.name, s.name, prefixed) for s in machine.states
              if no_way_out(machine, s) and not s.final]
    if marked:
        lines.append(f"{indent}class {','.join(marked)} noWayOut")
    return lines


def machine_mermaid(system: System, machine: Machine, options: Options | None = None) -> str:
    """The ``stateDiagram-v2`` text of one machine."""
    options = options or Options()
    lines = ["stateDiagram-v2", "    direction LR",
             "    classDef noWayOut fill:#eeeeee,stroke:#777777,stroke-dasharray:4 2"]
    lines += _body(system, machine, options, indent="    ", prefixed=False, compact=False)
    return "\n".join(lines) + "\n"


def overview_mermaid(system: System, options: Options | None = None) -> str:
    """The composed system: one composite state per machine, events only on the edges."""
    options = options or Options()
    lines = ["stateDiagram-v2",
             "    classDef noWayOut fill:#eeeeee,stroke:#777777,stroke-dasharray:4 2"]
    for machine in system.machines:
        label = machine.label.get(options.lang)
        text = esc(machine.name) + (f" — {esc(label)}" if label else "")
        lines.append(f'    state "{text}" as {_ident("m_" + machine.name)} {{')
        lines.append("        direction LR")
        lines += _body(system, machine, options, indent="        ", prefixed=True, compact=True)
        lines.append("    }")
    return "\n".join(lines) + "\n"


def markdown(system: System, options: Options | None = None) -> str:
    """One Markdown document: a Mermaid block per machine, then the overview."""
    options = options or Options()
    title = system.label.get(options.lang) or system.name
    out = [f"# {md_text(system.name)}: state diagrams", "", md_text(title), "",
           "Generated by `authspec diagram --format mermaid` from the specs; do not edit by hand.",
           "Edges read `event [guard] / effects · rule IDs`; notes list the refusals of a state "
           "(`event [guard] → reason · rule IDs`); shaded states have no way out.", ""]
    for machine in system.machines:
        label = machine.label.get(options.lang)
        out += [f"## {md_text(machine.name)}" + (f" — {md_text(label)}" if label else ""), "",
                "```mermaid",
                machine_mermaid(system, machine, options).rstrip("\n"), "```", ""]
    out += ["## overview", "", "```mermaid", overview_mermaid(system, options).rstrip("\n"), "```",
            ""]
    return "\n".join(out)
