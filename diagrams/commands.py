"""Commands of this package for the ``authspec`` command line (see authspec/cli.py):
``diagram``, ``report`` and ``diff``.

Exit codes: 0 success; 1 the check found something (stale diagrams with ``--check``,
differences with ``diff --exit-code``); 2 a usage error, an invalid spec, or Graphviz failed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from authspec.model import load
from authspec.model.commands import SPECS_DEFAULT, project_or_exit, specs_or_exit
from authspec.model.errors import AuthspecError

SPECS_HELP = "Spec folder; " + SPECS_DEFAULT
FORMAT_HELP = "svg, png, dot or mermaid; several comma-separated; 'all' = dot,svg,mermaid"


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _load(specs: Path | None):
    try:
        return load(specs)
    except AuthspecError as error:
        raise _fail(str(error)) from error


def _formats(value: str) -> list[str]:
    from .render import FORMATS

    wanted = [f.strip().lower() for f in value.split(",") if f.strip()]
    if wanted == ["all"]:
        wanted = ["dot", "svg", "mermaid"]
    bad = [f for f in wanted if f not in FORMATS]
    if bad or not wanted:
        raise _fail(f"unknown format {', '.join(bad) or value!r}: choose from {FORMAT_HELP}")
    return wanted


def _size(path: Path) -> str:
    return f"{path.stat().st_size:,} bytes"


def diagram(
    specs: Annotated[Path | None, typer.Argument(help=SPECS_HELP)] = None,
    out: Annotated[Path | None, typer.Option(
        "-o", "--out", help="Output folder (default: OUT/diagrams with out in authspec.toml, "
        "else diagrams-out)")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "svg",
    lang: Annotated[str, typer.Option("--lang", help="Label language: en or zh")] = "en",
    hide_rejections: Annotated[bool, typer.Option("--hide-rejections",
                                                  help="Leave the refusal notes out")] = False,
    coverage: Annotated[Path | None, typer.Option(
        "--coverage", help="coverage.json (or a run folder) to colour transitions by use")] = None,
    trace: Annotated[Path | None, typer.Option(
        "--trace", help="A failure JSON whose trace is drawn on the diagrams")] = None,
    failure_index: Annotated[int, typer.Option("--failure", help="Which failure of the file "
                                               "(1-based) when it holds several")] = 1,
    check: Annotated[bool, typer.Option("--check", help="Write nothing: exit 1 when the files in "
                                        "OUT are stale relative to SPECS")] = False,
) -> None:
    """Draw one diagram per machine and an overview of the composed system."""
    from .dot import Options
    from .overlay import load_coverage, load_failures
    from .render import RenderError, write_diagrams
    from .stale import stale_files

    if lang not in ("en", "zh"):
        raise _fail("--lang must be en or zh")
    formats = _formats(fmt)
    project = project_or_exit()
    specs = specs_or_exit(specs, project, "diagram")
    out = project.out(out, "diagrams", Path("diagrams-out"))
    system = _load(specs)
    options = Options(lang=lang, rejections=not hide_rejections)
    try:
        if coverage is not None:
            options.coverage = load_coverage(coverage)
        if trace is not None:
            failures = load_failures(trace)
            if not failures:
                raise _fail(f"{trace}: no failure with steps found")
            if not 1 <= failure_index <= len(failures):
                raise _fail(f"--failure {failure_index}: the file holds {len(failures)}")
            options.failure = failures[failure_index - 1]
    except (OSError, ValueError) as error:
        raise _fail(f"cannot read overlay: {error}") from error
    if check:
        stale = stale_files(system, out, formats, options)
        for line in stale:
            typer.echo(f"stale: {line}")
        if stale:
            typer.echo(f"{len(stale)} stale file(s) in {out}; refresh with: authspec diagram "
                       f"{specs or ''} -o {out} --format {fmt} --lang {lang}".replace("  ", " "))
            raise typer.Exit(1)
        typer.echo(f"diagrams in {out} are fresh")
        return
    try:
        for f in formats:
            for path in write_diagrams(system, out, f, options):
                typer.echo(f"wrote {path} ({_size(path)})")
    except RenderError as error:
        raise _fail(str(error)) from error
    except OSError as error:
        raise _fail(f"cannot write the diagrams into {out}: {error.strerror or error}") from None


def report(
    specs: Annotated[Path | None, typer.Argument(help=SPECS_HELP)] = None,
    run: Annotated[list[Path] | None, typer.Option(
        "--run", help="A run folder or coverage.json: adds coverage and failures; repeat it "
                      "to show several runs (counts are added, failures listed)")] = None,
    diff: Annotated[str | None, typer.Option(
        "--diff", help="An older spec (folder or git:REV) to show the changes against")] = None,
    out: Annotated[Path | None, typer.Option(
        "-o", "--out", help="The HTML file (default: OUT/report.html with out in "
        "authspec.toml, else report.html)")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Diagram label language: en or zh")] = "en",
) -> None:
    """Write the review report: one self-contained HTML file."""
    from .diff import compare, spec_source
    from .overlay import load_coverage, merge_coverage
    from .render import RenderError
    from .report import report_html

    project = project_or_exit()
    specs = specs_or_exit(specs, project, "report")
    out = project.out(out, "report.html", Path("report.html"))
    system = _load(specs)
    coverage = None
    if run:
        runs = []
        for path in run:
            try:
                runs.append(load_coverage(path))
            except (OSError, ValueError) as error:
                raise _fail(f"cannot read the run {path}: {error}") from error
        coverage = runs[0] if len(runs) == 1 else merge_coverage(runs)
    spec_diff = None
    if diff is not None:
        try:
            with spec_source(diff) as old_path:
                spec_diff = compare(_load(old_path), system, diff, str(specs or "specs"))
        except ValueError as error:
            raise _fail(str(error)) from error
    try:
        html = report_html(system, spec_name=str(specs or "(shipped specs)"), coverage=coverage,
                           diff=spec_diff, lang=lang)
    except RenderError as error:
        raise _fail(str(error)) from error
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
    except OSError as error:
        raise _fail(f"cannot write {out}: {error.strerror or error}") from None
    typer.echo(f"wrote {out} ({_size(out)})")


def diff(
    old: Annotated[str, typer.Argument(
        help="Old spec: a folder, or git:REV (at REV: the specs of authspec.toml, else specs/)")],
    new: Annotated[str | None, typer.Argument(
        help="New spec: a folder, or git:REV; default: specs in authspec.toml, else ./specs",
        show_default=False)] = None,
    exit_code: Annotated[bool, typer.Option("--exit-code",
                                            help="Exit 1 when there are differences")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text")] = False,
    diagram_dir: Annotated[Path | None, typer.Option(
        "--diagram", "-o", help="Also draw the changed machines into this folder")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="svg, png or dot")] = "svg",
    lang: Annotated[str, typer.Option("--lang", help="Label language: en or zh")] = "en",
) -> None:
    """Semantic diff of two specs: elements added, removed or changed, and the rules affected."""
    from .diff import diff_dots, diff_specs
    from .render import RenderError, render

    configured = project_or_exit().settings.get("specs")
    if new is None:
        new = os.path.relpath(configured) if configured is not None else "specs"
    try:
        result = diff_specs(_at_revision(old, configured), _at_revision(new, configured))
    except AuthspecError as error:
        raise _fail(str(error)) from error
    except ValueError as error:
        raise _fail(str(error)) from error
    if as_json:
        typer.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo(result.text(), nl=False)
    if diagram_dir is not None and result:
        if fmt not in ("svg", "png", "dot"):
            raise _fail("--format for diff diagrams: svg, png or dot")
        try:
            diagram_dir.mkdir(parents=True, exist_ok=True)
            for name, dot in diff_dots(result, lang).items():
                path = diagram_dir / f"diff-{name}.{fmt}"
                if fmt == "dot":
                    path.write_text(dot, encoding="utf-8")
                else:
                    path.write_bytes(render(dot, fmt))
                typer.echo(f"wrote {path} ({_size(path)})", err=as_json)
        except RenderError as error:
            raise _fail(str(error)) from error
        except OSError as error:
            raise _fail(f"cannot write into {diagram_dir}: {error.strerror or error}") from None
    if exit_code and result:
        raise typer.Exit(1)


def _at_revision(spec: str, configured: str | None) -> str:
    """``git:REV`` names the configured specs folder at REV (``git:REV:PATH`` when there is a
    configuration; ``specs/`` otherwise); anything else is left as it is."""
    if configured is None or not spec.startswith("git:") or ":" in spec[4:]:
        return spec
    return f"{spec}:{os.path.relpath(configured)}"


def register(app: typer.Typer) -> None:
    """Add this package's commands to the application."""
    app.command("diagram")(diagram)
    app.command("report")(report)
    app.command("diff")(diff)
