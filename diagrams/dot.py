"""Graphviz (DOT) diagrams of a loaded system: one per machine, and an overview.

Built with the ``graphviz`` Python package from the IR only (never from python-statemachine's
own DOT export, which names nodes by ``id()``), in spec order, so that the same spec always
gives byte-identical DOT. Conventions:

- a state is a rounded box: its name in bold and its label in the chosen language; the initial
  state has an arrow from a black dot; a final state has a double border; a state with no way
  out (no transition to another state) is shaded and says so;
- an edge reads ``event [guard] / effects`` then the cited rule IDs; a transition that stays
  where it is (``to: ~``) is a self-loop drawn with an open arrowhead; a state's self-loops
  alternate between its top and its bottom, and a state with more than two labels them with
  ``xlabel`` (placed clear of the rest), so that loop labels never overlap;
- with coverage, a transition (or a refusal with a target) drawn from several states shows
  its count once, on the edge from its first source;
- refusals are listed in a note attached (dotted line) to the states they apply in: event,
  guard, reason code, effects (a refusal that counts) and rule IDs (``hide_rejections``
  leaves them out); a refusal with a target (``to:``, the third wrong password locking an
  account) is a dashed edge in the refusal colour instead, with the same label;
- overlays: coverage (edges coloured by how often they were taken, never taken in red dashed),
  a failure trace (numbered steps along the edges taken, the divergent step in red), and diff
  marks (added green, removed red, changed orange).

Graph, node and edge fonts are ``Noto Sans CJK SC`` so that Chinese renders in SVG and PNG.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape

import graphviz

from authspec.model.ir import Machine, Rejection, State, System, Transition

from .common import (
    CJK_FONT,
    cross_machine_events,
    effects_text,
    event_machines,
    expr_text,
    mask_json,
    mask_params,
    no_way_out,
    plain,
    refusal_edges,
    secret_names,
    secret_params,
    shorten,
    wrap,
)
from .overlay import Coverage, Failure, TracePath, lay_trace

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
MARK_COLOURS = {ADDED: "#2ca02c", REMOVED: "#d62728", CHANGED: "#ff7f0e"}
MARK_FILLS = {ADDED: "#e5f5e0", REMOVED: "#fde0dd", CHANGED: "#fff0d9"}
NEVER = "#d62728"
TRACE = "#1f77b4"
DIVERGENT = "#d62728"
GREY = "#777777"
REFUSAL = "#b03a2e"  # the edge of a refusal that moves its machine
EVENT_PALETTE = ("#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
                 "#ff7f0e", "#2ca02c", "#7f7f7f", "#d62728", "#393b79", "#637939")
WORDS = {
    "en": {"no_way_out": "no way out", "refuses": "refuses", "any": "in any state",
           "never": "never exercised", "step": "step", "expected": "expected",
           "actual": "actual", "moves": "moves", "refused_by": "refused by",
           "events": "events shared by several machines", "transitions": "transitions",
           "refusals": "refusals", "transition": "transition", "refusal": "refusal",
           "legend": "legend", "trace": "trace"},
    "zh": {"no_way_out": "无出路", "refuses": "拒绝", "any": "任意状态",
           "never": "从未执行", "step": "步骤", "expected": "规范", "actual": "实际",
           "moves": "迁移", "refused_by": "拒绝", "events": "跨状态机事件",
           "transitions": "迁移", "refusals": "拒绝", "transition": "迁移", "refusal": "拒绝",
           "legend": "图例", "trace": "轨迹"},
}
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


@dataclass
class Options:
    """What to draw and how."""

    lang: str = "en"
    rejections: bool = True
    coverage: Coverage | None = None
    failure: Failure | None = None
    # diff marks: "state:machine.name" / "transition:id" / "rejection:id" -> added|removed|changed
    marks: dict[str, str] = field(default_factory=dict)
    # extra lines under an element (e.g. "was: ..." in a diff), keyed like ``marks``
    notes: dict[str, list[str]] = field(default_factory=dict)
    title: str = ""

    def word(self, key: str) -> str:
        return WORDS.get(self.lang, WORDS["en"])[key]

    def count(self, n: int, singular: str) -> str:
        """``n`` and the word, singular for one: "1 transition", "2 transitions"."""
        return f"{n} {self.word(singular if n == 1 else singular + 's')}"


def h(text: object) -> str:
    """Escape text for a Graphviz HTML-like label."""
    return escape(str(text), quote=True)


def node_id(machine: str, state: str) -> str:
    return f"{machine}__{state}"


def step_mark(index: int) -> str:
    return CIRCLED[index] if 0 <= index < len(CIRCLED) else f"#{index + 1}"


def coverage_style(count: int) -> dict[str, str]:
    if count <= 0:
        return {"color": NEVER, "fontcolor": NEVER, "style": "dashed", "penwidth": "2"}
    if count < 10:
        return {"color": "#74c476", "penwidth": "1.4"}
    if count < 100:
        return {"color": "#31a354", "penwidth": "2"}
    return {"color": "#006d2c", "penwidth": "2.8"}


def _new_graph(name: str, rankdir: str) -> graphviz.Digraph:
    graph = graphviz.Digraph(name=name)
    graph.attr(rankdir=rankdir, fontname=CJK_FONT, fontsize="12", nodesep="0.35",
               ranksep="0.45", newrank="true", charset="UTF-8", labeljust="l",
               forcelabels="true")
    graph.attr("node", fontname=CJK_FONT, fontsize="11", shape="box", style="rounded",
               margin="0.12,0.06")
    graph.attr("edge", fontname=CJK_FONT, fontsize="9", arrowsize="0.7")
    return graph


# -- labels --------------------------------------------------------------------------------------


def state_label(machine: Machine, state: State, options: Options, extra: Iterable[str] = ()) -> str:
    rows = [f"<B>{h(state.name)}</B>"]
    text = state.label.get(options.lang)
    if text:
        rows.append(h(shorten(text, 36)))
    if no_way_out(machine, state) and not state.final:
        rows.append(f'<FONT POINT-SIZE="9" COLOR="{GREY}">⊘ {h(options.word("no_way_out"))}</FONT>')
    rows.extend(extra)
    return "<" + "<BR/>".join(rows) + ">"


def transition_label(system: System, t: Transition, options: Options, *, compact: bool = False,
                     extra: Iterable[str] = ()) -> str:
    rows = [f"<B>{h(t.event)}</B>"]
    if not compact:
        for i, line in enumerate(wrap(expr_text(t.guard, system, t.machine), 34, 3)):
            left, right = ("[" if i == 0 else "&#160;"), ""
            rows.append(f"<I>{left}{h(line)}{right}</I>")
        if t.guard is not None:
            rows[-1] = rows[-1].replace("</I>", "]</I>")
        effects = effects_text(t, system)
        if effects:
            rows.append(h("/ " + shorten(effects, 40)))
        text = t.label.get(options.lang)
        if text:
            rows.append(f'<FONT POINT-SIZE="8">{h(shorten(text, 36))}</FONT>')
        if t.rules:
            rows.append(f'<FONT COLOR="{GREY}">{h(" ".join(t.rules))}</FONT>')
    rows.extend(extra)
    return "<" + "<BR/>".join(rows) + ">"


def rejection_row(system: System, r: Rejection, options: Options) -> str:
    guard = shorten(expr_text(r.guard, system, r.machine), 40)
    text = f"{r.event}" + (f" [{guard}]" if guard else "") + f" → {r.reason}"
    effects = effects_text(r, system)
    if effects:
        text += f" / {shorten(effects, 40)}"
    if options.lang == "zh":
        try:
            label = system.reason(r.reason).label.zh
        except KeyError:
            label = ""
        if label:
            text += f" ({shorten(label, 16)})"
    rules = " ".join(r.rules)
    return f"{h(text)} <FONT COLOR=\"{GREY}\">{h(rules)}</FONT>"


# -- one machine ---------------------------------------------------------------------------------


@dataclass
class _Trace:
    path: TracePath
    failure: Failure

    @property
    def step(self):
        return self.failure.steps[self.path.divergent] if self.path.divergent >= 0 else None

    def divergent_machines(self, system: System) -> set[str]:
        step = self.step
        if step is None:
            return set()
        involved: set[str] = set()
        if step.rejection:
            involved.add(step.rejection.split(".", 1)[0])
        involved.update(t.split(".", 1)[0] for t in step.transitions)
        if not involved:
            moves, refuses = event_machines(system).get(step.event, ([], []))
            involved.update(moves or refuses)
        return involved


def _trace_of(system: System, options: Options) -> _Trace | None:
    if options.failure is None:
        return None
    return _Trace(lay_trace(system, options.failure), options.failure)


def add_machine(graph: graphviz.Digraph, system: System, machine: Machine, options: Options, *,
                compact: bool = False, event_colours: dict[str, str] | None = None) -> None:
    """Draw ``machine`` into ``graph`` (a whole graph, or an overview cluster)."""
    trace = _trace_of(system, options)
    divergent_state = None
    if trace and machine.name in trace.divergent_machines(system):
        divergent_state = trace.path.at_divergence.get(machine.name)
    start = node_id(machine.name, "__start")
    graph.node(start, label="", shape="point", width="0.14", style="filled", color="black")
    for state in machine.states:
        _add_state(graph, machine, state, options,
                   trace if state.name == divergent_state else None)
    graph.edge(start, node_id(machine.name, machine.initial.name), arrowhead="normal")
    loops = SelfLoops(machine, refusals=options.rejections and not compact)
    for t in machine.transitions:
        colour = event_colours.get(t.event) if event_colours else None
        for n, source in enumerate(t.sources):
            _add_transition(graph, system, t, source, options, trace, compact=compact,
                            event_colour=colour, loop=loops.place(t.id, source), counted=n == 0)
    if options.rejections and not compact:
        _add_refusal_notes(graph, system, machine, options, trace)
        for r in machine.rejections:
            for n, (source, target) in enumerate(refusal_edges(machine, r)):
                _add_refusal_edge(graph, system, r, source, target, options, trace,
                                  loop=loops.place(r.id, source), counted=n == 0)


class SelfLoops:
    """Where each self-loop of a machine goes, so that their labels never overlap.

    A state's self-loops (transitions that stay, refusals whose target is their source)
    alternate between its top and its bottom (ports ``n`` and ``s``), one loop per side; a
    state with more than two has them all labelled with ``xlabel``, which Graphviz places
    clear of nodes and other labels (``forcelabels``)."""

    def __init__(self, machine: Machine, *, refusals: bool) -> None:
        self.order: dict[tuple[str, str], int] = {}
        per_state: dict[str, int] = {}
        elements: list[tuple[str, list[tuple[str, str]]]] = [
            (t.id, [(s, t.target_from(s)) for s in t.sources]) for t in machine.transitions]
        if refusals:
            elements += [(r.id, refusal_edges(machine, r)) for r in machine.rejections]
        for element, edges in elements:
            for source, target in edges:
                if source == target:
                    self.order[(element, source)] = per_state.get(source, 0)
                    per_state[source] = per_state.get(source, 0) + 1
        self.crowded = {(e, s) for (e, s) in self.order if per_state[s] > 2}

    def place(self, element: str, source: str) -> dict[str, str]:
        """Edge attributes of the loop of ``element`` at ``source`` ({} if not a loop)."""
        index = self.order.get((element, source))
        if index is None:
            return {}
        port = "n" if index % 2 == 0 else "s"
        attrs = {"tailport": port, "headport": port}
        if (element, source) in self.crowded:
            attrs["xlabel"] = ""  # filled by the caller: the label moves to xlabel
        return attrs


def _edge(graph: graphviz.Digraph, tail: str, head: str, label: str, loop: dict[str, str],
          attrs: dict[str, str]) -> None:
    """An edge, its label as ``xlabel`` when it is a crowded self-loop (``SelfLoops``)."""
    extra = dict(loop)
    if "xlabel" in extra:
        extra["xlabel"] = label
        graph.edge(tail, head, **extra, **attrs)
    else:
        graph.edge(tail, head, label=label, **extra, **attrs)


def _add_refusal_edge(graph: graphviz.Digraph, system: System, r: Rejection, source: str,
                      target: str, options: Options, trace: _Trace | None, *,
                      loop: dict[str, str] | None = None, counted: bool = True) -> None:
    """The edge of a refusal with a target (the third wrong password locks the account):
    dashed, in the refusal colour, labelled with its event, guard, reason, effects and
    rules, its coverage and diff mark. ``counted``: whether this edge shows the refusal's
    count (a refusal drawn from several states shows it once, on its first edge)."""
    attrs = {"id": f"r:{r.id}:{source}", "tooltip": r.id, "style": "dashed",
             "color": REFUSAL, "fontcolor": REFUSAL}
    extra = []
    if options.coverage is not None and counted:
        count = options.coverage.rejection(r.id)
        extra.append(f'<FONT COLOR="{NEVER if count == 0 else GREY}">×{count}</FONT>')
    mark = options.marks.get(f"rejection:{r.id}")
    if mark:
        attrs.update(color=MARK_COLOURS[mark], fontcolor=MARK_COLOURS[mark], penwidth="2.4")
        extra.append(f'<FONT POINT-SIZE="8">{h(mark)}</FONT>')
    if trace:
        _draw_trace_steps(trace, r, source, options, attrs, extra)
    _edge(graph, node_id(r.machine, source), node_id(r.machine, target),
          "<" + "<BR/>".join([rejection_row(system, r, options), *extra]) + ">", loop or {},
          attrs)


def _add_state(graph: graphviz.Digraph, machine: Machine, state: State, options: Options,
               divergence: _Trace | None) -> None:
    """One state's node; ``divergence`` is the trace when the failure diverged in this state."""
    attrs: dict[str, str] = {}
    extra: list[str] = []
    if state.final:
        attrs["peripheries"] = "2"
    if no_way_out(machine, state):
        attrs.update(style="rounded,filled", fillcolor="#eeeeee")
    if options.coverage is not None:
        visits = options.coverage.state(machine.name, state.name)
        extra.append(f'<FONT POINT-SIZE="8" COLOR="{GREY if visits else NEVER}">'
                     f'×{visits}</FONT>')
        if visits == 0:
            attrs.update(style="rounded,filled,dashed", fillcolor="#fde0dd", color=NEVER)
    mark = options.marks.get(f"state:{machine.name}.{state.name}")
    if mark:
        attrs.update(color=MARK_COLOURS[mark], penwidth="2.2", style="rounded,filled",
                     fillcolor=MARK_FILLS[mark])
        extra.append(f'<FONT POINT-SIZE="8" COLOR="{MARK_COLOURS[mark]}">{mark}</FONT>')
    if divergence:
        step = divergence.step
        attrs.update(color=DIVERGENT, penwidth="3")
        extra.append(f'<FONT COLOR="{DIVERGENT}">✗ {h(options.word("step"))} '
                     f'{divergence.path.divergent + 1}: {h(step.event if step else "")}</FONT>')
    graph.node(node_id(machine.name, state.name),
               label=state_label(machine, state, options, extra), **attrs)


def _add_transition(graph: graphviz.Digraph, system: System, t: Transition, source: str,
                    options: Options, trace: _Trace | None, *, compact: bool,
                    event_colour: str | None, loop: dict[str, str] | None = None,
                    counted: bool = True) -> None:
    """The edge of ``t`` from ``source``, with its coverage, diff mark and trace steps.

    The coverage count is of the transition, not of one edge: a transition with several
    sources shows it once, on its first edge (``counted``); all its edges take its colour."""
    attrs = {"id": f"t:{t.id}:{source}", "tooltip": t.id}
    extra: list[str] = []
    if t.target is None:
        attrs["arrowhead"] = "onormal"
    if event_colour is not None:
        attrs.update(color=event_colour, fontcolor=event_colour)
    if options.coverage is not None:
        count = options.coverage.transition(t.id)
        attrs.update(coverage_style(count))
        if counted:
            extra.append(f'<FONT COLOR="{NEVER if count == 0 else GREY}">'
                         f'{"×0 " + h(options.word("never")) if count == 0 else f"×{count}"}'
                         f'</FONT>')
    mark = options.marks.get(f"transition:{t.id}")
    if mark:
        attrs.update(color=MARK_COLOURS[mark], fontcolor=MARK_COLOURS[mark],
                     penwidth="2.4", style="dashed" if mark == REMOVED else "solid")
        extra.extend(f'<FONT POINT-SIZE="8">{h(shorten(line, 48))}</FONT>'
                     for line in options.notes.get(f"transition:{t.id}", []))
    if trace:
        _draw_trace_steps(trace, t, source, options, attrs, extra)
    _edge(graph, node_id(t.machine, source), node_id(t.machine, t.target_from(source)),
          transition_label(system, t, options, compact=compact, extra=extra), loop or {}, attrs)


def _draw_trace_steps(trace: _Trace, t: Transition | Rejection, source: str, options: Options,
                      attrs: dict[str, str], extra: list[str]) -> None:
    """Colour an edge the trace took and number its steps on it (the divergent one marked)."""
    steps = trace.path.steps_on(t.id, source)
    if not steps:
        return
    divergent = trace.path.divergent in steps
    colour = DIVERGENT if divergent else TRACE
    attrs.update(color=colour, fontcolor=colour, penwidth="3.2", style="bold")
    marks = " ".join(step_mark(s) for s in steps)
    extra.insert(0, f'<FONT COLOR="{colour}"><B>{h(options.word("step"))} '
                    f'{h(marks)}{" ✗" if divergent else ""}</B></FONT>')


def _add_refusal_notes(graph: graphviz.Digraph, system: System, machine: Machine,
                       options: Options, trace: _Trace | None) -> None:
    groups: dict[tuple[str, ...], list[Rejection]] = {}
    order = [s.name for s in machine.states]
    for r in machine.rejections:
        if r.target is not None:  # drawn as an edge of its own (_add_refusal_edge)
            continue
        key = tuple(sorted(set(r.sources), key=lambda s: order.index(s) if s in order else 99))
        groups.setdefault(key, []).append(r)
    divergent_rejection = trace.step.rejection if trace and trace.step else None
    for n, (sources, rejections) in enumerate(groups.items()):
        rows = []
        header = options.word("refuses") if sources else f'{options.word("refuses")} · ' \
            f'{options.word("any")}'
        rows.append(f'<TR><TD ALIGN="LEFT"><FONT COLOR="{GREY}"><I>{h(header)}</I></FONT>'
                    '</TD></TR>')
        for r in rejections:
            cell_attrs = ' ALIGN="LEFT"'
            text = rejection_row(system, r, options)
            if options.coverage is not None:
                count = options.coverage.rejection(r.id)
                colour = NEVER if count == 0 else GREY
                text += f' <FONT COLOR="{colour}">×{count}</FONT>'
                if count == 0:
                    cell_attrs += ' BGCOLOR="#fde0dd"'
            mark = options.marks.get(f"rejection:{r.id}")
            if mark:
                text = f'<FONT COLOR="{MARK_COLOURS[mark]}">{mark}: {text}</FONT>'
                cell_attrs += f' BGCOLOR="{MARK_FILLS[mark]}"'
            if divergent_rejection == r.id:
                cell_attrs += ' BGCOLOR="#f8c9c4"'
                text = f'<FONT COLOR="{DIVERGENT}">✗ {text}</FONT>'
            rows.append(f'<TR><TD{cell_attrs}>{text}</TD></TR>')
        note = node_id(machine.name, f"__refusals_{n}")
        label = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
                 + "".join(rows) + "</TABLE>>")
        graph.node(note, label=label, shape="note", style="filled", fillcolor="#fafafa",
                   color="#bbbbbb", fontsize="9", margin="0.08,0.04")
        for source in sources:
            graph.edge(node_id(machine.name, source), note, style="dotted", arrowhead="none",
                       color="#bbbbbb", weight="0.5")


def trace_caption(system: System, failure: Failure, options: Options) -> str:
    """An HTML-like table listing the trace's steps, secrets masked."""
    rows = [f'<TR><TD ALIGN="LEFT" COLSPAN="2"><B>{h(options.word("trace"))}: '
            f'{h(shorten(failure.title, 80))}</B></TD></TR>']
    secrets = secret_names(system)
    for i, step in enumerate(failure.steps):
        params = mask_params(step.params, secret_params(system, step.event) | secrets)
        if isinstance(params, dict):
            shown = ", ".join(f"{k}={v}" for k, v in params.items())
        else:
            shown = str(params or "")
        what = step.rejection or " ".join(step.transitions) or "—"
        text = f"{step.event}({shorten(shown, 60)}) → {shorten(what, 60)}"
        colour = DIVERGENT if i == failure.divergent else TRACE
        if i == failure.divergent:
            expected, actual = (plain(mask_json(v, secrets)) for v in (step.expected, step.actual))
            text += (f" ✗ {options.word('expected')}: {shorten(expected, 40)}; "
                     f"{options.word('actual')}: {shorten(actual, 40)}")
        rows.append(f'<TR><TD ALIGN="RIGHT"><FONT COLOR="{colour}">{step_mark(i)}</FONT></TD>'
                    f'<TD ALIGN="LEFT"><FONT COLOR="{colour}">{h(text)}</FONT></TD></TR>')
    return '<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"


def _legend(options: Options) -> str:
    rows: list[str] = []
    if options.coverage is not None:
        rows.append(f'<TR><TD ALIGN="LEFT"><FONT COLOR="{NEVER}">- - - ×0 '
                    f'{h(options.word("never"))}</FONT>   <FONT COLOR="#74c476">━ 1-9</FONT>   '
                    f'<FONT COLOR="#31a354">━ 10-99</FONT>   <FONT COLOR="#006d2c">━ 100+</FONT>'
                    f'</TD></TR>')
        conditions = getattr(options.coverage, "conditions_line", lambda: "")()
        if conditions:  # condition coverage of the run (diagrams/overlay.py)
            rows.append(f'<TR><TD ALIGN="LEFT">{h(conditions)}</TD></TR>')
    if options.marks:
        rows.append('<TR><TD ALIGN="LEFT">' + "   ".join(
            f'<FONT COLOR="{MARK_COLOURS[k]}">━ {k}</FONT>' for k in (ADDED, REMOVED, CHANGED))
            + "</TD></TR>")
    if not rows:
        return ""
    return '<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"


def _caption(system: System, options: Options, title: str) -> str:
    parts = [f'<TR><TD ALIGN="LEFT"><B>{h(title)}</B></TD></TR>']
    legend = _legend(options)
    if legend:
        parts.append(f"<TR><TD ALIGN=\"LEFT\">{legend[1:-1]}</TD></TR>")
    if options.failure is not None:
        steps = trace_caption(system, options.failure, options)[1:-1]
        parts.append(f'<TR><TD ALIGN="LEFT">{steps}</TD></TR>')
    return '<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="2">' + "".join(parts) + "</TABLE>>"


def machine_graph(system: System, machine: Machine, options: Options | None = None
                  ) -> graphviz.Digraph:
    """The diagram of one machine."""
    options = options or Options()
    graph = _new_graph(machine.name, "LR")
    label = machine.label.get(options.lang)
    title = options.title or (f"{machine.name} — {label}" if label else machine.name)
    graph.attr(label=_caption(system, options, title), labelloc="t")
    add_machine(graph, system, machine, options)
    return graph


def overview_graph(system: System, options: Options | None = None) -> graphviz.Digraph:
    """The composed system: machines as clusters side by side, cross-machine events coloured
    and listed in a legend."""
    options = options or Options()
    graph = _new_graph("overview", "TB")
    shared = cross_machine_events(system)
    colours = {event: EVENT_PALETTE[i % len(EVENT_PALETTE)] for i, event in enumerate(shared)}
    label = system.label.get(options.lang)
    title = options.title or (f"{system.name} — {label}" if label else system.name)
    caption = _caption(system, options, title)
    for machine in system.machines:
        with graph.subgraph(name=f"cluster_{machine.name}") as cluster:
            text = machine.label.get(options.lang)
            counts = (f"{options.count(len(machine.transitions), 'transition')}, "
                      f"{options.count(len(machine.rejections), 'refusal')}")
            cluster.attr(label=f"<<B>{h(machine.name)}</B><BR/>{h(text)}<BR/>"
                               f"<FONT POINT-SIZE=\"9\" COLOR=\"{GREY}\">{h(counts)}</FONT>>",
                         style="rounded", color="#999999", labeljust="c")
            add_machine(cluster, system, machine, options, compact=True, event_colours=colours)
    if shared:
        moves_refuses = event_machines(system)
        rows = [f'<TR><TD COLSPAN="3" ALIGN="LEFT"><B>{h(options.word("events"))}</B></TD></TR>',
                f'<TR><TD></TD><TD ALIGN="LEFT"><I>{h(options.word("moves"))}</I></TD>'
                f'<TD ALIGN="LEFT"><I>{h(options.word("refused_by"))}</I></TD></TR>']
        for event in shared:
            moves, refuses = moves_refuses[event]
            rows.append(f'<TR><TD ALIGN="LEFT"><FONT COLOR="{colours[event]}"><B>━ {h(event)}</B>'
                        f'</FONT></TD><TD ALIGN="LEFT">{h(", ".join(moves) or "—")}</TD>'
                        f'<TD ALIGN="LEFT">{h(", ".join(refuses) or "—")}</TD></TR>')
        legend = ('<TABLE BORDER="1" COLOR="#bbbbbb" CELLBORDER="0" CELLSPACING="0" '
                  'CELLPADDING="2">' + "".join(rows) + "</TABLE>")
        caption = (caption[: -len("</TABLE>>")]
                   + f'<TR><TD ALIGN="LEFT">{legend}</TD></TR></TABLE>>')
    graph.attr(label=caption, labelloc="t")
    return graph


def machine_dot(system: System, machine: Machine, options: Options | None = None) -> str:
    return machine_graph(system, machine, options).source


def overview_dot(system: System, options: Options | None = None) -> str:
    return overview_graph(system, options).source


def all_dots(system: System, options: Options | None = None) -> dict[str, str]:
    """File stem -> DOT text: one per machine, in system order, then ``overview``."""
    out = {m.name: machine_dot(system, m, options) for m in system.machines}
    out["overview"] = overview_dot(system, options)
    return out
