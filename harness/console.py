"""What the user sees of a check on the console: the trace, the coverage, secrets masked.

``render_failure`` prints the minimal failing trace as numbered steps (event, parameters
with secrets masked unless asked, expected vs actual, rule IDs) followed by the clause
(Chinese) and reading (English) of each rule the divergent step cites, from the spec's
catalogue. Runs of identical steps (the repeat rule) print as one line
``12-1011. ... x1000``. ``render_coverage`` prints the coverage table.

Nothing printed here is read as rich markup or emoji: the text of a spec, a backend or a
user (reason codes, parameters, paths, clauses) may hold ``[bold]`` or ``:100:``, so every
line is a ``rich.text.Text`` built by ``line`` (plain parts as they are, styles given apart)
and printed by ``say``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from authspec.model import Executable, Outcome
from authspec.model.ir import Invariant, System
from authspec.model.secrets import bulleted

from .coverage import Coverage
from .records import Failure, Step

# -- printing ---------------------------------------------------------------------------------

#: a part of a printed line: text as it is, or (text, rich style)
Part = str | tuple[str, str]


def line(*parts: Part, style: str = "") -> Text:
    """One line of output from plain parts: never read as markup or emoji."""
    return Text.assemble(*parts, style=style)


def say(console: Console, *parts: Part, style: str = "") -> None:
    """Print ``line(*parts)``: the one way harness output reaches the console."""
    console.print(line(*parts, style=style), highlight=False)


# -- steps ------------------------------------------------------------------------------------


def group_steps(steps: Sequence[Step]) -> list[tuple[Step, int]]:
    """Consecutive identical steps (same event, parameters and answers) as (first, count)."""
    groups: list[tuple[Step, int]] = []
    for step in steps:
        if groups:
            first, count = groups[-1]
            if (first.event == step.event and first.params == step.params
                    and first.expected.accepted == step.expected.accepted
                    and first.expected.reason == step.expected.reason
                    and first.expected.transitions == step.expected.transitions
                    and first.actual == step.actual and first.conforms and step.conforms):
                groups[-1] = (first, count + 1)
                continue
        groups.append((step, 1))
    return groups


def format_params(system: System, step: Step, *, show_secrets: bool = False) -> str:
    event = system.event(step.event)
    parts = []
    for param in event.params:
        if param.name not in step.params:
            continue
        value = step.params[param.name]
        text = masked(step, param.name) if param.secret and not show_secrets else repr(value)
        parts.append(f"{param.name}={text}")
    return ", ".join(parts)


def masked(step: Step, name: str) -> str:
    """A secret parameter as shown: the mask, and what the value is (never the value)."""
    return bulleted(step.hints.get(name, ""))


def describe_outcome(outcome: Outcome) -> str:
    if outcome.accepted:
        return f"accepted via {', '.join(outcome.transitions)}"
    by = outcome.rejection or "no transition (otherwise)"
    return f"rejected({outcome.reason}) by {by}"


def trace_lines(system: System, failure: Failure, *, show_secrets: bool = False) -> list[str]:
    """The trace as plain numbered lines (no markup)."""
    lines = []
    groups = group_steps(failure.steps)
    for number, (step, count) in enumerate(groups, start=1):
        last = number == len(groups)
        span = f"{step.index}" if count == 1 else f"{step.index}-{step.index + count - 1}"
        times = f" \u00d7{count}" if count > 1 else ""
        params = format_params(system, step, show_secrets=show_secrets)
        lines.append(f"{span:>9}. {step.event}({params}){times}")
        rules = " ".join(step.expected.rules) or "-"
        if last:
            lines.append(f"           expected: {describe_outcome(step.expected)}  [{rules}]")
            actual = "no answer" if step.actual is None else str(step.actual)
            lines.append(f"           actual:   {actual}   \u2717 {failure.kind}")
        else:
            lines.append(f"           -> {step.actual}  [{rules}]")
    return lines


def rule_lines(system: System, rules: Iterable[str]) -> list[str]:
    lines = []
    for rule_id in dict.fromkeys(rules):
        rule = system.catalogue.rule(rule_id)
        if rule is not None:
            lines.append(f"  {rule.id}  {rule.clause}")
            lines.append(f"       {rule.reading}")
            continue
        question = system.catalogue.question(rule_id)
        if question is not None:
            assumption = next((a for a in system.assumptions if a.question == rule_id), None)
            lines.append(f"  {question.id}  {question.text}")
            if assumption is not None:
                lines.append(f"       assumed: {assumption.choice.en}")
    return lines


def subject_lines(failure: Failure) -> list[str]:
    """Which rules are at stake for what (only when a variable or machine diverged): those
    of the divergent step, and those of each variable or machine that diverged."""
    if not failure.subjects:
        return []
    lines = [f"  of step {failure.last.index} ({failure.last.event}): "
             f"{' '.join(failure.step_rules) or '-'}"]
    for subject, rules in failure.subjects:
        lines.append(f"  of {subject}: {' '.join(rules) or 'none cited'}")
    return lines


def render_failure(console: Console, system: System, failure: Failure, *,
                   show_secrets: bool = False) -> None:
    last = failure.last
    lines = len(group_steps(failure.steps))
    grouped = f", repeats grouped into {lines} lines" if lines < len(failure.steps) else ""
    say(console, ("Minimal failing trace", "bold red"),
        f" ({_steps(len(failure.steps))}{grouped}):")
    for text in trace_lines(system, failure, show_secrets=show_secrets):
        say(console, text, style="red" if "\u2717" in text else "")
    say(console, (f"Divergence at step {last.index}", "bold"),
        f" ({last.event}): {failure.detail}")
    for difference in failure.differences:
        say(console, f"  - {difference}")
    rules = failure.cited
    if rules:
        say(console, ("Rules at stake:", "bold"))
        for text in subject_lines(failure):
            say(console, text)
        for text in rule_lines(system, rules):
            say(console, text)
    render_requests(console, failure.steps, show_secrets=show_secrets)


def broken_invariants(system: System, failure: Failure) -> list[Invariant]:
    """The invariants the model breaks after the failure's steps, replayed on a fresh model
    (the spec alone decides them: no backend is involved)."""
    model = Executable(system)
    for step in failure.steps:
        model.step(step.event, step.params)
    return model.violated_invariants()


def render_spec_bug(console: Console, system: System, failure: Failure, backend: str, *,
                    show_secrets: bool = False) -> None:
    """A broken invariant: the spec contradicts itself, whatever the backend answered.

    The model's own steps lead to a state its invariants forbid, so the fix is in the spec
    (a transition's effects or target, or the invariant), not in ``backend``."""
    broken = broken_invariants(system, failure)
    names = ", ".join(i.id for i in broken) or failure.detail
    say(console, ("SPEC BUG", "bold red"), f" {system.name} breaks its own invariant "
        f"{names} after {len(failure.steps)} step{'' if len(failure.steps) == 1 else 's'}; "
        f"this is not a difference of {backend}: the spec's transitions lead to a state its "
        "invariants forbid")
    for invariant in broken:
        say(console, f"  {invariant.span}: invariant {invariant.id}: {invariant.expr.source}")
    last = failure.last
    by = ", ".join(last.expected.transitions) or last.expected.rejection or "no element"
    say(console, f"fix the spec: the effects or target of {by} (step {last.index}, "
        f"{last.event}), or the invariant, so that every state the spec reaches holds it; "
        "authspec simulate replays the trace on the model alone")
    render_failure(console, system, failure, show_secrets=show_secrets)


def render_requests(console: Console, steps: Sequence[Step], *,
                    show_secrets: bool = False) -> None:
    """The trace as the HTTP requests that carried it (HTTP backends only), as curl."""
    from .http_adapter import curl_lines

    lines = curl_lines(group_steps(steps), show_secrets=show_secrets)
    if lines:
        say(console, ("The same trace as requests:", "bold"))
        for text in lines:
            console.print(line(text), highlight=False, soft_wrap=True)


def _steps(count: int) -> str:
    return "no step" if count == 0 else "1 step" if count == 1 else f"{count} steps"


def error_position(steps: Sequence[Step], call: str) -> str:
    """Where in its example a backend error struck, numbered as the steps listed
    (``render_steps``): the step that got no answer, or the step after which ``call``
    (``observe()``) failed, or before any step (``reset()``)."""
    if not steps:
        return f"in {call}, before step 1 of an example"
    last = steps[-1]
    if last.actual is None:
        return (f"at step {last.index} ({last.event}), the last one listed, which got no "
                f"answer; {_steps(last.index - 1)} of this example answered before it")
    return (f"in {call} after step {last.index} ({last.event}), the last one listed, which "
            "answered")


def render_steps(console: Console, system: System, steps: Sequence[Step], *,
                 show_secrets: bool = False) -> None:
    """Steps of an aborted run (backend error): the last one had no answer."""
    for step, count in group_steps(steps):
        span = f"{step.index}" if count == 1 else f"{step.index}-{step.index + count - 1}"
        times = f" \u00d7{count}" if count > 1 else ""
        answer = "no answer" if step.actual is None else str(step.actual)
        say(console, f"{span:>9}. {step.event}("
            f"{format_params(system, step, show_secrets=show_secrets)}){times} -> {answer}")


# -- coverage ---------------------------------------------------------------------------------


def coverage_summary(coverage: Coverage) -> str:
    parts = []
    for category, (covered, declared) in coverage.summary().items():
        parts.append(f"{category} {covered}/{declared}")
    parts.extend(condition_parts(coverage))
    coarse = coverage.coarse_only()
    if coarse:
        parts.append(f"checked only coarsely: {', '.join(coarse)}")
    return ", ".join(parts)


CONDITION_LABELS = {"conditions": "conditions", "mcdc": "MC/DC"}


def condition_parts(coverage: Coverage) -> list[str]:
    """``conditions 120/124 (4 unreachable)``, ``MC/DC 60/62 (2 unreachable)``: each value
    of each condition of a guard seen, and each condition shown deciding alone."""
    parts = []
    for category, (covered, declared, proven) in coverage.condition_summary().items():
        text = f"{CONDITION_LABELS[category]} {covered}/{declared}"
        parts.append(text + (f" ({proven} unreachable)" if proven else ""))
    return parts


def render_coverage(console: Console, coverage: Coverage, *, limit: int = 12) -> None:
    table = Table(title="Coverage", show_edge=False, header_style="bold")
    table.add_column("")
    table.add_column("covered", justify="right")
    table.add_column("declared", justify="right")
    table.add_column("never exercised")
    for category, (covered, declared) in coverage.summary().items():
        missing = coverage.uncovered(category)
        shown = ", ".join(missing[:limit]) + (f", ... (+{len(missing) - limit})"
                                             if len(missing) > limit else "")
        table.add_row(line(category), line(str(covered)), line(str(declared)), line(shown))
    gaps = coverage.condition_gaps()
    proven = coverage.unreachable()
    for category, (covered, declared, unreachable) in coverage.condition_summary().items():
        missing = [g.id for g in gaps if (g.what == "mcdc") == (category == "mcdc")
                   and g not in proven]
        shown = ", ".join(missing[:limit]) + (f", ... (+{len(missing) - limit})"
                                             if len(missing) > limit else "")
        if unreachable:
            shown = f"{shown}; " if shown else ""
            shown += f"{unreachable} proven unreachable"
        table.add_row(line(CONDITION_LABELS[category]), line(str(covered)),
                      line(str(declared)), line(shown))
    console.print(table)


def expected_text(outcome: Outcome) -> str:
    """The model's answer as the backend's would print: ``accepted`` or ``rejected(reason)``."""
    return "accepted" if outcome.accepted else f"rejected({outcome.reason})"
