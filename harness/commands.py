"""Commands of the harness for the ``authspec`` command line (see authspec/cli.py).

``authspec check``         conformance check of a backend against the specs
``authspec init-adapter``  a commented skeleton adapter for a new implementation
``authspec mutants``       the check against every mutant of the reference bank

Exit codes: 0 pass (every mutant killed), 1 nonconformance (a mutant survived), 2 usage
or backend error.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.metadata
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from authspec.model import SpecErrors, load
from authspec.model.commands import console as make_console
from authspec.model.commands import project_or_exit, specs_or_exit
from authspec.model.project import ZERO_IS_NONE, Project

from .backends import ENTRY_POINT_GROUP, FAMILY_GROUP, MUTANT_SET_GROUP, BackendOptionError
from .console import (
    coverage_summary,
    error_position,
    line,
    render_coverage,
    render_failure,
    render_requests,
    render_spec_bug,
    render_steps,
    say,
)
from .deadlines import Watch
from .driver import RunState
from .mutation import (
    DEFAULT_SET,
    OBSERVED,
    MutantRun,
    MutantSetError,
    MutationReport,
    load_mutant_set,
    mutant_set_specs,
    run_both_modes,
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
    parse_backend_options,
)
from .run import CheckResult, check
from .runfiles import RunFileWriteError, write_text_atomically
from .skeleton import skeleton
from .supervise import supervised_check


class BackendMode(enum.StrEnum):
    """``--backend-mode``: how each call's deadline is kept (backends.Backend)."""

    auto = "auto"
    signal = "signal"
    thread = "thread"
    process = "process"


def _progress(console: Console, enabled: bool) -> Progress | None:
    if not enabled:
        return None
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=console, transient=True)


def run_check(options: CheckOptions, console: Console, *, progress: bool = True,
              show_coverage: bool = True,
              watch: Watch | None = None) -> CheckResult:
    """Run a check with a progress display; print its verdict as soon as it is known (before
    its files are written), then where the files went (``watch``: see ``run.check``)."""
    display = _progress(console, progress and console.is_terminal)
    shown: list[CheckResult] = []

    def verdict(result: CheckResult) -> None:
        if display is not None:
            display.stop()
        print_verdict(console, result, options, show_coverage=show_coverage)
        shown.append(result)

    if display is None:
        result = check(options, on_verdict=verdict, watch=watch)
    else:
        with display:
            task = display.add_task("starting", total=None)

            def update(run: RunState) -> None:
                display.update(task, description=(
                    f"{run.phase}: {run.examples} examples, {run.steps} steps, "
                    f"{len(run.coverage.transitions)} transitions, "
                    f"{len(run.coverage.rejections)} refusals exercised"))

            result = check(options, on_progress=update, on_verdict=verdict, watch=watch)
    if not shown:  # a usage or backend error before the run: no verdict was reported
        print_verdict(console, result, options, show_coverage=show_coverage)
    print_outputs(console, result)
    return result


def print_result(console: Console, result: CheckResult, options: CheckOptions, *,
                 show_coverage: bool = True) -> None:
    """The verdict of a check and where its files went."""
    print_verdict(console, result, options, show_coverage=show_coverage)
    print_outputs(console, result)


def print_verdict(console: Console, result: CheckResult, options: CheckOptions, *,
                  show_coverage: bool = True) -> None:
    """PASS, NONCONFORMANCE with the trace, or the error; the notes and the coverage."""
    if result.usage is not None:
        say(console, ("error:", "bold red"), f" {result.usage}")
        return
    if result.status == "error" and result.error is not None:
        _print_backend_error(console, result, options)
        return
    system = result.system
    assert system is not None and result.coverage is not None
    seconds = f"{result.elapsed:.1f} s"
    if result.status == "pass":
        stopped = f" ({result.stopped})" if result.stopped else ""
        verdict = "PASS, but incomplete:" if result.incomplete else "PASS"
        say(console, (verdict, "bold green"), f" {result.backend} conforms to {system.name}: "
            f"{result.examples} examples, {result.steps} steps in {seconds}{stopped}")
        print_incomplete(console, result)
    elif result.status == "flaky":
        print_flaky(console, result, options)
    elif result.failure is not None and result.failure.kind == "invariant":
        render_spec_bug(console, system, result.failure, result.backend,
                        show_secrets=options.show_secrets)
    else:
        found = (f", found after {result.time_to_failure:.1f} s"
                 if result.time_to_failure is not None else "")
        say(console, ("NONCONFORMANCE", "bold red"), f" {result.backend} differs from "
            f"{system.name}{found} ({result.examples} examples, {result.steps} steps in "
            f"{seconds})")
        assert result.failure is not None
        render_failure(console, system, result.failure, show_secrets=options.show_secrets)
    for note in result.notes:
        say(console, f"note: {note}")
    say(console, f"coverage: {coverage_summary(result.coverage)}")
    if show_coverage:
        render_coverage(console, result.coverage)


def _print_backend_error(console: Console, result: CheckResult, options: CheckOptions) -> None:
    assert result.error is not None
    say(console, ("BACKEND ERROR", "bold red"),
        f" in {result.backend}: {result.error.kind} in {result.error.call}")
    say(console, result.error.detail)
    if result.error.call == "reset()" and not result.error_steps:
        say(console, error_position((), result.error.call))
    if result.error_steps and result.system is not None:
        say(console, error_position(result.error_steps, result.error.call) + ":")
        render_steps(console, result.system, result.error_steps,
                     show_secrets=options.show_secrets)
        render_requests(console, result.error_steps, show_secrets=options.show_secrets)


def print_outputs(console: Console, result: CheckResult) -> None:
    """Where the run's files went, or which one could not be written."""
    if result.output_error is not None:
        say(console, ("error:", "bold red"), f" {result.output_error} (the verdict above "
            "stands; this run's files were not written)")
    if result.coverage_path is not None:
        say(console, f"coverage written to {result.coverage_path}")
    if result.failure_path is not None:
        say(console, f"failure written to {result.failure_path} (authspec diagram --trace, "
            "authspec report --run)")
    if result.replay_path is not None:
        say(console, f"replay: pytest {result.replay_path}")


def print_incomplete(console: Console, result: CheckResult) -> None:
    """Which goals the sweep alone reaches that the run never did, and what to do."""
    if not result.incomplete:
        return
    missed = result.incomplete
    say(console, f"never reached ({len(missed)} of the transitions and refusals the sweep "
        f"alone reaches): {', '.join(missed)}")
    say(console, "give the run more time (--max-seconds) or a faster backend; "
        + ("--require-coverage makes this exit 1" if not result.require_coverage
           else "exit 1 (--require-coverage)"))


def print_flaky(console: Console, result: CheckResult, options: CheckOptions) -> None:
    """The FLAKY verdict: a failure whose minimal trace passed when replayed, with the
    trace first found and the minimised one."""
    assert result.system is not None and result.failure is not None
    say(console, ("FLAKY", "bold red"), f" {result.backend}: a nonconformance was found but "
        f"its minimal trace passed when replayed from a fresh start ({result.examples} "
        f"examples, {result.steps} steps in {result.elapsed:.1f} s): the backend does not "
        "answer the same steps the same way")
    if result.replayed is not None:
        say(console, f"the replay failed otherwise: {result.replayed.detail}")
    if result.original is not None and result.original is not result.failure:
        say(console, "the failure first found:")
        render_failure(console, result.system, result.original,
                       show_secrets=options.show_secrets)
        say(console, "the minimised trace, which passed on replay:")
    else:
        say(console, "the failure first found, which is also the minimised trace (no "
            "shorter replay failed), and passed on replay:")
    render_failure(console, result.system, result.failure, show_secrets=options.show_secrets)


BACKEND_OPTION_HELP = ("KEY=VALUE: a keyword argument of the backend factory (repeatable); "
                       "VALUE is read as a JSON scalar (3, 2.5, true, null, \"text\") when it "
                       "is one, else as the text written")


def backend_options(values: list[str] | None,
                    console: Console) -> tuple[tuple[str, Any], ...]:
    """The ``--backend-option`` pairs, or the error printed and exit 2."""
    try:
        return parse_backend_options(values)
    except BackendOptionError as error:
        say(console, ("error:", "bold red"), f" {error}")
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    """Add this package's commands to the application."""

    @app.command("check")
    def check_command(
        backend: Annotated[str | None, typer.Option(
            "--backend", "-b", help="module:factory, a file.py:factory, or a registered "
            "name: model, a name declared in 'authspec.backends' (bank), or FAMILY:NAME "
            "(mutant:NAME); default: backend in authspec.toml", show_default=False)] = None,
        specs: Annotated[Path | None, typer.Option(
            help="Spec folder; default: specs in authspec.toml, else ./specs (a backend "
            "shipped with authspec: the shipped specs)", show_default=False)] = None,
        examples: Annotated[int | None, typer.Option(
            help=f"Test cases to generate [default: {DEFAULT_EXAMPLES}]",
            show_default=False)] = None,
        steps: Annotated[int | None, typer.Option(
            help=f"Rules per test case at most [default: {DEFAULT_STEPS}]",
            show_default=False)] = None,
        max_seconds: Annotated[float | None, typer.Option(
            help=f"Exploration budget in seconds (0: none) [default: {DEFAULT_MAX_SECONDS:g}]",
            show_default=False)] = None,
        shrink_seconds: Annotated[float | None, typer.Option(
            help=f"Budget for minimising a failure [default: {DEFAULT_SHRINK_SECONDS:g}]",
            show_default=False)] = None,
        seed: Annotated[int | None, typer.Option(help="Seed: a deterministic run")] = None,
        database: Annotated[str | None, typer.Option(
            help="Example database: a directory, redis://host:port/db, or 'none' "
            f"[default: {DEFAULT_DATABASE}]", show_default=False)] = None,
        out: Annotated[Path | None, typer.Option(
            help=f"Where coverage.json and replay files go [default: {DEFAULT_OUT}]",
            show_default=False)] = None,
        timeout: Annotated[float | None, typer.Option(
            help="Seconds per backend call before it counts as hung "
            f"[default: {DEFAULT_TIMEOUT:g}]", show_default=False)] = None,
        show_secrets: Annotated[bool, typer.Option(
            "--show-secrets", help="Print secret parameters in clear")] = False,
        observe: Annotated[bool | None, typer.Option(
            "--observe/--no-observe", help="Compare the backend's observed state, if it "
            "offers observe() [default: observe]", show_default=False)] = None,
        coverage_table: Annotated[bool, typer.Option(
            "--coverage-table/--no-coverage-table", help="Print the coverage table")] = True,
        backend_mode: Annotated[BackendMode | None, typer.Option(
            help="How each call's deadline is kept: auto (signal on the main thread, else "
            "thread), signal, thread, or process (the adapter in a worker process killed at "
            "the deadline: a hang in C code, a swallowed alarm, an adapter ending its "
            "process) [default: auto]", show_default=False)] = None,
        require_coverage: Annotated[bool | None, typer.Option(
            "--require-coverage", help="Exit 1 when a pass covers less than the sweep "
            "alone gives (PASS, but incomplete)", show_default=False)] = None,
        supervise: Annotated[bool, typer.Option(
            help="Run the check in a child process and exit 0 only on the PASS it reports "
            "(--no-supervise: in this process, e.g. for a debugger)")] = True,
        codes: Annotated[Path | None, typer.Option(
            help="YAML file: the backend's own codes -> the spec reason(s) each stands for")
        ] = None,
        compare: Annotated[str | None, typer.Option(
            help="'reason' (accepted, or refused for the same reason) or 'outcome' "
            "(accepted or refused only) [default: reason]", show_default=False)] = None,
        mapping: Annotated[Path | None, typer.Option(
            help="--backend http: the YAML mapping of events to requests")] = None,
        base_url: Annotated[str | None, typer.Option(
            help="--backend http: the service's base URL (overrides the mapping's)")] = None,
        backend_option: Annotated[list[str] | None, typer.Option(
            "--backend-option", help=BACKEND_OPTION_HELP)] = None,
    ) -> None:
        """Check a backend against the specs: exit 0 pass, 1 nonconformance, 2 error.

        Every option not given is read from authspec.toml (or [tool.authspec] in
        pyproject.toml), here or above, when it sets it."""
        factory_options = backend_options(backend_option, make_console())
        project = project_or_exit()
        name = backend_or_exit(project, backend)
        chosen = specs_or_exit(specs, project, "check",
                               "shipped" if shipped_backend(name) else "refuse")
        options = check_options(project, {
            "backend": name, "examples": examples, "steps": steps,
            "max_seconds": max_seconds, "shrink_seconds": shrink_seconds, "seed": seed,
            "database": database, "out": out, "timeout": timeout, "observe": observe,
            "show_secrets": show_secrets or None,
            "backend_mode": backend_mode.value if backend_mode else None,
            "require_coverage": require_coverage, "codes": codes, "compare": compare,
            "mapping": mapping, "base_url": base_url,
            "backend_options": factory_options}, chosen)
        if supervise:
            raise typer.Exit(supervised_check(options, show_coverage=coverage_table))
        console = make_console()
        result = run_check(options, console, show_coverage=coverage_table)
        raise typer.Exit(result.exit_code)

    @app.command("init-adapter")
    def init_adapter(
        name: Annotated[str, typer.Argument(help="Name of the implementation")],
        specs: Annotated[Path | None, typer.Option(
            help="Spec folder; default: specs in authspec.toml, else ./specs",
            show_default=False)] = None,
        out: Annotated[Path | None, typer.Option(
            help="File to write (default: NAME_adapter.py)")] = None,
        force: Annotated[bool, typer.Option("--force", help="Overwrite")] = False,
    ) -> None:
        """Write a commented skeleton adapter listing every event and reason code."""
        console = make_console()
        project = project_or_exit()
        chosen = specs_or_exit(specs, project, "init-adapter", "refuse")
        try:
            system = load(chosen)
        except SpecErrors as errors:
            say(console, f"error: the spec does not load:\n{errors}")
            raise typer.Exit(2) from None
        from .skeleton import _identifier

        path = out or Path(f"{_identifier(name)}_adapter.py")
        if path.exists() and not force:
            say(console, f"error: {path} exists (use --force to overwrite)")
            raise typer.Exit(2)
        try:
            write_text_atomically(path, skeleton(system, name))
        except RunFileWriteError as error:
            say(console, f"error: {error}")
            raise typer.Exit(2) from None
        say(console, f"wrote {path}: {len(system.events)} events, {len(system.reasons)} "
            f"reason codes; run: authspec check --backend {path}:make_adapter"
            + ("" if project.file is None or "backend" in project.settings else
               f" (or set backend = \"{path}:make_adapter\" in {project.file})"))

    @app.command("mutants")
    def mutants_command(
        examples: Annotated[int | None, typer.Option(
            "--budget", "--examples", help=f"Test cases per mutant [default: "
            f"{DEFAULT_EXAMPLES}]", show_default=False)] = None,
        steps: Annotated[int | None, typer.Option(
            help=f"Rules per test case [default: {DEFAULT_STEPS}]", show_default=False)] = None,
        max_seconds: Annotated[float | None, typer.Option(
            help=f"Exploration budget per mutant [default: {DEFAULT_MAX_SECONDS:g}]",
            show_default=False)] = None,
        seed: Annotated[int | None, typer.Option(help="Seed [default: 0]",
                                                 show_default=False)] = None,
        specs: Annotated[Path | None, typer.Option(
            help="Spec folder; default: the specs the mutant set belongs to (its module's "
            "SPECS; else, for a set shipped with authspec, the shipped specs), else as for "
            "check", show_default=False)] = None,
        only: Annotated[list[str] | None, typer.Option(help="Only these mutants")] = None,
        out: Annotated[Path | None, typer.Option(
            help=f"Output folder [default: out in authspec.toml, else {DEFAULT_OUT}]",
            show_default=False)] = None,
        show_trace: Annotated[str | None, typer.Option(
            help="Print the minimal trace of this mutant")] = None,
        mutant_set: Annotated[str | None, typer.Option(
            "--set", "--mutant-set", help="Mutant set: an entry point in "
            "'authspec.mutant_sets' (default: the only one declared, else the one named "
            f"'{DEFAULT_SET}'), or a team's own: "
            "module:NAME or path/to/file.py:NAME, NAME a sequence of mutants (each with "
            "name, rules, factory) or a factory taking a fault name first (with --mutant)")
        ] = None,
        fault: Annotated[list[str] | None, typer.Option(
            "--mutant", help="With a factory set: a fault name to pass it, NAME or "
            "NAME=R1,R2 (the rules it breaks); repeatable")
        ] = None,
        markdown: Annotated[Path | None, typer.Option(
            help="Also write the table as Markdown to this file")] = None,
        backend_option: Annotated[list[str] | None, typer.Option(
            "--backend-option", help=BACKEND_OPTION_HELP)] = None,
        observe: Annotated[bool, typer.Option(
            help="Compare the backend's observed state (--no-observe: black-box mode, "
                 "outcomes only)")] = True,
        both_modes: Annotated[bool, typer.Option(
            help="Run every mutant observed, then in black-box mode; the table shows "
                 "both")] = False,
    ) -> None:
        """Check every mutant of a mutant set: exit 0 when every one is killed."""
        console = make_console()
        factory_options = backend_options(backend_option, console)
        project = project_or_exit()
        try:
            family, mutants = load_mutant_set(mutant_set, fault or ())
            selected = select_mutants(mutants, only)
            own_specs = mutant_set_specs(family) if specs is None else None
        except MutantSetError as error:
            say(console, f"error: {error}")
            raise typer.Exit(2) from None
        chosen = own_specs or specs_or_exit(specs, project, "mutants", "shipped" if
                                            shipped_entry_point(MUTANT_SET_GROUP, family)
                                            else "refuse")
        options = check_options(project, {
            "backend": family, "examples": examples, "steps": steps,
            "max_seconds": max_seconds, "seed": seed,
            "backend_options": factory_options, "observe": observe}, chosen,
            keep=MUTANT_KEYS,
            defaults={"seed": 0, "database": None})
        folder = Path(options.out) if options.out else Path(DEFAULT_OUT)

        def progress(run: MutantRun) -> None:
            print_mutant_run(console, run, show_trace=show_trace)

        runner = run_both_modes if both_modes else run_mutants
        report = runner(family, selected, options, out=out or folder, on_result=progress)
        if report.error is not None:
            print_result(console, report.error, options, show_coverage=False)
            raise typer.Exit(2)
        print_mutation_report(console, report, markdown)
        raise typer.Exit(1 if report.survivors else 0)


# -- the options of a run: the command line, else the configuration, else the defaults ------

#: the configuration keys a mutant run takes (each mutant has its own backend and database)
MUTANT_KEYS = frozenset({"examples", "steps", "max_seconds", "shrink_seconds", "seed",
                         "timeout", "observe", "repair", "repeat", "roadmap", "sweep",
                         "repeat_cap", "out"})
#: the name of the distribution whose backends belong to the specs it ships
DISTRIBUTION = "authspec"


def shipped_entry_point(group: str, name: str) -> bool:
    """Whether ``name`` in the entry-point ``group`` is declared by authspec itself (such a
    backend or mutant set belongs to the specs authspec ships)."""
    found = importlib.metadata.entry_points(group=group)
    entry = next((ep for ep in found if ep.name == name), None)
    dist = getattr(entry, "dist", None)
    return dist is not None and dist.name == DISTRIBUTION


def shipped_backend(name: str) -> bool:
    """A backend name standing for a backend authspec ships: a name declared in
    ``authspec.backends`` or ``FAMILY:NAME`` of a family in ``authspec.backend_families``,
    by authspec's own distribution."""
    prefix, sep, _ = name.partition(":")
    if sep:
        return shipped_entry_point(FAMILY_GROUP, prefix)
    return shipped_entry_point(ENTRY_POINT_GROUP, name)


def backend_or_exit(project: Project, given: str | None) -> str:
    """The backend to check: ``--backend``, else the configuration's; exit 2 without one."""
    backend = given or project.settings.get("backend")
    if not backend:
        typer.echo("error: no backend: pass --backend (module:factory, file.py:factory or a "
                   "registered name), or set backend = \"...\" in authspec.toml", err=True)
        raise typer.Exit(2)
    return str(backend)


def check_options(project: Project, given: dict[str, Any], specs: Path | None, *,
                  keep: frozenset[str] | None = None,
                  defaults: dict[str, Any] | None = None) -> CheckOptions:
    """The options of a run on ``specs`` (None: the shipped ones): each value given on the
    command line (None: not given), else the configuration's (only the ``keep`` keys when
    given), else ``defaults``, else CheckOptions' own."""
    names = {f.name for f in dataclasses.fields(CheckOptions)}
    values: dict[str, Any] = dict(defaults or {})
    values.update({k: v for k, v in project.settings.items()
                   if k in names and k != "specs" and (keep is None or k in keep)})
    for name, value in given.items():
        if value is not None:
            values[name] = (value or None) if name in ZERO_IS_NONE else value
    values["specs"] = str(specs) if specs is not None else None
    for name in ("out", "codes", "mapping"):
        if isinstance(values.get(name), Path):
            values[name] = str(values[name])
    return CheckOptions(**values)


def print_mutant_run(console: Console, run: MutantRun, *, show_trace: str | None) -> None:
    """One line per mutant on stderr, and its trace when asked for."""
    result = run.result
    if result.status == "error":
        return
    status = "killed" if run.killed else "SURVIVED"
    mode = f" [{run.mode}]" if run.mode != OBSERVED else ""
    print(f"  {run.mutant.name}{mode}: {status} ({result.elapsed:.1f} s)", file=sys.stderr)
    if show_trace == run.mutant.name and result.failure is not None:
        assert result.system is not None
        render_failure(console, result.system, result.failure)


def print_mutation_report(console: Console, report: MutationReport,
                          markdown: Path | None) -> None:
    """The table of mutants, the summary, the gaps; the Markdown table when asked for."""
    mode = f" ({report.mode})" if report.mode != OBSERVED else ""
    table = Table(title=line(f"Mutant set {report.family!r}: {len(report.runs)} mutants"
                             + mode), header_style="bold")
    columns = ["mutant", "rules", "killed", "time to kill", "run time", "shortest trace"]
    if report.black_box is not None:
        columns += ["killed (black box)", "time to kill (black box)",
                    "shortest trace (black box)"]
    for column in columns:
        table.add_column(column, justify="right" if "time" in column or "trace" in column
                         else "left")
    other = ({r.mutant.name: r for r in report.black_box.runs}
             if report.black_box is not None else {})
    for run in report.runs:
        cells = [line(run.mutant.name), line(" ".join(run.mutant.rules)),
                 *_mutant_cells(run)[:2], line(f"{run.result.elapsed:.1f} s"),
                 _mutant_cells(run)[2]]
        if report.black_box is not None:
            second = other.get(run.mutant.name)
            cells += _mutant_cells(second) if second is not None else [line("-")] * 3
        table.add_row(*cells)
    console.print(table)
    say(console, report.summary())
    for gap in report.gaps:
        say(console, f"note: {gap}")
    if markdown is not None:
        try:
            write_text_atomically(markdown, report.markdown())
        except RunFileWriteError as error:
            say(console, ("error:", "bold red"), f" {error} (the table above stands)")
            return
        say(console, f"table written to {markdown}")


def _mutant_cells(run: MutantRun) -> list[Text]:
    """Killed, time to kill and shortest trace of one mutant run, for the table."""
    return [line(("yes", "green")) if run.killed else line(("NO", "bold red")),
            line(time_to_kill(run.result)), line(trace_length(run.result))]
