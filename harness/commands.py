"""Commands of the harness for the ``authspec`` command line (see authspec/cli.py).

``authspec check``         conformance check of a backend against the specs
``authspec init-adapter``  a commented skeleton adapter for a new implementation
``authspec mutants``       the check against every mutant of the reference bank

Exit codes: 0 pass (every mutant killed), 1 nonconformance (a mutant survived), 2 usage
or backend error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from authspec.model import SpecErrors, load
from authspec.model.commands import console as make_console

from .console import (
    coverage_summary,
    render_coverage,
    render_failure,
    render_steps,
)
from .driver import RunState
from .mutation import (
    MutantRun,
    MutantSetError,
    MutationReport,
    load_mutant_set,
    run_mutants,
    select_mutants,
    time_to_kill,
    trace_length,
)
from .options import (
    DEFAULT_DATABASE,
    DEFAULT_EXAMPLES,
    DEFAULT_MAX_SECONDS,
    DEFAULT_OUT,
    DEFAULT_SHRINK_SECONDS,
    DEFAULT_STEPS,
    DEFAULT_TIMEOUT,
    CheckOptions,
)
from .run import CheckResult, check
from .skeleton import skeleton


def _progress(console: Console, enabled: bool) -> Progress | None:
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
        try:
            family, mutants = load_mutant_set(mutant_set)
            selected = select_mutants(mutants, only)
        except MutantSetError as error:
            console.print(f"error: {error}")
            raise typer.Exit(2) from None
        options = CheckOptions(backend=family, specs=str(specs) if specs else None,
                               examples=examples, steps=steps,
                               max_seconds=max_seconds or None, seed=seed, database=None)

        def progress(run: MutantRun) -> None:
            print_mutant_run(console, run, show_trace=show_trace)

        report = run_mutants(family, selected, options, out=out, on_result=progress)
        if report.error is not None:
            print_result(console, report.error, options, show_coverage=False)
            raise typer.Exit(2)
        print_mutation_report(console, report, markdown)
        raise typer.Exit(1 if report.survivors else 0)


def print_mutant_run(console: Console, run: MutantRun, *, show_trace: str | None) -> None:
    """One line per mutant on stderr, and its trace when asked for."""
    result = run.result
    if result.status == "error":
        return
    status = "killed" if run.killed else "SURVIVED"
    print(f"  {run.mutant.name}: {status} ({result.elapsed:.1f} s)", file=sys.stderr)
    if show_trace == run.mutant.name and result.failure is not None:
        assert result.system is not None
        render_failure(console, result.system, result.failure)


def print_mutation_report(console: Console, report: MutationReport,
                          markdown: Path | None) -> None:
    """The table of mutants, the summary, the gaps; the Markdown table when asked for."""
    table = Table(title=f"Mutant set {report.family!r}: {len(report.runs)} mutants",
                  header_style="bold")
    for column in ("mutant", "rules", "killed", "time to kill", "run time",
                   "shortest trace"):
        table.add_column(column, justify="right" if "time" in column or "trace" in column
                         else "left")
    for run in report.runs:
        table.add_row(
            run.mutant.name, " ".join(run.mutant.rules),
            "[green]yes[/]" if run.killed else "[bold red]NO[/]",
            time_to_kill(run.result), f"{run.result.elapsed:.1f} s",
            trace_length(run.result))
    console.print(table)
    console.print(report.summary())
    for gap in report.gaps:
        console.print(f"note: {gap}", highlight=False)
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(report.markdown(), encoding="utf-8")
        console.print(f"table written to {markdown}", highlight=False)
