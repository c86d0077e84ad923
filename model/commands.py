"""Commands of the model package: ``validate``, ``simulate``, ``trace``, ``schema``; and the
helpers every command uses to read the project's configuration (project.py)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .checks import SOLVER_BUDGET_S, SOLVER_TIMEOUT_MS, check_system, errors
from .console import PIPE_WIDTH, output_width, plain, plain_console
from .errors import ModelError, SpecErrors
from .ir import Rejection, System, citing_name
from .loader import load, schema
from .project import Fallback, Project, ProjectError, choose_specs, find_project
from .secrets import masked
from .simulate import StepResult, read_trace, run_trace
from .traceability import Matrix, RuleRow, matrix


def console() -> Console:
    """The console harness/commands.py prints its own rich markup to (highlighting off).

    It interprets markup and emoji, so it is no place for user text; the model's commands
    print through ``model.console.plain_console``, which interprets nothing."""
    return Console(highlight=False, soft_wrap=True, width=output_width())


SPECS_DEFAULT = ("default: specs in authspec.toml, else ./specs, else the shipped example "
                 "(with a note)")
SpecsArg = Annotated[Path | None, typer.Argument(
    help="Folder of the specs (holding system.yaml) or a system file; " + SPECS_DEFAULT,
    show_default=False)]


def project_or_exit() -> Project:
    """The configuration in force (project.py); its errors on stderr and exit 2 when the
    file is wrong."""
    try:
        return find_project()
    except ProjectError as error:
        raise _usage_error(error) from None


def _usage_error(error: ProjectError) -> typer.Exit:
    """The error on stderr (located lines as they are, else after ``error:``); exit 2."""
    typer.echo(str(error) if error.errors else f"error: {error}", err=True)
    return typer.Exit(2)


def specs_or_exit(given: str | Path | None, project: Project, command: str,
                  fallback: Fallback = "note") -> Path | None:
    """The specs ``command`` uses (project.choose_specs; None: the shipped ones); the note
    of the shipped fallback on stderr; exit 2 with what to do when it refuses."""
    try:
        chosen, note = choose_specs(given, project, command, fallback)
    except ProjectError as error:
        raise _usage_error(error) from None
    if note is not None:
        print(note, file=sys.stderr)
    return Path(chosen) if chosen is not None else None


def load_or_exit(specs: Path | None, out: Console) -> System:
    """The system at ``specs``; its errors printed and exit 1 when it does not load, exit 2
    when there is nothing at ``specs`` (a usage error)."""
    if specs is not None and not _exists(specs):
        out.print(f"error: {specs}: no such file or folder")
        out.print("    hint: give the folder of the specs (holding system.yaml) or a system "
                  "file")
        raise typer.Exit(2)
    try:
        return load(specs)
    except SpecErrors as err:
        for error in err.errors:
            out.print(error.format())
        out.print(f"{len(err.errors)} error(s): the spec was not loaded")
        raise typer.Exit(1) from None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def validate(specs: SpecsArg = None,
             strict: Annotated[bool, typer.Option(help="Treat warnings as errors.")] = False,
             solver_timeout: Annotated[int, typer.Option(
                 min=1, help="Milliseconds Z3 may spend on each query.")] = SOLVER_TIMEOUT_MS,
             solver_budget: Annotated[float, typer.Option(
                 min=0.1, help="Seconds Z3 may spend on all the queries.")] = SOLVER_BUDGET_S,
             ) -> None:
    """Load the specs and run every static check; exit 1 on errors."""
    out = plain_console()
    system = load_or_exit(specs_or_exit(specs, project_or_exit(), "validate"), out)
    findings = check_system(system, timeout_ms=solver_timeout, budget_s=solver_budget)
    for finding in findings:
        out.print(finding.format())
    n_errors = len(errors(findings))
    n_warnings = len(findings) - n_errors
    summary = (f"{system.file}: {len(system.machines)} machines, {len(system.states_all)} "
               f"states, {len(system.transitions)} transitions, {len(system.rejections)} "
               f"refusals, {len(system.all_invariants)} invariants, {len(system.events)} "
               f"events; {n_errors} error(s), {n_warnings} warning(s)")
    out.print(summary)
    if n_errors or (strict and n_warnings):
        raise typer.Exit(1)


def simulate(trace: Annotated[Path, typer.Argument(help="Trace file (YAML or JSON).")],
             specs: Annotated[Path | None, typer.Option(help="Specs folder; " + SPECS_DEFAULT)]
             = None,
             show_secrets: Annotated[bool, typer.Option(help="Print secret parameters in "
                                                          "clear.")] = False,
             as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
             ) -> None:
    """Run a trace of events through the model; print each step's outcome and rules."""
    out = plain_console()
    system = load_or_exit(specs_or_exit(specs, project_or_exit(), "simulate"), out)
    try:
        steps = read_trace(trace, system)
    except SpecErrors as err:
        for error in err.errors:
            out.print(error.format())
        raise typer.Exit(2) from None
    except Exception as err:
        out.print(str(err))
        raise typer.Exit(2) from None
    try:
        results = run_trace(system, steps)
    except ModelError as err:
        out.print(f"error: the spec fails while running the trace: {err}")
        raise typer.Exit(2) from None
    failed = 0
    before: tuple[Mapping[str, str], Mapping[str, Any]] = (
        {m.name: m.initial.name for m in system.machines},
        {v.qualified: v.initial for v in system.variables})
    for result in results:
        changed = _changes(system, before, result, show_secrets)
        before = (result.configuration, result.values)
        event = system.event(result.step.event)
        params = result.step.params if show_secrets else event.redacted(result.step.params)
        outcome = result.outcome
        if not result.as_expected:
            failed += 1
        if as_json:
            print(json.dumps({
                "step": result.number, "event": event.name, "params": params,
                "accepted": outcome.accepted, "reason": outcome.reason,
                "transitions": list(outcome.transitions), "rejection": outcome.rejection,
                "rules": list(outcome.rules), "expected": result.step.expect,
                "as_expected": result.as_expected, "configuration": dict(result.configuration),
                "broken_invariants": list(result.broken_invariants),
                "broken_step_properties": list(result.broken_step_properties),
                "refusal_changed": changed if not outcome.accepted else [],
            }, ensure_ascii=False))
            continue
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
        mark = "" if result.as_expected else f"   <-- expected {result.step.expect}"
        if result.broken_invariants:
            mark = f"   <-- invariant broken: {'; '.join(result.broken_invariants)}"
        if result.broken_step_properties:
            mark = (mark if result.broken_invariants else "") + (
                f"   <-- step property broken: {'; '.join(result.broken_step_properties)}")
        out.print(f"{result.number:>3}. {event.name}({shown})")
        by = ", ".join(outcome.transitions) or outcome.rejection or "otherwise"
        out.print(f"     -> {outcome}  by {by}  rules {', '.join(outcome.rules) or '-'}{mark}")
        if changed and not outcome.accepted:
            out.print(f"        refused, and changed: {'; '.join(changed)}")
    if not as_json:
        last = results[-1] if results else None
        if last is not None:
            state = ", ".join(f"{m}={s}" for m, s in last.configuration.items())
            out.print(f"final state: {state}")
            values = {k: (masked(v) if _secret(system, k) and not show_secrets else v)
                      for k, v in last.values.items()}
            out.print("final values: " + ", ".join(f"{k}={v!r}" for k, v in values.items()))
        out.print(f"{len(results)} steps, {failed} not as expected")
    if failed:
        raise typer.Exit(1)


def _changes(system: System, before: tuple[Mapping[str, str], Mapping[str, Any]],
             result: StepResult, show_secrets: bool) -> list[str]:
    """What a step changed: each machine that moved and each variable that changed (secret
    values masked unless shown)."""
    states, values = before
    moved = [f"{m} {states[m]} -> {s}" for m, s in result.configuration.items()
             if states.get(m) != s]

    def shown(name: str, value: Any) -> str:
        return repr(masked(value) if _secret(system, name) and not show_secrets else value)

    changed = [f"{k} {shown(k, values.get(k))} -> {shown(k, v)}"
               for k, v in result.values.items() if values.get(k) != v]
    return moved + changed


def _secret(system: System, qualified: str) -> bool:
    return any(v.secret for v in system.variables if v.qualified == qualified)


def trace(specs: SpecsArg = None,
          fmt: Annotated[str, typer.Option("--format", help="text, json or markdown")] = "text",
          lang: Annotated[str, typer.Option(help="en or zh for the labels")] = "en",
          output: Annotated[Path | None, typer.Option(
              "--out", "-o", help="Write the matrix to this file and print only the summary")
          ] = None,
          ) -> None:
    """Print the traceability matrix: each rule and what enforces it, each question's answer."""
    out = plain_console()
    system = load_or_exit(specs_or_exit(specs, project_or_exit(), "trace"), out)
    table = matrix(system)
    if fmt not in ("json", "markdown", "text"):
        out.print(f"unknown format {fmt!r}: use text, json or markdown")
        raise typer.Exit(2)
    if output is not None:
        if fmt == "json":
            text = json.dumps(table.as_json(), ensure_ascii=False, indent=2) + "\n"
        elif fmt == "markdown":
            text = _markdown(table, lang) + "\n"
        else:
            buffer = io.StringIO()
            _print_text(plain_console(file=buffer, width=PIPE_WIDTH), table, lang)
            text = buffer.getvalue()
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            out.print(f"error: cannot write {output}: {error.strerror or error}")
            raise typer.Exit(2) from None
        out.print(_summary(table) + f" (written to {output})")
    elif fmt == "json":
        print(json.dumps(table.as_json(), ensure_ascii=False, indent=2))
    elif fmt == "markdown":
        print(_markdown(table, lang))
    else:
        _print_text(out, table, lang)
        out.print(_summary(table))
    if table.uncovered or table.unanswered:
        raise typer.Exit(1)


def _changes_of(r: Rejection) -> str:
    """``; failures := failures + 1 → locked`` for a refusal that changes state, else ''."""
    if not r.changes_state:
        return ""
    effects = ", ".join(f"{a.variable} := {a.value.source}" for a in r.effects)
    target = f"→ {r.target}" if r.target is not None else ""
    return "; " + " ".join(part for part in (effects, target) if part)


def _summary(table: Matrix) -> str:
    covered = sum(r.covered for r in table.rules)
    answered = sum(q.answered for q in table.questions)
    return (f"rules covered: {covered}/{len(table.rules)}; questions answered: "
            f"{answered}/{len(table.questions)}")


def _elements(row: RuleRow) -> list[str]:
    items = [f"transition {t.id}" for t in row.transitions]
    items += [f"refusal {r.id} ({r.reason}{_changes_of(r)})" for r in row.rejections]
    items += [f"invariant {i.id}" for i in row.invariants]
    items += [f"policy {p.name}" for p in row.policies]
    items += [f"step property {p.id}" for p in row.step_properties]
    return items


def _print_text(out: Console, table: Matrix, lang: str) -> None:
    rules = Table(title="Rules and what enforces them", show_lines=True)
    for column in ("rule", "source / reading", "enforced by"):
        rules.add_column(column, overflow="fold")
    for row in table.rules:
        text = row.rule.clause if lang == "zh" else row.rule.reading
        enforced = "\n".join(_elements(row)) or "NOT COVERED"
        rules.add_row(plain(row.rule.id), plain(text), plain(enforced))
    out.print(rules)
    questions = Table(title="Open questions and the assumptions taken (open for the review)",
                      show_lines=True)
    for column in ("question", "assumption", "followed by"):
        questions.add_column(column, overflow="fold")
    for answer in table.questions:
        choice = answer.assumption.choice.get(lang) if answer.assumption else "NO ASSUMPTION"
        citing = ", ".join(citing_name(e) for e in answer.citing)
        questions.add_row(plain(answer.question.id), plain(choice or ""), plain(citing or "-"))
    out.print(questions)
    if table.extensions:
        extensions = Table(title="Extensions beyond the source (modelled under a question)",
                           show_lines=True)
        for column in ("event", "question", "elements"):
            extensions.add_column(column, overflow="fold")
        for ext in table.extensions:
            extensions.add_row(plain(ext.event.name), plain(ext.question),
                               plain(", ".join(citing_name(e) for e in ext.elements) or "-"))
        out.print(extensions)


def _markdown(table: Matrix, lang: str) -> str:
    lines = ["| Rule | Source | Enforced by |", "|---|---|---|"]
    for row in table.rules:
        text = row.rule.clause if lang == "zh" else row.rule.reading
        lines.append(f"| {row.rule.id} | {text} | {'<br>'.join(_elements(row)) or '**none**'} |")
    lines += ["", "| Question | Assumption |", "|---|---|"]
    for answer in table.questions:
        choice = answer.assumption.choice.get(lang) if answer.assumption else "**none**"
        lines.append(f"| {answer.question.id} | {choice} |")
    if table.extensions:
        lines += ["", "| Extension beyond the source | Question | Elements |", "|---|---|---|"]
        lines += [f"| {ext.event.name} | {ext.question} | "
                  f"{', '.join(citing_name(e) for e in ext.elements)} |"
                  for ext in table.extensions]
    return "\n".join(lines)


def schema_command(output: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write the schema to this file instead of printing it")] = None,
                   ) -> None:
    """Print (or write) the JSON Schema of spec files, for editors' completion and help."""
    text = json.dumps(schema(), ensure_ascii=False, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        if output.parent != Path():
            output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        typer.echo(f"error: cannot write {output}: {error.strerror or error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {output}: point editors at it with the first line of each spec file: "
               f"# yaml-language-server: $schema={output}")


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(simulate)
    app.command()(trace)
    app.command("schema")(schema_command)
