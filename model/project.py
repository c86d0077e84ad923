"""A project of one's own: the configuration file, and where each command's specs come from.

The file
--------
``authspec.toml`` (top-level keys), or the ``[tool.authspec]`` table of a ``pyproject.toml``,
found from the current folder upwards: the first folder holding either wins, and in one
folder ``authspec.toml`` beats ``pyproject.toml`` (a ``pyproject.toml`` without a
``[tool.authspec]`` table is passed over). For example::

    # authspec.toml
    specs = "specs"                      # the spec folder (or system file)
    backend = "adapter.py:make_adapter"  # what `authspec check` tests
    out = "authspec-out"                 # where check and mutants write their files
    max_seconds = 20                     # the budget: the names of CheckOptions' fields
    seed = 1
    database = "none"

Paths (``specs``, ``out``, ``codes``, ``mapping``, a ``database`` folder and the file of a
``file.py:factory`` backend) are relative to the folder of the configuration file, so every
command finds them from any folder below it. ``out`` is the project's output folder:
``check`` and ``mutants`` write their run files there, ``diagram`` draws into
``OUT/diagrams`` and ``report`` writes ``OUT/report.html``. The other keys are the fields of
the check's options (``harness/options.py``: ``examples``, ``steps``, ``max_seconds``,
``shrink_seconds``, ``seed``, ``database``, ``timeout``, ``observe``, ``backend_mode``,
``require_coverage``, ``codes``, ``compare``, ``mapping``, ``base_url``, and the switches
``repair``, ``repeat``, ``roadmap``, ``sweep``, ``explore``, ``repeat_cap``); ``show_secrets``
and ``--backend-option`` are left to the command line. ``max_seconds = 0`` and
``timeout = 0`` mean no limit, as on the command line. An option given on the command line
wins over the file. An unknown key or a value of the wrong type is an error at
``file:line`` saying what to write instead.

Where the specs come from
-------------------------
``--specs`` (or the SPECS argument) when given; else the file's ``specs``; else ``./specs``
when that folder exists; else the example specs shipped with authspec, with one line on
stderr saying so. ``check`` and ``init-adapter`` refuse that last fallback (exit 2): an
adapter written for, or checked against, specs the user did not choose is a silent mistake.
A backend shipped with authspec itself (an entry point of the ``authspec`` distribution)
belongs to the shipped specs, so for it the shipped specs are the default, without a note.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import AuthspecError, SpecError
from .ir import Span

CONFIG_FILE = "authspec.toml"
PYPROJECT_FILE = "pyproject.toml"
TABLE = "tool.authspec"
SPECS_FOLDER = "specs"

#: key -> the TOML types it takes (``float`` keys take integers too) and what it is
KEYS: dict[str, tuple[type, str]] = {
    "specs": (str, "the spec folder or system file"),
    "backend": (str, "the backend check tests: file.py:factory, module:factory or a name"),
    "out": (str, "the output folder of check, mutants, diagram and report"),
    "examples": (int, "test cases to generate"),
    "steps": (int, "rules per test case at most"),
    "max_seconds": (float, "exploration budget in seconds (0: none)"),
    "shrink_seconds": (float, "budget for minimising a failure"),
    "seed": (int, "seed: a deterministic run"),
    "database": (str, "example database: a folder, redis://host:port/db or 'none'"),
    "timeout": (float, "seconds per backend call before it counts as hung (0: none)"),
    "observe": (bool, "compare the backend's observed state"),
    "repair": (bool, "steer drawn parameters towards acceptance"),
    "repeat": (bool, "the repeat rule for counters"),
    "roadmap": (bool, "start examples in deep states, and the sweep"),
    "sweep": (bool, "make every transition and refusal happen once first"),
    "explore": (bool, "explore with Hypothesis after the sweep (false: the sweep alone)"),
    "repeat_cap": (int, "the longest single repeat"),
    "backend_mode": (str, "auto, signal, thread or process"),
    "require_coverage": (bool, "a pass short of the sweep's coverage exits 1"),
    "codes": (str, "YAML file: the backend's own codes -> spec reasons"),
    "compare": (str, "'reason' or 'outcome'"),
    "mapping": (str, "--backend http: the YAML mapping of events to requests"),
    "base_url": (str, "--backend http: the service's base URL"),
}
#: keys holding a path, relative to the configuration file's folder
PATH_KEYS = frozenset({"specs", "out", "codes", "mapping"})
#: keys whose 0 means "no limit" (None), as on the command line
ZERO_IS_NONE = frozenset({"max_seconds", "timeout"})
#: the database values that are not folders
NOT_A_FOLDER = re.compile(r"^(|none|off|(redis|rediss|unix)://.*)$", re.IGNORECASE)

Fallback = Literal["note", "refuse", "shipped"]


class ProjectError(AuthspecError):
    """The configuration file is unreadable or wrong, or a command has no specs to use
    (a usage error: exit 2). ``errors`` are located ``SpecError``s when there is a file."""

    def __init__(self, message: str, errors: tuple[SpecError, ...] = ()):
        self.errors = errors
        super().__init__(message)


@dataclass(frozen=True)
class Project:
    """The configuration in force: ``file`` (None: there is none) and its settings, paths
    already resolved against the file's folder."""

    file: Path | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def out(self, given: Path | None, below: str | None, default: Path) -> Path:
        """An output path: the command line's, else ``OUT/below`` (or ``OUT``) of the file,
        else ``default``."""
        if given is not None:
            return given
        out = self.settings.get("out")
        if out is None:
            return default
        return Path(out) / below if below else Path(out)


# -- finding and reading the file -------------------------------------------------------------


def find_file(start: Path | None = None) -> tuple[Path, str | None] | None:
    """The configuration file in force from ``start`` (default: the current folder) upwards,
    with the table it is in (None: top level), or None."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        own = candidate / CONFIG_FILE
        if own.is_file():
            return own, None
        pyproject = candidate / PYPROJECT_FILE
        if pyproject.is_file() and _has_table(pyproject):
            return pyproject, TABLE
    return None


def _has_table(pyproject: Path) -> bool:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        # A broken pyproject.toml is reported only when it holds our table.
        return "[tool.authspec]" in _read_or_empty(pyproject)
    tool = data.get("tool")
    return isinstance(tool, dict) and "authspec" in tool


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def find_project(start: Path | None = None) -> Project:
    """The configuration in force (an empty ``Project`` when there is no file); raises
    ``ProjectError`` naming file:line for an unreadable file, an unknown key, a wrong type."""
    found = find_file(start)
    if found is None:
        return Project()
    path, table = found
    return read_project(path, table)


def read_project(path: Path, table: str | None = None) -> Project:
    """Read one configuration file (``table``: ``tool.authspec`` in a pyproject.toml)."""
    shown = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as error:
        raise _error(Span(shown, 1, 1), f"cannot read the file: {error.strerror or error}",
                     "make it readable, or remove it") from None
    except UnicodeDecodeError:
        raise _error(Span(shown, 1, 1), "the file is not UTF-8 text",
                     "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        line, column = _toml_position(str(error), text)
        raise _error(Span(shown, line, column), f"not valid TOML: {error}",
                     "fix the syntax: key = \"text\", key = 10, key = true") from None
    if table is not None:
        data = data.get("tool", {}).get("authspec", {})
        if not isinstance(data, dict):
            raise _error(Span(shown, _line_of(text, "authspec", None), 1),
                         "tool.authspec must be a table", "write it as [tool.authspec]")
    problems = [p for key, value in data.items() if (p := _problem(key, value, text, shown,
                                                                    table)) is not None]
    if problems:
        raise ProjectError(_summary(problems), tuple(problems))
    return Project(path.resolve(), _resolved(data, path.resolve().parent))


def _problem(key: str, value: Any, text: str, shown: str,
             table: str | None) -> SpecError | None:
    where = Span(shown, _line_of(text, key, table), 1)
    place = f"[{table}]" if table else shown
    if key not in KEYS:
        close = difflib.get_close_matches(key, KEYS, n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        return SpecError(where, f"unknown key {key!r} in {place}",
                         f"{guess}known keys: {', '.join(KEYS)}")
    kind, what = KEYS[key]
    if not _fits(value, kind):
        example = {str: '"text"', int: "10", float: "10 or 2.5", bool: "true or false"}[kind]
        return SpecError(where, f"{key} = {value!r}: {key} ({what}) takes a "
                         f"{_kind_name(kind)}, not a {_kind_name(type(value))}",
                         f"write e.g. {key} = {example}")
    if kind in (int, float) and value < 0:
        return SpecError(where, f"{key} = {value!r} is negative", f"give {key} >= 0")
    return None


def _fits(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def _kind_name(kind: type) -> str:
    return {str: "string", int: "whole number", float: "number", bool: "boolean (true/false)",
            list: "list", dict: "table"}.get(kind, kind.__name__)


def _resolved(data: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """The settings with paths made absolute against ``folder`` and 0 limits as None."""
    settings: dict[str, Any] = {}
    for key, value in data.items():
        if key in PATH_KEYS or (key == "database" and not NOT_A_FOLDER.match(value)):
            value = str(folder / value)
        elif key == "backend":
            value = backend_beside(value, folder)
        elif key in ZERO_IS_NONE and value == 0:
            value = None
        elif KEYS[key][0] is float:
            value = float(value)
        settings[key] = value
    return settings


def backend_beside(backend: str, folder: Path) -> str:
    """A ``file.py:factory`` backend with a relative file made absolute against ``folder``;
    any other backend name unchanged."""
    module, sep, attribute = backend.rpartition(":")
    if sep and (module.endswith(".py") or "/" in module) and not Path(module).is_absolute():
        return f"{folder / module}:{attribute}"
    return backend


def _line_of(text: str, key: str, table: str | None) -> int:
    """The line where ``key`` is set (in ``[table]`` when given); 1 when it is not found."""
    in_table = table is None
    pattern = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*=""")
    header = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")
    for number, line in enumerate(text.splitlines(), start=1):
        opened = header.match(line)
        if opened:
            name = opened.group(1).strip()
            in_table = name == table
            if table is None:  # a key of authspec.toml in a sub-table: report the header
                if name.split(".")[0].strip() == key:
                    return number
            elif name == f"{table}.{key}":
                return number
            continue
        if in_table and pattern.match(line):
            return number
    return 1


def _toml_position(message: str, text: str) -> tuple[int, int]:
    found = re.search(r"at line (\d+), column (\d+)", message)
    if found:
        return int(found.group(1)), int(found.group(2))
    if "end of document" in message:
        return max(1, len(text.splitlines())), 1
    return 1, 1


def _error(span: Span, message: str, hint: str) -> ProjectError:
    error = SpecError(span, message, hint)
    return ProjectError(_summary([error]), (error,))


def _summary(errors: list[SpecError]) -> str:
    count = len(errors)
    body = "\n".join(e.format() for e in errors)
    return f"{body}\n{count} error{'s' if count != 1 else ''} in the configuration"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# -- which specs a command uses ---------------------------------------------------------------


def shipped_note(command: str) -> str:
    """The one line a command prints when it falls back on the shipped example specs."""
    from .loader import default_spec_dir

    return (f"note: {command}: no --specs, no authspec.toml (or [tool.authspec] in "
            f"pyproject.toml) here or above, and no ./{SPECS_FOLDER} folder: using the example "
            f"specs shipped with authspec ({default_spec_dir()})")


def refusal(command: str) -> str:
    """What ``check`` and ``init-adapter`` say when they have no specs to use."""
    return (f"{command}: which specs? No --specs was given, there is no authspec.toml (or "
            f"[tool.authspec] in pyproject.toml) here or above, and no ./{SPECS_FOLDER} "
            "folder; pass --specs DIR, or write authspec.toml with specs = \"DIR\" (relative "
            "to the file)")


def choose_specs(given: str | Path | None, project: Project, command: str,
                 fallback: Fallback = "note") -> tuple[str | None, str | None]:
    """The specs a command uses and the note to print on stderr, if any: ``given`` (the
    command line), else the shipped specs for ``fallback="shipped"`` (a shipped backend),
    else the configuration's, else ``./specs`` when it exists, else the shipped specs with
    a note (``fallback="note"``) or ``ProjectError`` (``fallback="refuse"``). None stands
    for the shipped specs."""
    if given is not None:
        return str(given), None
    if fallback == "shipped":
        return None, None
    configured = project.settings.get("specs")
    if configured is not None:
        return str(configured), None
    if Path(SPECS_FOLDER).is_dir():
        return SPECS_FOLDER, None
    if fallback == "refuse":
        raise ProjectError(refusal(command))
    return None, shipped_note(command)

