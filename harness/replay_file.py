"""The generated replay file: a failing trace as a pytest file (``replay_<hash>.py``).

``replay_source`` writes the trace as a pytest file that replays it step by step against a
backend through ``replay.Replayer`` and fails at the divergent step (secrets in clear:
they are needed); ``write_replay`` writes it into the output folder.

The file names no absolute path of the run: the spec folder and the file of a
``file.py:factory`` backend are written relative to the replay file's own folder, and
``located`` finds them from there when the file runs (from any folder, or with the project
moved as a whole); one that is not found is a ``ReplayPathError`` saying what to set
(``AUTHSPEC_REPLAY_SPECS``, ``AUTHSPEC_REPLAY_BACKEND``).

The file is generated Python, and what it holds comes from a spec and a backend (names,
parameters, reason codes, the divergence): none of that text is ever written as code, in a
docstring or in a comment. Every such value is a literal built by ``literal``: ``repr`` of
plain data (``None``, ``bool``, ``int``, finite ``float``, ``str``, and lists, tuples and
dicts of them), subclasses turned into their plain base type first so that no ``__repr__``
of a backend's object can write code. The docstring and the comments are fixed text.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from authspec.model.errors import AuthspecError
from authspec.model.ir import System

from .console import expected_text, group_steps
from .records import Failure, Step
from .runfiles import write_text_atomically


class ReplayValueError(AuthspecError, TypeError):
    """A value of the trace that is not plain data, so it cannot be written as a literal."""


class ReplayPathError(AuthspecError, FileNotFoundError):
    """The specs or the backend file a replay file names are not where it says."""


HEADER = '''\
"""Replay of a nonconformance found by ``authspec check`` (generated file).

SPEC, BACKEND, DIVERGENCE, RULES and SUBJECT_RULES below say what diverged (RULES: the
rules of the divergent step; SUBJECT_RULES: those of each variable or machine whose observed
state diverged, if any); ``test_replay`` sends the steps of the trace to the backend and
fails at the divergent step. Replay against another backend (once the bug is fixed, say)
with AUTHSPEC_REPLAY_BACKEND=module:factory.

Secret parameters are written in clear here: they are needed to replay.
"""

import os

from authspec.harness.replay import Replayer

'''

INVARIANT_NOTE = ("        # The model itself broke an invariant here: a spec problem, "
                  "not the backend's.")


def plain(value: Any) -> Any:
    """``value`` as plain built-in data (exact types), or ``ReplayValueError``."""
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # a subclass: an exact str, whatever its __repr__
    if isinstance(value, int):  # bool is never subclassed; an int subclass: an exact int
        return int.__int__(value)
    if isinstance(value, float) and math.isfinite(value):
        return float.__float__(value)
    if isinstance(value, (list, tuple)):
        items = [plain(item) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    raise ReplayValueError(f"{type(value).__name__} value {object.__repr__(value)} is not "
                           "plain data (None, bool, int, float, str, list, tuple, dict): it "
                           "cannot be written into a replay file")


def literal(value: Any) -> str:
    """The Python literal of ``value`` (see ``plain``): the only way data reaches the file."""
    return repr(plain(value))


def _call(method: str, *args: Any) -> str:
    return f"        replay.{method}({', '.join(literal(a) for a in args)})"


def _step_line(step: Step, count: int) -> str:
    params = dict(step.params)
    expected = expected_text(step.expected)
    if count == 1:
        return _call("step", step.index, step.event, params, expected)
    return _call("repeat", step.index, count, step.event, params, expected)


def replay_source(system: System, failure: Failure, backend: str,
                  specs: str | None,
                  backend_options: Sequence[tuple[str, Any]] = ()) -> str:
    """The text of a pytest file replaying ``failure`` against ``backend`` (made with the
    factory's keyword arguments ``backend_options``, as the check was)."""
    last = failure.last
    constants = [
        f"SPEC = {literal(system.name)}",
        f"KIND = {literal(failure.kind)}",
        f"DIVERGENCE = {literal(f'step {last.index} ({last.event}): {failure.detail}')}",
        f"DIFFERENCES = {literal(list(failure.differences))}",
        f"RULES = {literal(list(failure.step_rules))}",
        "# The rules of each variable or machine that diverged (System.rules_of).",
        f"SUBJECT_RULES = {literal({s: list(r) for s, r in failure.subjects})}",
        f"BACKEND = os.environ.get('AUTHSPEC_REPLAY_BACKEND', {literal(backend)})",
        f"SPECS = os.environ.get('AUTHSPEC_REPLAY_SPECS', {literal(specs)})",
        *([f"BACKEND_OPTIONS = {literal(dict(backend_options))}"] if backend_options else []),
        "",
        "",
        "def test_replay():",
        "    replay = Replayer(BACKEND, SPECS"
        + (", options=BACKEND_OPTIONS" if backend_options else "") + ", here=__file__)",
        "    try:",
    ]
    body = [_step_line(step, count) for step, count in group_steps(failure.steps)]
    if failure.kind == "observation":
        body.append(_call("expect_observation", last.index, failure_view(failure)))
    if failure.kind == "invariant":
        body.append(INVARIANT_NOTE)
    footer = ["    finally:", "        replay.close()", ""]
    return HEADER + "\n".join(constants + body + footer)


def failure_view(failure: Failure) -> dict[str, Any]:
    return {"states": dict(failure.view.get("states", {})),
            "variables": dict(failure.view.get("variables", {}))}


def replay_name(failure: Failure, backend: str) -> str:
    digest = hashlib.sha256()
    digest.update(backend.encode())
    for step in failure.steps:
        digest.update(json.dumps([step.event, sorted(step.params.items(), key=str)],
                                 default=str).encode())
    return f"replay_{digest.hexdigest()[:12]}.py"


def with_http(source: str, mapping: str, base_url: str | None) -> str:
    """The replay file of an HTTP check: it replays over HTTP against
    ``$AUTHSPEC_REPLAY_BASE_URL`` (by default the URL checked), with the same mapping."""
    lines = [
        "# Over HTTP: AUTHSPEC_REPLAY_BASE_URL=http://host:port replays against another "
        "service.",
        f"os.environ.setdefault('AUTHSPEC_REPLAY_MAPPING', {str(Path(mapping).resolve())!r})",
    ]
    if base_url:
        lines.append(f"os.environ.setdefault('AUTHSPEC_REPLAY_BASE_URL', {base_url!r})")
    marker = "\n\n\ndef test_replay():"
    head, sep, tail = source.partition(marker)
    return head + "\n" + "\n".join(lines) + sep + tail if sep else source


def write_replay(out: str | Path, system: System, failure: Failure, backend: str,
                 specs: str | None, *, http: tuple[str, str | None] | None = None) -> Path:
    """``out/replay_<hash>.py``, written atomically; ``http``: (mapping, base URL) of an
    HTTP check."""
    path = Path(out) / replay_name(failure, backend)
    return write_text_atomically(path, replay_file_source(system, failure, backend, specs,
                                                          http, at=path.parent))


def replay_file_source(system: System, failure: Failure, backend: str, specs: str | None,
                       http: tuple[str, str | None] | None = None,
                       backend_options: Sequence[tuple[str, Any]] = (), *,
                       at: Path | None = None) -> str:
    """The replay file's text, over HTTP when ``http`` is given; ``at``: the folder it goes
    into, which its specs and backend file are written relative to."""
    if at is not None:
        backend, specs = relative(backend, specs, at)
    source = replay_source(system, failure, backend, specs, backend_options)
    return source if http is None else with_http(source, *http)


def _file_backend(backend: str) -> tuple[str, str] | None:
    """(file, factory) of a ``file.py:factory`` backend, else None (as backends.load_object)."""
    module, sep, attribute = backend.partition(":")
    if sep and (module.endswith(".py") or "/" in module):
        return module, attribute
    return None


def _relative_to(path: str, folder: Path) -> str:
    return os.path.relpath(Path(path).resolve(), folder.resolve())


def relative(backend: str, specs: str | None, folder: Path) -> tuple[str, str | None]:
    """The backend and specs as a replay file in ``folder`` writes them: the spec folder and
    the backend's file relative to ``folder`` (None: the shipped specs, kept)."""
    if specs is not None:
        specs = _relative_to(specs, folder)
    in_file = _file_backend(backend)
    if in_file is not None:
        backend = f"{_relative_to(in_file[0], folder)}:{in_file[1]}"
    return backend, specs


def located(backend: str, specs: str | None, here: str) -> tuple[str, str | None]:
    """The backend and specs a replay file at ``here`` names, found from its folder (a
    relative path is tried beside the file first, then from the current folder);
    ``ReplayPathError`` when either is in neither place."""
    folder = Path(here).resolve().parent
    if specs is not None:
        specs = _found(specs, folder, "the specs", "AUTHSPEC_REPLAY_SPECS=DIR")
    in_file = _file_backend(backend)
    if in_file is not None:
        found = _found(in_file[0], folder, "the backend's file",
                       "AUTHSPEC_REPLAY_BACKEND=path/to/file.py:factory")
        backend = f"{found}:{in_file[1]}"
    return backend, specs


def _found(path: str, folder: Path, what: str, setting: str) -> str:
    for candidate in ((Path(path),) if Path(path).is_absolute() else
                      (folder / path, Path(path))):
        if candidate.exists():
            return str(candidate)
    raise ReplayPathError(
        f"{what} {path} (written relative to the replay file's folder {folder}) not found: "
        f"keep the replay file in its run's output folder, or set {setting}")
