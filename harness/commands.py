"""Commands of the harness for the ``authspec`` command line (see authspec/cli.py).

``authspec check``         conformance check of a backend against the specs
``authspec init-adapter``  a commented skeleton adapter for a new implementation
``authspec mutants``       the check against every mutant of the reference bank

Exit codes: 0 pass (every mutant killed), 1 nonconformance (a mutant survived), 2 usage
or backend error.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from authspec.model import SpecErrors, load
from authspec.model.commands import console as make_console
from authspec.model.ir import System, citation_order

from .backends import BackendNotFound, mutant_sets
from .console import (
    coverage_summary,
    render_coverage,
    render_failure,
    render_steps,
)
from .driver import RunState
from .run import (
    DEFAULT_DATABASE,
    DEFAULT_EXAMPLES,
    DEFAULT_MAX_SECONDS,
    DEFAULT_OUT,
    DEFAULT_SHRINK_SECONDS,
    DEFAULT_STEPS,
    DEFAULT_TIMEOUT,
    CheckOptions,
    CheckResult,
    check,
)
from .skeleton import skeleton


def _progress(console: Console, enabled: bool):
    if not enabled:
        return None
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=console, transient=True)


def run_check(options: CheckOptions, console: Console, *, progress: bool = True,
              show_coverage: bool = True) -> CheckResult:
    """Run a check with a progress display and print its result."""
    display = _progress(console, progress and console.is_terminal)
    if display is None:
        result = check(options)
    else:
        with display:
            task = display.add_task("starting", total=None)

            def update(run: RunState) -> None:
                display.update(task, description=(
                    f"{run.phase}: {run.examples} examples, {run.steps} steps, "
                    f"{len(run.coverage.transitions)} transitions, "
                    f"{len(run.coverage.rejections)} refusals exercised"))

            result = check(options, on_progress=update)
    print_result(console, result, options, show_coverage=show_coverage)
    return result


def print_result(console: Console, result: CheckResult, options: CheckOptions, *,
                 show_coverage: bool = True) -> None:
    system = result.system
    if result.usage is not None:
        console.print(f"[bold red]error:[/] {result.usage}")
        return
    if result.status == "error" and result.error is not None:
        console.print(f"[bold red]BACKEND ERROR[/] in {result.backend}: "
                      f"{result.error.kind} in {result.error.call}")
        console.print(result.error.detail, markup=False, highlight=False)
        if result.error_steps and system is not None:
            console.print(f"after {len(result.error_steps) - 1} steps; the step that failed "
                          "is the last one:")
            render_steps(console, system, result.error_steps,
                         show_secrets=options.show_secrets)
        return
    assert system is not None and result.coverage is not None
    seconds = f"{result.elapsed:.1f} s"
    if result.status == "pass":
        stopped = f" ({result.stopped})" if result.stopped else ""
        console.print(f"[bold green]PASS[/] {result.backend} conforms to {system.name}: "
                      f"{result.examples} examples, {result.steps} steps in {seconds}{stopped}")
    else:
        found = (f", found after {result.time_to_failure:.1f} s"
                 if result.time_to_failure is not None else "")
        console.print(f"[bold red]NONCONFORMANCE[/] {result.backend} differs from "
                      f"{system.name}{found} ({result.examples} examples, {result.steps} "
                      f"steps in {seconds})")
        assert result.failure is not None
        render_failure(console, system, result.failure, show_secrets=options.show_secrets)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(f"coverage: {coverage_summary(result.coverage)}", highlight=False)
    if show_coverage:
        render_coverage(console, result.coverage)
    if result.coverage_path is not None:
        console.print(f"coverage written to {result.coverage_path}", highlight=False)
    if result.failure_path is not None:
        console.print(f"failure written to {result.failure_path} (authspec diagram --trace, "
                      "authspec report --run)", highlight=False)
    if result.replay_path is not None:
        console.print(f"replay: pytest {result.replay_path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the application."""

    @app.command("check")
    def check_command(
        backend: Annotated[str, typer.Option(
            "--backend", "-b", help="module:factory, a file.py:factory, or a registered "
            "name: model, a name declared in 'authspec.backends' (bank), or FAMILY:NAME "
            "(mutant:NAME)")],
        specs: Annotated[Path | None, typer.Option(
            help="Spec folder (default: the shipped specs)")] = None,
        examples: Annotated[int, typer.Option(help="Test cases to generate")] = DEFAULT_EXAMPLES,
        steps: Annotated[int, typer.Option(help="Rules per test case at most")] = DEFAULT_STEPS,
        max_seconds: Annotated[float, typer.Option(
            help="Exploration budget in seconds (0: none)")] = DEFAULT_MAX_SECONDS,
        shrink_seconds: Annotated[float, typer.Option(
            help="Budget for minimising a failure")] = DEFAULT_SHRINK_SECONDS,
        seed: Annotated[int | None, typer.Option(help="Seed: a deterministic run")] = None,
        database: Annotated[str, typer.Option(
            help="Example database: a directory, redis://host:port/db, or 'none'")
        ] = DEFAULT_DATABASE,
        out: Annotated[Path, typer.Option(
            help="Where coverage.json and replay files go")] = Path(DEFAULT_OUT),
        timeout: Annotated[float, typer.Option(
            help="Seconds per backend call before it counts as hung")] = DEFAULT_TIMEOUT,
        show_secrets: Annotated[bool, typer.Option(
            "--show-secrets", help="Print secret parameters in clear")] = False,
        observe: Annotated[bool, typer.Option(
            help="Compare the backend's observed state, if it offers observe()")] = True,
        coverage_table: Annotated[bool, typer.Option(
            "--coverage-table/--no-coverage-table", help="Print the coverage table")] = True,
    ) -> None:
        """Check a backend against the specs: exit 0 pass, 1 nonconformance, 2 error."""
        options = CheckOptions(
            backend=backend, specs=str(specs) if specs else None, examples=examples,
            steps=steps, max_seconds=max_seconds or None, shrink_seconds=shrink_seconds,
            seed=seed, database=database, out=str(out), timeout=timeout or None,
            observe=observe, show_secrets=show_secrets)
        console = make_console()
        result = run_check(options, console, show_coverage=coverage_table)
        raise typer.Exit(result.exit_code)

    @app.command("init-adapter")
    def init_adapter(
        name: Annotated[str, typer.Argument(help="Name of the implementation")],
        specs: Annotated[Path | None, typer.Option(help="Spec folder")] = None,
        out: Annotated[Path | None, typer.Option(
            help="File to write (default: NAME_adapter.py)")] = None,
        force: Annotated[bool, typer.Option("--force", help="Overwrite")] = False,
    ) -> None:
        """Write a commented skeleton adapter listing every event and reason code."""
        console = make_console()
        try:
            system = load(specs)
        except SpecErrors as errors:
            console.print(f"error: the spec does not load:\n{errors}", markup=False)
            raise typer.Exit(2) from None
        from .skeleton import _identifier

        path = out or Path(f"{_identifier(name)}_adapter.py")
        if path.exists() and not force:
            console.print(f"error: {path} exists (use --force to overwrite)")
            raise typer.Exit(2)
        path.write_text(skeleton(system, name), encoding="utf-8")
        console.print(f"wrote {path}: {len(system.events)} events, {len(system.reasons)} "
                      f"reason codes; run: authspec check --backend {path}:make_adapter")

    @app.command("mutants")
    def mutants_command(
        examples: Annotated[int, typer.Option(
            "--budget", "--examples", help="Test cases per mutant")] = DEFAULT_EXAMPLES,
        steps: Annotated[int, typer.Option(help="Rules per test case")] = DEFAULT_STEPS,
        max_seconds: Annotated[float, typer.Option(
            help="Exploration budget per mutant")] = DEFAULT_MAX_SECONDS,
        seed: Annotated[int | None, typer.Option(help="Seed")] = 0,
        specs: Annotated[Path | None, typer.Option(help="Spec folder")] = None,
        only: Annotated[list[str] | None, typer.Option(help="Only these mutants")] = None,
        out: Annotated[Path, typer.Option(help="Output folder")] = Path(DEFAULT_OUT),
        show_trace: Annotated[str | None, typer.Option(
            help="Print the minimal trace of this mutant")] = None,
        mutant_set: Annotated[str | None, typer.Option(
            "--set", help="Mutant set (entry point in 'authspec.mutant_sets'); default: the "
                          "only one declared")] = None,
        markdown: Annotated[Path | None, typer.Option(
            help="Also write the table as Markdown to this file")] = None,
    ) -> None:
        """Check every mutant of a declared mutant set: exit 0 when every one is killed."""
        console = make_console()
        sets = mutant_sets()
        family = mutant_set or (next(iter(sets)) if len(sets) == 1 else None)
        if family not in sets:
            known = ", ".join(sorted(sets)) or "none declared"
            console.print(f"error: name a mutant set with --set (known: {known}); a package "
                          "declares one in the entry-point group 'authspec.mutant_sets'")
            raise typer.Exit(2)
        try:
            mutants = sets[family].load()
        except Exception as error:
            console.print(f"error: cannot load mutant set {family!r}: {error}")
            raise typer.Exit(2) from None
        selected = [m for m in mutants if not only or m.name in only]
        if not selected:
            console.print("error: no mutant selected")
            raise typer.Exit(2)
        rows = []
        started = time.monotonic()
        for mutant in selected:
            options = CheckOptions(
                backend=f"{family}:{mutant.name}", specs=str(specs) if specs else None,
                examples=examples, steps=steps, max_seconds=max_seconds or None, seed=seed,
                database=None, out=str(out / "mutants" / mutant.name))
            try:
                result = check(options)
            except BackendNotFound as error:  # pragma: no cover - check() reports it
                console.print(f"error: {error}")
                raise typer.Exit(2) from None
            if result.status == "error":
                print_result(console, result, options, show_coverage=False)
                raise typer.Exit(2)
            rows.append((mutant, result))
            status = "killed" if result.status == "fail" else "SURVIVED"
            print(f"  {mutant.name}: {status} ({result.elapsed:.1f} s)", file=sys.stderr)
            if show_trace == mutant.name and result.failure is not None:
                assert result.system is not None
                render_failure(console, result.system, result.failure)
        table = Table(title=f"Mutant set {family!r}: {len(rows)} mutants", header_style="bold")
        for column in ("mutant", "rules", "killed", "time to kill", "run time",
                       "shortest trace"):
            table.add_column(column, justify="right" if "time" in column or "trace" in column
                             else "left")
        for mutant, result in rows:
            killed = result.status == "fail"
            table.add_row(
                mutant.name, " ".join(mutant.rules),
                "[green]yes[/]" if killed else "[bold red]NO[/]",
                _time_to_kill(result), f"{result.elapsed:.1f} s",
                _steps(result))
        console.print(table)
        survivors = [m.name for m, r in rows if r.status != "fail"]
        summary = (f"{len(rows) - len(survivors)}/{len(rows)} killed in "
                   f"{time.monotonic() - started:.0f} s"
                   + (f"; survivors: {', '.join(survivors)}" if survivors else ""))
        console.print(summary)
        system = next((r.system for _, r in rows if r.system is not None), None)
        gaps = mutant_gaps(system, [m for m, _ in rows]) if system is not None else []
        for gap in gaps:
            console.print(f"note: {gap}", highlight=False)
        if markdown is not None:
            markdown.parent.mkdir(parents=True, exist_ok=True)
            markdown.write_text(mutant_markdown(rows, summary, gaps), encoding="utf-8")
            console.print(f"table written to {markdown}", highlight=False)
        raise typer.Exit(1 if survivors else 0)


def _time_to_kill(result: CheckResult) -> str:
    return f"{result.time_to_failure:.1f} s" if result.time_to_failure is not None else "-"


def _steps(result: CheckResult) -> str:
    if result.failure is None:
        return "-"
    count = len(result.failure.steps)
    return f"{count} step" if count == 1 else f"{count} steps"


def mutant_gaps(system: System, mutants: list[Any]) -> list[str]:
    """The rules and invariants of the spec that no mutant of the selection targets."""
    targeted_rules = {rule for m in mutants for rule in m.rules}
    targeted_invariants = {inv for m in mutants for inv in getattr(m, "invariants", ())}
    cited = sorted({rule for t in system.transitions for rule in t.rules}
                   | {rule for r in system.rejections for rule in r.rules},
                   key=citation_order)
    invariants = [inv.id for inv in system.all_invariants]
    gaps = []
    rules = [r for r in cited if r.startswith("R") and r not in targeted_rules]
    if rules:
        gaps.append(f"cited rules no mutant targets: {' '.join(rules)}")
    # A mutant may name an invariant of a machine without the machine prefix.
    missing = [i for i in invariants
               if i not in targeted_invariants and i.rsplit(".", 1)[-1] not in targeted_invariants]
    if missing:
        gaps.append(f"invariants no mutant targets: {' '.join(missing)}")
    return gaps


def mutant_markdown(rows: list[tuple[Any, CheckResult]], summary: str,
                    gaps: list[str]) -> str:
    lines = ["| mutant | rules | invariants | killed | time to kill | shortest trace |",
             "|---|---|---|---|---:|---:|"]
    for mutant, result in rows:
        killed = "yes" if result.status == "fail" else "**NO**"
        invariants = ", ".join(getattr(mutant, "invariants", ()))
        lines.append(f"| `{mutant.name}` | {' '.join(mutant.rules)} | {invariants} | "
                     f"{killed} | {_time_to_kill(result)} | {_steps(result)} |")
    lines += ["", summary + "."]
    lines += [f"Note: {gap}." for gap in gaps]
    return "\n".join(lines) + "\n"
