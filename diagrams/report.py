"""The review report: ONE self-contained HTML file for a spec review meeting.

Inline CSS and inline SVG only: no script, no external font, image or style sheet, and a
Content-Security-Policy that forbids any fetch, so the file opens the same offline, from a
mail attachment or a wiki. Contents, in meeting order:

1. a summary (machines, transitions, refusals, rules cited, open questions; with a run,
   coverage and failures);
2. per machine: its diagram (with the coverage overlay when a run is given), its states,
   variables, transitions (event, from, to, guard, effects, cited rules with the Chinese
   clause and the English reading), refusals (guard, reason code and label, rules) and
   invariants;
3. the step properties (conditions on whole steps: before, event, outcome, after), when the
   spec has any;
4. the traceability matrix of the catalogue's rules x machines, and rule -> citing elements
   (uncited rules stand out);
5. the assumptions taken for the spec's open questions, each marked open for the meeting;
6. with a run: coverage per kind, never-exercised elements, and each failure's trace
   (secrets masked) drawn on the overview;
7. with ``--diff``: the semantic diff against an older spec and its diagrams;
8. appendix: events and parameters (secret ones marked), reason codes, password policies.

Secret parameters and variables are never shown in clear. The report fits any spec: the
rule and question IDs come from its catalogue, a 中文 column appears only in a table with
Chinese labels, and counts are worded in the singular for one.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from authspec.model import stepprops
from authspec.model.expr import unparse
from authspec.model.ir import Machine, Rejection, StepProperty, System, Transition
from authspec.model.secrets import DRAWN

from .common import (
    FONT_STACK,
    effects_text,
    expr_text,
    mask_json,
    mask_params,
    mask_tree,
    no_way_out,
    plural,
    secret_names,
    secret_params,
    unreachable,
)
from .diff import SpecDiff, diff_dots
from .dot import Options, machine_dot, overview_dot
from .overlay import Coverage, Failure
from .render import svg_inline

MAX_TRACE_DIAGRAMS = 5

CSS = """
:root { --red:#c62828; --green:#2e7d32; --orange:#ef6c00; --grey:#666; --line:#ddd; }
* { box-sizing: border-box; }
body { font-family: FONTS; margin: 0 auto; max-width: 1500px; padding: 1rem 2rem 4rem;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { border-bottom: 2px solid #333;
  padding-bottom: .2rem; margin-top: 2.5rem; } h3 { margin-top: 1.5rem; }
nav ul { columns: 3; list-style: none; padding: 0; } nav a { text-decoration: none; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .86rem; }
th, td { border: 1px solid var(--line); padding: .25rem .4rem; vertical-align: top;
         text-align: left; }
th { background: #f3f3f3; position: sticky; top: 0; }
code, .code { font-family: "DejaVu Sans Mono", monospace; font-size: .82rem; }
.zh { font-family: FONTS; }
.cite { margin: .1rem 0 .35rem; } .cite .clause { display: block; color: #333; }
.cite .reading { display: block; color: var(--grey); font-size: .8rem; }
.badge { display: inline-block; border-radius: .6rem; padding: 0 .5rem; font-size: .75rem;
         font-weight: bold; color: #fff; background: var(--grey); white-space: nowrap; }
.badge.open { background: var(--orange); } .badge.bad { background: var(--red); }
.badge.good { background: var(--green); }
.uncited td { background: #fde0dd; } .never { background: #fde0dd; }
.divergent td { background: #fbd3cf; font-weight: bold; }
.added { background: #e5f5e0; } .removed { background: #fde0dd; } .changed { background: #fff0d9; }
.diagram { overflow: auto; border: 1px solid var(--line); padding: .5rem; margin: .5rem 0; }
.diagram svg { max-width: 100%; height: auto; }
.diagram.wide svg { max-width: none; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; }
.card { border: 1px solid var(--line); border-radius: .4rem; padding: .5rem .9rem;
        min-width: 9rem; }
.card b { display: block; font-size: 1.4rem; }
.matrix td.n { text-align: center; } .matrix td.hit { background: #e5f5e0; }
.muted { color: var(--grey); } .mono { font-family: monospace; }
@media print { .diagram { overflow: visible; } h2 { page-break-before: always; } }
""".replace("FONTS", FONT_STACK)


def e(text: Any) -> str:
    return escape(str(text), quote=True)


def _id_span(entries: Any) -> str:
    """'R1-R22' for a catalogue's entries in order; '' when there are none."""
    ids = [entry.id for entry in entries]
    if not ids:
        return ""
    return ids[0] if len(ids) == 1 else f"{ids[0]}-{ids[-1]}"


def zh(text: str, before: str = "<br>") -> str:
    """A Chinese label in its span, after ``before``; nothing for an empty label."""
    return f'{before}<span class="zh" lang="zh">{e(text)}</span>' if text else ""


def zh_column(labels: Any) -> bool:
    """Whether a table whose rows carry these labels (``Text``) needs a 中文 column."""
    return any(label.zh for label in labels)


#: keys of a failure record that say how the file was written, not what failed
BOOKKEEPING = frozenset({"title", "name", "format", "file", "divergent", "secrets_masked",
                         "steps"})


def _value_html(value: Any) -> str:
    """A failure's detail as HTML: text as it is, a list as a list, a mapping as a table,
    at every depth (never JSON text)."""
    if isinstance(value, dict):
        rows = "".join(f"<tr><th>{e(k)}</th><td>{_value_html(v)}</td></tr>"
                       for k, v in value.items())
        return f'<table class="details">{rows}</table>'
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return ", ".join(f"<code>{e(v)}</code>" for v in value)
        return "<ul>" + "".join(f"<li>{_value_html(v)}</li>" for v in value) + "</ul>"
    if isinstance(value, bool) or value is None:
        return f"<code>{e(json.dumps(value))}</code>"
    return e(value)


def _params_cell(params: Any) -> str:
    """A step's parameters as ``name = value`` lines (secrets already masked)."""
    if not isinstance(params, dict):
        return _value_html(params)
    return "<br>".join(f"<code>{e(k)}</code> = <code>{e(_plain_value(v))}</code>"
                       for k, v in params.items())


def _plain_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           default=str)


def _lang(text: str) -> str:
    """`` lang="zh"`` for text with Chinese characters (a clause may be English)."""
    return ' lang="zh"' if re.search(r"[\u3400-\u9fff]", text) else ""


def _zh_cell(text: str, shown: bool) -> str:
    """The 中文 cell of a row, when its table has that column."""
    return f'<td class="zh" lang="zh">{e(text)}</td>' if shown else ""


def _svg(dot: str, prefix: str, wide: bool = False) -> str:
    """Inline SVG with element ids made unique in the page."""
    svg = svg_inline(dot)
    svg = re.sub(r'\bid="([^"]*)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    return f'<div class="diagram{" wide" if wide else ""}">{svg}</div>'


class Report:
    """Builds the HTML; one instance per report."""

    def __init__(self, system: System, *, spec_name: str = "specs",
                 coverage: Coverage | None = None, diff: SpecDiff | None = None,
                 lang: str = "en") -> None:
        self.system = system
        self.spec_name = spec_name
        self.coverage = coverage
        self.diff = diff
        self.lang = lang
        self.secrets = secret_names(system)
        self.assumptions = {a.question: a for a in system.assumptions}

    # -- pieces ----------------------------------------------------------------------------------
    def cites(self, rules: tuple[str, ...]) -> str:
        out = []
        for rule_id in rules:
            rule = self.system.catalogue.rule(rule_id)
            if rule is not None:
                out.append(f'<div class="cite"><a href="#rule-{e(rule_id)}"><b>{e(rule_id)}</b>'
                           f'</a> <span class="clause zh"{_lang(rule.clause)}>{e(rule.clause)}'
                           '</span>'
                           f'<span class="reading">{e(rule.reading)}</span></div>')
                continue
            assumption = self.assumptions.get(rule_id)
            question = self.system.catalogue.question(rule_id)
            text = assumption.choice.en if assumption else (question.text if question else "")
            out.append(f'<div class="cite"><a href="#question-{e(rule_id)}"><b>{e(rule_id)}</b>'
                       f'</a> <span class="badge open">open</span> <span class="reading">'
                       f'{e(text)}</span></div>')
        return "".join(out)

    def event_cell(self, name: str) -> str:
        """An event's name, marked when the event is an extension beyond the source."""
        event = next((ev for ev in self.system.events if ev.name == name), None)
        badge = (f' <span class="badge open">extension {e(event.extension)}</span>'
                 if event is not None and event.extension else "")
        return f"<code>{e(name)}</code>{badge}"

    def count_cell(self, count: int | None) -> str:
        if count is None:
            return ""
        return f'<td class="n{" never" if count == 0 else ""}">{count}</td>'

    # -- sections --------------------------------------------------------------------------------
    def header(self) -> str:
        s = self.system
        cited = self.system.citations()
        rules = s.catalogue.rules
        n_cited = sum(1 for r in rules if r.id in cited)
        counted = (("machine", len(s.machines)), ("transition", len(s.transitions)),
                   ("refusal", len(s.rejections)), ("invariant", len(s.all_invariants)))
        cards: list[tuple[str, Any]] = [(plural(n, word)[len(str(n)) + 1:], n)
                                        for word, n in counted]
        cards += [("rules cited", f"{n_cited}/{len(rules)}"),
                  ("open question" if len(s.catalogue.questions) == 1 else "open questions",
                   len(s.catalogue.questions))]
        if s.step_properties:
            count = len(s.step_properties)
            cards.insert(4, ("step property" if count == 1 else "step properties", count))
        if self.coverage is not None:
            for kind, (hit, total) in self.coverage.summary(s).items():
                kind = {"rejections": "refusals"}.get(kind, kind)
                cards.append((f"{kind} exercised", f"{hit}/{total}"))
            n_failures = len(self.coverage.failures)
            cards.append((plural(n_failures, "failure")[len(str(n_failures)) + 1:], n_failures))
        nav = [f'<li><a href="#machine-{e(m.name)}">{e(m.name)}</a> '
               f'<span class="muted">{e(m.label.en)}</span></li>' for m in s.machines]
        nav.append('<li><a href="#overview">overview diagram</a></li>')
        if s.step_properties:
            nav.append('<li><a href="#step-properties">step properties</a></li>')
        nav += [f'<li><a href="#traceability">traceability {e(_id_span(s.catalogue.rules))}'
                '</a></li>',
                f'<li><a href="#assumptions">assumptions {e(_id_span(s.catalogue.questions))}'
                '</a></li>']
        if self.coverage is not None:
            nav.append('<li><a href="#run">coverage and failures</a></li>')
        if self.diff is not None:
            nav.append('<li><a href="#diff">changes since the last review</a></li>')
        nav.append('<li><a href="#appendix">events, reasons, policies</a></li>')
        return (f'<header><h1>Spec review: {e(s.name)}</h1>'
                f'<p>{e(s.label.en)}{zh(s.label.zh)}</p>'
                f'<p class="muted">Specs: <code>{e(self.spec_name)}</code>. Source policy: '
                f'<code>{e(s.catalogue.source)}</code>. Generated by <code>authspec report</code>.'
                f'</p><div class="cards">'
                + "".join(f'<div class="card"><b>{e(v)}</b>{e(k)}</div>' for k, v in cards)
                + f'</div><nav><h3>Contents</h3><ul>{"".join(nav)}</ul></nav></header>')

    def overview(self) -> str:
        options = Options(lang=self.lang, coverage=self.coverage)
        svg = _svg(overview_dot(self.system, options), "overview", wide=True)
        return (f'<section id="overview"><h2>Overview</h2><p>Machines run side by side and react '
                f'to the same events; events moved or refused by several machines are coloured '
                f'and listed.</p>{svg}</section>')

    def machine(self, m: Machine) -> str:
        cov = self.coverage
        options = Options(lang=self.lang, coverage=cov)
        parts = [f'<section class="machine" id="machine-{e(m.name)}" data-machine="{e(m.name)}">'
                 f'<h2>{e(m.name)} — {e(m.label.en)}{zh(m.label.zh, " ")}</h2>',
                 _svg(machine_dot(self.system, m, options), f"m-{m.name}")]
        # states
        head = "<th>visits</th>" if cov else ""
        rows = []
        chinese = zh_column(st.label for st in m.states)
        for st in m.states:
            marks = [w for w, on in (("initial", st.initial), ("final", st.final),
                                     ("no way out", no_way_out(m, st) and not st.final),
                                     ("unreachable", unreachable(m, st))) if on]
            count = self.count_cell(cov.state(m.name, st.name)) if cov else ""
            rows.append(f'<tr><td><code>{e(st.name)}</code></td><td>{e(st.label.en)}</td>'
                        + _zh_cell(st.label.zh, chinese)
                        + f'<td>{e(", ".join(marks))}</td>{count}</tr>')
        parts.append(f'<h3>States</h3><table><tr><th>state</th><th>label</th>'
                     f'{"<th>中文</th>" if chinese else ""}<th>marks</th>{head}</tr>'
                     f'{"".join(rows)}</table>')
        if m.variables:
            rows = []
            chinese = zh_column(v.label for v in m.variables)
            for v in m.variables:
                initial = DRAWN if v.secret else json.dumps(v.initial, ensure_ascii=False)
                secret = ' <span class="badge">secret</span>' if v.secret else ""
                rows.append(f'<tr><td><code>{e(v.name)}</code>{secret}</td>'
                            f'<td>{e(v.type.describe())}{" " + e(v.unit) if v.unit else ""}</td>'
                            f'<td><code>{e(initial)}</code></td><td>{e(v.label.en)}</td>'
                            + _zh_cell(v.label.zh, chinese) + '</tr>')
            parts.append('<h3>Variables</h3><table><tr><th>variable</th><th>type</th>'
                         '<th>initial</th><th>label</th>'
                         + ("<th>中文</th>" if chinese else "") + '</tr>'
                         + "".join(rows) + "</table>")
        parts.append(self.transitions_table(m.transitions))
        parts.append(self.refusals_table(m.rejections))
        if m.invariants:
            rows = [f'<tr><td><code>{e(i.id)}</code></td><td><code>'
                    f'{e(expr_text(i.expr, self.system, m.name))}</code><br>{e(i.label.en)}</td>'
                    f'<td>{self.cites(i.rules)}</td></tr>' for i in m.invariants]
            parts.append('<h3>Invariants</h3><table><tr><th>id</th><th>always</th>'
                         '<th>rules</th></tr>' + "".join(rows) + "</table>")
        parts.append("</section>")
        return "".join(parts)

    def transitions_table(self, transitions: tuple[Transition, ...]) -> str:
        cov = self.coverage
        rows = []
        for t in transitions:
            count = self.count_cell(cov.transition(t.id)) if cov else ""
            target = t.target if t.target is not None else "(stays)"
            rows.append(
                f'<tr id="{e(t.id)}"><td><code>{e(t.id)}</code>'
                f'{"<br>" + e(t.label.en) if t.label.en else ""}{zh(t.label.zh)}</td>'
                f'<td>{self.event_cell(t.event)}</td><td>{e(", ".join(t.sources))} → {e(target)}'
                f'</td><td><code>{e(expr_text(t.guard, self.system, t.machine))}</code></td>'
                f'<td><code>{e(effects_text(t, self.system))}</code></td>'
                f'<td>{self.cites(t.rules)}</td>{count}</tr>')
        head = "<th>taken</th>" if cov else ""
        return (f'<h3>Transitions ({len(transitions)})</h3><table><tr><th>id</th><th>event</th>'
                f'<th>from → to</th><th>guard</th><th>effects</th><th>rules (clause / reading)'
                f'</th>{head}</tr>{"".join(rows)}</table>')

    def refusals_table(self, rejections: tuple[Rejection, ...]) -> str:
        cov = self.coverage
        changing = any(r.changes_state for r in rejections)
        rows = []
        for r in rejections:
            try:
                reason = self.system.reason(r.reason).label
            except KeyError:
                reason = None
            label = (f'{"<br>" + e(reason.en) if reason.en else ""}{zh(reason.zh)}'
                     if reason else "")
            count = self.count_cell(cov.rejection(r.id)) if cov else ""
            # Refusals that change state (do:/to:) get a column; tables without keep theirs.
            then = (f'<td><code>{e(effects_text(r, self.system))}</code>'
                    f'{" → " + e(r.target) if r.target is not None else ""}</td>'
                    if changing else "")
            rows.append(
                f'<tr id="{e(r.id)}"><td><code>{e(r.id)}</code></td><td>{self.event_cell(r.event)}'
                f'</td><td>{e(", ".join(r.sources) or "(any state)")}</td>'
                f'<td><code>{e(expr_text(r.guard, self.system, r.machine))}</code></td>'
                f'<td><code>{e(r.reason)}</code>{label}</td>{then}<td>{self.cites(r.rules)}</td>'
                f'{count}</tr>')
        head = "<th>decided</th>" if cov else ""
        then_head = "<th>effects → target</th>" if changing else ""
        return (f'<h3>Refusals ({len(rejections)})</h3><table><tr><th>id</th><th>event</th>'
                f'<th>in</th><th>guard</th><th>reason</th>{then_head}<th>rules (clause / '
                f'reading)</th>{head}</tr>{"".join(rows)}</table>')

    def step_properties(self) -> str:
        """The step properties: what each demands of every step of its events, and why."""
        props = self.system.step_properties
        if not props:
            return ""
        rows = [f'<tr id="{e(p.id)}"><td><code>{e(p.id)}</code><br>{e(p.label.en)}<br>'
                f'<span class="zh" lang="zh">{e(p.label.zh)}</span></td>'
                f'<td>{e(", ".join(p.events) or "(every event)")}</td>'
                f'<td><code>{e(self._holds_text(p))}</code></td>'
                f'<td>{self.cites(p.rules)}</td></tr>' for p in props]
        return ('<section id="step-properties"><h2>Step properties</h2><p>Conditions on one '
                'whole step, checked on every step of the model (simulate, check): '
                '<code>before.m.x</code> is a value before the event, <code>after.m.x</code> '
                'after it; <code>event</code>, <code>accepted</code> and <code>reason</code> '
                'say what the step was and what came of it.</p><table><tr><th>id</th>'
                '<th>events</th><th>holds</th><th>rules (clause / reading)</th></tr>'
                + "".join(rows) + "</table></section>")

    def _holds_text(self, prop: StepProperty) -> str:
        """A step property's expression, string literals next to a secret masked."""
        plain_tree, moments = stepprops.without_moments(prop.holds.tree)
        return unparse(stepprops.with_moments(mask_tree(plain_tree, self.system), moments))

    def traceability(self) -> str:
        s = self.system
        cited = s.citations()
        machines = [m.name for m in s.machines]
        head = "".join(f"<th>{e(m)}</th>" for m in machines)
        grid, lists = [], []
        for rule in s.catalogue.rules:
            elements = cited.get(rule.id, [])
            per = {m: 0 for m in machines}
            system_wide = 0
            for el in elements:
                owner = getattr(el, "machine", None)
                if owner in per:
                    per[owner] += 1
                else:
                    system_wide += 1
            cells = "".join(f'<td class="n{" hit" if per[m] else ""}">{per[m] or ""}</td>'
                            for m in machines)
            status = ('<span class="badge bad">not cited</span>' if not elements else
                      f'<span class="badge good">{len(elements)}</span>')
            cls = ' class="uncited"' if not elements else ""
            grid.append(f'<tr{cls} id="rule-{e(rule.id)}"><td><b>{e(rule.id)}</b></td>{cells}'
                        f'<td class="n">{system_wide or ""}</td><td>{status}</td></tr>')
            kinds = ", ".join(f'<code>{e(self._element_name(el))}</code>' for el in elements)
            lists.append(f'<tr{cls}><td><b>{e(rule.id)}</b><br><span class="muted">'
                         f'{e(rule.section)}</span></td><td><span class="zh"{_lang(rule.clause)}>'
                         f'{e(rule.clause)}</span><br><span class="muted">{e(rule.reading)}'
                         f'</span></td><td>{kinds or "<b>not cited by any element</b>"}</td></tr>')
        span = _id_span(s.catalogue.rules)
        return (f'<section id="traceability"><h2>Traceability: rules{" " + e(span) if span else ""}'
                f'</h2><p>Elements citing each rule, per machine (system-wide invariants and '
                f'policies in “system”). Rules no element cites are marked.</p>'
                f'<table class="matrix"><tr><th>rule</th>{head}<th>system</th><th>total</th></tr>'
                f'{"".join(grid)}</table><h3>Rule → elements</h3><table><tr><th>rule</th>'
                f'<th>clause / reading</th><th>cited by</th></tr>{"".join(lists)}</table>'
                f'</section>')

    @staticmethod
    def _element_name(element: Any) -> str:
        kind = type(element).__name__.lower().replace("rejection", "refusal").replace(
            "stepproperty", "step property")
        return f"{kind} {getattr(element, 'id', None) or getattr(element, 'name', '')}"

    def questions(self) -> str:
        s = self.system
        cited = s.citations()
        rows = []
        for q in s.catalogue.questions:
            a = self.assumptions.get(q.id)
            users = ", ".join(f"<code>{e(self._element_name(el))}</code>"
                              for el in cited.get(q.id, []))
            if a is None:
                choice = '<span class="badge bad">no assumption recorded</span>'
                rules = ""
            else:
                choice = f'{e(a.choice.en)}{zh(a.choice.zh)}'
                rules = ", ".join(f'<a href="#rule-{e(r)}">{e(r)}</a>' for r in a.rules)
            rows.append(f'<tr id="question-{e(q.id)}"><td><b>{e(q.id)}</b><br>'
                        f'<span class="badge open">open: to settle</span></td>'
                        f'<td>{e(q.text)}</td><td>{choice}</td><td>{rules}</td>'
                        f'<td>{users or "—"}</td></tr>')
        extra = [a for a in s.assumptions if s.catalogue.question(a.question) is None]
        for a in extra:
            rows.append(f'<tr><td><b>{e(a.question)}</b></td><td class="muted">(not in the '
                        f'catalogue)</td><td>{e(a.choice.en)}</td><td>{e(", ".join(a.rules))}'
                        f'</td><td></td></tr>')
        return ('<section id="assumptions"><h2>Assumptions taken for the open questions</h2>'
                '<p>Each is the reading the specs take until the meeting settles the question; '
                'all are <span class="badge open">open</span>.</p><table><tr><th>question</th>'
                '<th>the question</th><th>assumption taken</th><th>rules</th><th>elements '
                'citing it</th></tr>' + "".join(rows) + "</table></section>")

    @staticmethod
    def conditions(cov: Coverage) -> str:
        """Condition and MC/DC coverage (harness/coverage.py): the totals, the gaps not
        reached and those proven unreachable, with the proof."""
        line = cov.conditions_line()
        if not line:
            return ""
        gaps = "".join(f"<li><code>{e(g)}</code></li>" for g in cov.condition_gaps)
        proven = "".join(f"<li><code>{e(g)}</code> <span class=\"muted\">{e(why)}</span></li>"
                         for g, why in cov.unreachable.items())
        return (f'<h3>Conditions</h3><p id="conditions">{e(line)}</p>'
                + (f"<p>Not reached:</p><ul>{gaps}</ul>" if gaps else "")
                + (f"<p>Proven unreachable:</p><ul>{proven}</ul>" if proven else ""))

    def run(self) -> str:
        cov = self.coverage
        assert cov is not None
        s = self.system
        rows = []
        for kind, (hit, total) in cov.summary(s).items():
            kind = {"rejections": "refusals"}.get(kind, kind)
            pct = f"{100 * hit / total:.0f}%" if total else "—"
            rows.append(f"<tr><td>{e(kind)}</td><td>{hit}</td><td>{total}</td><td>{pct}</td></tr>")
        never_t = [t for t in s.transitions if cov.transition(t.id) == 0]
        never_r = [r for r in s.rejections if cov.rejection(r.id) == 0]
        parts = [f'<section id="run"><h2>Coverage and failures</h2><p class="muted">Run: '
                 f'<code>{e(cov.source)}</code></p><table><tr><th>kind</th><th>exercised</th>'
                 f'<th>in the spec</th><th>%</th></tr>{"".join(rows)}</table>']
        parts.append(self.conditions(cov))
        parts.append(f"<h3>Never exercised ({plural(len(never_t), 'transition')}, "
                     f"{plural(len(never_r), 'refusal')})</h3>")
        if never_t or never_r:
            rows = []
            for m in s.machines:
                ts = [t for t in never_t if t.machine == m.name]
                rs = [r for r in never_r if r.machine == m.name]
                if not ts and not rs:
                    continue
                cells = ["<br>".join(f'<a href="#{e(x.id)}"><code>{e(x.id.split(".", 1)[1])}'
                                     f'</code></a> <span class="muted">{e(", ".join(x.rules))}'
                                     f'</span>' for x in xs) for xs in (ts, rs)]
                rows.append(f'<tr><td><b>{e(m.name)}</b></td><td class="never">{cells[0]}</td>'
                            f'<td class="never">{cells[1]}</td></tr>')
            parts.append('<table><tr><th>machine</th><th>transitions never taken</th>'
                         '<th>refusals that never decided</th></tr>' + "".join(rows) + "</table>")
        else:
            parts.append("<p>Every transition and refusal was exercised.</p>")
        parts.append(f"<h3>Failures ({len(cov.failures)})</h3>")
        for n, failure in enumerate(cov.failures):
            parts.append(self.failure(failure, n))
        parts.append("</section>")
        return "".join(parts)

    def failure(self, failure: Failure, n: int) -> str:
        rows = []
        for i, step in enumerate(failure.steps):
            params = mask_params(step.params,
                                 secret_params(self.system, step.event) | self.secrets)
            spec = step.rejection or " ".join(step.transitions) or "—"
            cls = ' class="divergent"' if i == failure.divergent else ""
            rows.append(f'<tr{cls}><td>{i + 1}</td><td><code>{e(step.event)}</code></td>'
                        f'<td>{_params_cell(params)}</td><td><code>{e(spec)}</code></td>'
                        f'<td>{e(self._plain(step.expected))}</td>'
                        f'<td>{e(self._plain(step.actual))}</td>'
                        f'<td>{e(", ".join(step.rules))}</td></tr>')
        extra = mask_json(failure.extra, self.secrets)
        details = "".join(f"<li><b>{e(k)}</b>: {_value_html(v)}</li>"
                          for k, v in extra.items()
                          if k not in BOOKKEEPING and v not in ("", [], {}))
        diagram = ""
        if n < MAX_TRACE_DIAGRAMS and failure.steps:
            options = Options(lang=self.lang, failure=failure, rejections=False)
            diagram = _svg(overview_dot(self.system, options), f"trace{n}", wide=True)
        return (f'<div class="failure" id="failure-{n + 1}"><h4>{e(failure.title)}</h4>'
                f'<ul>{details}</ul><table><tr><th>#</th><th>event</th><th>params</th>'
                f'<th>spec: transitions / refusal</th><th>expected (spec)</th><th>actual</th>'
                f'<th>rules</th></tr>{"".join(rows)}</table>{diagram}</div>')

    def _plain(self, value: Any) -> str:
        value = mask_json(value, self.secrets)
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                              sort_keys=True, default=str)

    def diff_section(self) -> str:
        diff = self.diff
        assert diff is not None
        if not diff:
            return (f'<section id="diff"><h2>Changes: {e(diff.old_name)} → {e(diff.new_name)}'
                    f'</h2><p>No semantic differences.</p></section>')
        rows = []
        for c in diff.changes:
            if c.fields:
                what = "<br>".join(f"<b>{e(f)}</b>: <code>{e(o or '∅')}</code> → "
                                   f"<code>{e(n or '∅')}</code>" for f, o, n in c.fields)
            else:
                what = e(c.summary)
            rows.append(f'<tr class="{c.kind}"><td>{e(c.kind)}</td><td>{e(c.category)}</td>'
                        f'<td><code>{e(c.key)}</code></td><td>{what}</td>'
                        f'<td>{e(", ".join(c.rules))}</td></tr>')
        affected = ", ".join(f'<a href="#rule-{e(r)}">{e(r)}</a> ({len(cs)})'
                             for r, cs in diff.affected_rules.items())
        diagrams = "".join(f"<h3>{e(name)}</h3>" + _svg(dot, f"diff-{name}")
                           for name, dot in diff_dots(diff, self.lang).items())
        return (f'<section id="diff"><h2>Changes: {e(diff.old_name)} → {e(diff.new_name)}</h2>'
                f'<p><b>Rules and questions affected:</b> {affected or "none"}</p><table><tr>'
                f'<th>change</th><th>kind</th><th>element</th><th>what</th><th>rules</th></tr>'
                f'{"".join(rows)}</table>{diagrams}</section>')

    def appendix(self) -> str:
        s = self.system
        rows = []
        for ev in s.events:
            params = "<br>".join(
                f'<code>{e(p.name)}</code>: {e(p.type.describe())}'
                + (' <span class="badge">secret</span>' if p.secret else "")
                + (f' <span class="muted">policies: {e(", ".join(p.policies))}</span>'
                   if p.policies else "") for p in ev.params)
            ext = f' <span class="badge open">extension {e(ev.extension)}</span>' \
                if ev.extension else ""
            rows.append(f'<tr><td><code>{e(ev.name)}</code>{ext}</td><td>{e(ev.label.en)}'
                        f'{zh(ev.label.zh)}</td>'
                        f'<td>{params}</td></tr>')
        chinese = zh_column(r.label for r in s.reasons)
        reasons = "".join(f'<tr><td><code>{e(r.code)}</code></td><td>{e(r.label.en)}</td>'
                          + _zh_cell(r.label.zh, chinese) + '</tr>' for r in s.reasons)
        policies = "".join(
            f'<tr><td><code>{e(p.name)}</code></td><td>{p.min_length}-{p.max_length}</td>'
            f'<td>{e(", ".join(p.alphabet))}</td><td>{e(", ".join(p.require))}</td>'
            f'<td>{"yes" if p.case_sensitive else "no"}</td><td>{e(p.label.en)}'
            f'{zh(p.label.zh)}</td></tr>' for p in s.policies)
        return ('<section id="appendix"><h2>Appendix</h2><h3>Events</h3><table><tr><th>event'
                '</th><th>label</th><th>parameters</th></tr>' + "".join(rows) + '</table>'
                f'<h3>Reason codes</h3><table><tr><th>code</th><th>label</th>'
                f'{"<th>中文</th>" if chinese else ""}</tr>{reasons}</table>'
                f'<h3>Password policies</h3><table><tr><th>policy</th>'
                f'<th>length</th><th>alphabet</th><th>requires</th><th>case-sensitive</th>'
                f'<th>label</th></tr>{policies}</table><p class="muted">Otherwise reason: '
                f'<code>{e(s.otherwise)}</code></p></section>')

    def html(self) -> str:
        body = [self.header(), self.overview(), *(self.machine(m) for m in self.system.machines),
                self.step_properties(), self.traceability(), self.questions()]
        if self.coverage is not None:
            body.append(self.run())
        if self.diff is not None:
            body.append(self.diff_section())
        body.append(self.appendix())
        csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f'<title>Spec review: {e(self.system.name)}</title><style>{CSS}</style></head>'
                f'<body>{"".join(body)}</body></html>\n')


def report_html(system: System, *, spec_name: str = "specs", coverage: Coverage | None = None,
                diff: SpecDiff | None = None, lang: str = "en") -> str:
    """The whole report as one HTML string."""
    return Report(system, spec_name=spec_name, coverage=coverage, diff=diff, lang=lang).html()

