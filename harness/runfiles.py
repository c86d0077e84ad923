"""The run files a check writes into its output folder, written and read by this module.

``coverage.json`` (after every run) and ``failure.json`` (on a nonconformance) share one
versioned format: ``"format": "authspec-run/1"`` and ``"file": "coverage"`` or
``"failure"`` (docs/harness.md describes every key). ``write_coverage`` and
``write_failure`` write them; ``read_coverage`` and ``read_failure`` read them back,
checked against the JSON Schemas below, and raise ``RunFileError`` naming the file and what
is wrong. The readers also take the files written before the shared format
(``authspec-coverage/1``, ``authspec-failure/1``: the same keys, without ``"file"``). The
diagram overlay and the review report (diagrams/overlay.py) read run files through them.

Every file is written atomically (``write_files_atomically``: a temporary file in the same
folder, then ``os.replace``), several files as one step; a file that cannot be written is a
``RunFileWriteError`` naming it and saying what to do (a full disk, a read-only folder).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections import Counter as Tally
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from authspec.model.errors import AuthspecError
from authspec.model.ir import System

from .console import expected_text, masked
from .coverage import CATEGORIES, Coverage
from .records import Failure, Step

RUN_FORMAT = "authspec-run/1"
#: what each run file was marked with before ``RUN_FORMAT``; still read
EARLIER_FORMATS = {"coverage": "authspec-coverage/1", "failure": "authspec-failure/1"}
COVERAGE_FILE = "coverage.json"
FAILURE_FILE = "failure.json"


class RunFileError(AuthspecError, ValueError):
    """A run file that cannot be read: which file, and what is wrong with it."""


class RunFileWriteError(AuthspecError):
    """A file of a run that could not be written: which file, why, and what to do."""

    def __init__(self, path: Path, error: OSError):
        self.path, self.error = path, error
        reason = error.strerror or str(error)
        advice = _WRITE_ADVICE.get(error.errno or 0, "give another output folder (--out)")
        super().__init__(f"{path}: cannot write it: {reason}; {advice}")


_WRITE_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space, or give an output folder (--out) on "
                  "another disk",
    errno.EDQUOT: "the disk quota is spent: free some space, or give another output folder "
                  "(--out)",
    errno.EACCES: "the folder is not writable: give a writable output folder (--out)",
    errno.EPERM: "the folder is not writable: give a writable output folder (--out)",
    errno.EROFS: "the file system is read-only: give an output folder (--out) elsewhere",
    errno.EISDIR: "a folder has that name: remove it, or give another output folder (--out)",
    errno.ENOTDIR: "a file stands where a folder is needed: give another output folder (--out)",
}


# -- the schemas ------------------------------------------------------------------------------

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
_IDS = {"type": "array", "items": {"type": "string"}}
_HEADER = {
    "format": {"enum": [RUN_FORMAT, *EARLIER_FORMATS.values()]},
    "file": {"enum": list(EARLIER_FORMATS)},
    "system": {"type": "string"},
}

COVERAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "system", "examples", "steps", *CATEGORIES, "uncovered", "totals"],
    "properties": {
        **_HEADER,
        "examples": {"type": "integer", "minimum": 0},
        "steps": {"type": "integer", "minimum": 0},
        **{category: _COUNTS for category in CATEGORIES if category != "events"},
        "events": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["sent", "accepted", "rejected"],
            "properties": {k: {"type": "integer", "minimum": 0}
                           for k in ("sent", "accepted", "rejected")}}},
        "uncovered": {"type": "object", "additionalProperties": _IDS},
        "totals": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["covered", "declared"],
            "properties": {"covered": {"type": "integer"}, "declared": {"type": "integer"}}}},
        # Condition coverage (optional: files written before it lack these keys).
        "conditions": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["kind", "conditions"],
            "properties": {"kind": {"enum": ["transition", "rejection"]},
                           "conditions": {"type": "array", "items": {
                               "type": "object",
                               "required": ["source", "true", "false", "mcdc", "pair"],
                               "properties": {"source": {"type": "string"},
                                              "true": {"type": "boolean"},
                                              "false": {"type": "boolean"},
                                              "mcdc": {"type": "boolean"},
                                              "pair": {"type": ["array", "null"]}}}}}}},
        "condition_totals": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["covered", "declared", "unreachable"],
            "properties": {k: {"type": "integer", "minimum": 0}
                           for k in ("covered", "declared", "unreachable")}}},
        "condition_gaps": _IDS,
        "unreachable": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

_STEP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["index", "event", "params", "origin", "expected", "actual", "transitions",
                 "rejection", "rules", "conforms"],
    "properties": {
        "index": {"type": "integer", "minimum": 1},
        "event": {"type": "string"},
        "params": {"type": "object"},
        "origin": {"type": "string"},
        "expected": {"type": "string"},
        "actual": {"type": "string"},
        "transitions": _IDS,
        "rejection": {"type": ["string", "null"]},
        "rules": _IDS,
        "conforms": {"type": "boolean"},
    },
}

FAILURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "system", "backend", "title", "kind", "detail", "differences",
                 "rules", "divergent", "secrets_masked", "steps"],
    "properties": {
        **_HEADER,
        "backend": {"type": "string"},
        "title": {"type": "string"},
        "kind": {"enum": ["outcome", "observation", "invariant"]},
        "detail": {"type": "string"},
        "differences": _IDS,
        "rules": _IDS,
        "subject_rules": {"type": "object", "additionalProperties": _IDS},
        "divergent": {"type": "integer", "minimum": 0},
        "secrets_masked": {"type": "boolean"},
        "steps": {"type": "array", "minItems": 1, "items": _STEP_SCHEMA},
    },
}

SCHEMAS = {"coverage": COVERAGE_SCHEMA, "failure": FAILURE_SCHEMA}


# -- writing ----------------------------------------------------------------------------------


def _file_mode() -> int:
    """The mode ``open`` gives a new file under the process's umask (mkstemp gives 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def _stage(path: Path, text: str) -> Path:
    """``text`` in a new temporary file next to ``path`` (same folder: same file system)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                        suffix=".tmp")
    os.close(descriptor)
    staged = Path(name)
    try:
        # A lone surrogate (from a backend's answer) as \udc80: a JSON escape, and in a
        # replay file only ever inside a repr, which has escaped it already.
        staged.write_text(text, encoding="utf-8", errors="backslashreplace")
        os.chmod(staged, _FILE_MODE)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return staged


def write_files_atomically(files: Mapping[Path, str]) -> None:
    """Write every file of ``files`` (path -> text), in order, as one step: each is written
    to a temporary file in its folder first, and only when all of them are written are they
    renamed (``os.replace``) into place, in order. A failure to write leaves every file as
    it was (no truncated file, no temporary file left) and raises ``RunFileWriteError``
    naming the file; only a rename failing (in the same folder: next to impossible) leaves
    the files before it renamed, which is why the file that marks a run complete goes last."""
    staged: dict[Path, Path] = {}
    current = Path()
    try:
        for current, text in files.items():
            staged[current] = _stage(current, text)
        for current in files:
            os.replace(staged[current], current)
            del staged[current]
    except OSError as error:
        raise RunFileWriteError(current, error) from error
    finally:
        for temporary in staged.values():  # the ones not renamed into place
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


def write_text_atomically(path: Path, text: str) -> Path:
    """``path`` holds ``text`` afterwards, or is as it was (see ``write_files_atomically``)."""
    write_files_atomically({path: text})
    return path


def json_text(record: dict[str, Any], *, indent: int) -> str:
    return json.dumps(record, ensure_ascii=False, indent=indent, default=str) + "\n"


def _write_json(path: Path, record: dict[str, Any], *, indent: int) -> Path:
    return write_text_atomically(path, json_text(record, indent=indent))


def coverage_record(coverage: Coverage) -> dict[str, Any]:
    """The coverage as JSON data: every declared id with its count, ``uncovered``, ``totals``."""
    declared = coverage.declared()
    data: dict[str, Any] = {
        "format": RUN_FORMAT,
        "file": "coverage",
        "system": coverage.system.name,
        "examples": coverage.examples,
        "steps": coverage.steps,
    }
    for category in ("states", "transitions", "rejections", "reasons", "rules"):
        counts = getattr(coverage, category)
        ids = declared[category]
        extra = [k for k in counts if k not in ids]
        data[category] = {i: counts.get(i, 0) for i in [*ids, *extra]}
    data["events"] = {e: {k: coverage.events.get(e, Tally()).get(k, 0)
                          for k in ("sent", "accepted", "rejected")}
                      for e in declared["events"]}
    data["uncovered"] = {c: coverage.uncovered(c) for c in declared}
    data["coarse"] = {"reasons": dict(sorted(coverage.coarse.items())),
                      "only_coarsely": coverage.coarse_only()}
    data["totals"] = {c: {"covered": a, "declared": b}
                      for c, (a, b) in coverage.summary().items()}
    data.update(condition_record(coverage))
    return data


def condition_record(coverage: Coverage) -> dict[str, Any]:
    """The condition coverage keys of coverage.json (see coverage.py): ``conditions`` (per
    guarded transition and refusal, each condition with ``true``, ``false``, ``mcdc`` and
    its MC/DC ``pair``), ``condition_totals`` and ``unreachable`` (gap id -> the proof)."""
    proven = coverage.unreachable()
    elements: dict[str, Any] = {}
    for element, (kind, conditions) in coverage.guards().items():
        statuses = coverage.condition_status(element)
        elements[element] = {"kind": kind, "conditions": [
            {"source": c.source, "true": s.true, "false": s.false, "mcdc": s.pair is not None,
             "pair": None if s.pair is None else [list(v) for v in s.pair]}
            for c, s in zip(conditions.conditions, statuses, strict=True)]}
    totals = {c: {"covered": a, "declared": b, "unreachable": u}
              for c, (a, b, u) in coverage.condition_summary().items()}
    return {"conditions": elements, "condition_totals": totals,
            "condition_gaps": [g.id for g in coverage.condition_gaps() if g not in proven],
            "unreachable": {g.id: why for g, why in proven.items()}}


def write_coverage(out: str | Path, coverage: Coverage) -> Path:
    """``out/coverage.json``."""
    return _write_json(Path(out) / COVERAGE_FILE, coverage_record(coverage), indent=2)


def _masked_params(system: System, step: Step, show_secrets: bool) -> dict[str, Any]:
    secret = {p.name for p in system.event(step.event).params if p.secret}
    return {name: masked(step, name) if name in secret and not show_secrets else value
            for name, value in step.params.items()}


def failure_record(system: System, failure: Failure, backend: str, *,
                   show_secrets: bool = False) -> dict[str, Any]:
    """The failure as JSON data: one entry per step, the divergent one last."""
    last = failure.last
    steps = []
    for step in failure.steps:
        steps.append({
            "index": step.index,
            "event": step.event,
            "params": _masked_params(system, step, show_secrets),
            "origin": step.origin,
            "expected": expected_text(step.expected),
            "actual": "no answer" if step.actual is None else str(step.actual),
            "transitions": list(step.expected.transitions),
            "rejection": step.expected.rejection,
            "rules": list(step.expected.rules),
            "conforms": step.conforms,
        })
    return {
        "format": RUN_FORMAT,
        "file": "failure",
        "system": system.name,
        "backend": backend,
        "title": f"{backend}: step {last.index} ({last.event}) {failure.detail}",
        "kind": failure.kind,
        "detail": failure.detail,
        "differences": list(failure.differences),
        "rules": list(failure.step_rules),
        "subject_rules": {subject: list(rules) for subject, rules in failure.subjects},
        "divergent": len(steps) - 1,
        "secrets_masked": not show_secrets,
        "steps": steps,
    }


def write_failure(out: str | Path, system: System, failure: Failure, backend: str, *,
                  show_secrets: bool = False) -> Path:
    """``out/failure.json`` (secret parameters masked unless ``show_secrets``)."""
    record = failure_record(system, failure, backend, show_secrets=show_secrets)
    return _write_json(Path(out) / FAILURE_FILE, record, indent=1)


# -- reading ----------------------------------------------------------------------------------


def read_coverage(path: str | Path) -> dict[str, Any]:
    """A ``coverage.json`` written by ``write_coverage``, checked (see ``read_run_file``)."""
    return read_run_file(path, "coverage")


def read_failure(path: str | Path) -> dict[str, Any]:
    """A ``failure.json`` written by ``write_failure``, checked (see ``read_run_file``)."""
    return read_run_file(path, "failure")


def read_run_file(path: str | Path, file: str) -> dict[str, Any]:
    """The run file at ``path`` of kind ``file`` ("coverage" or "failure"), after checking
    its format marker and its schema; ``RunFileError`` says which file and what is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RunFileError(f"{path}: cannot read it: {error.strerror or error}") from error
    except ValueError as error:
        raise RunFileError(f"{path}: not JSON: {error}") from error
    check_run_record(data, file, str(path))
    return data


def check_run_record(data: Any, file: str, where: str) -> None:
    """Raise ``RunFileError`` unless ``data`` is a run file of kind ``file``."""
    expected = f"{RUN_FORMAT} ({file})"
    if not isinstance(data, dict) or "format" not in data:
        raise RunFileError(f"{where}: not an authspec run file: no \"format\" key "
                           f"(expected {expected})")
    marker = (data["format"], data.get("file"))
    if marker not in ((RUN_FORMAT, file), (EARLIER_FORMATS[file], None)):
        raise RunFileError(f"{where}: format {data['format']!r}"
                           + (f", file {data['file']!r}" if "file" in data else "")
                           + f" is not a {file} file authspec reads (expected {expected}); "
                           "a newer authspec may have written it")
    errors = sorted(Draft202012Validator(SCHEMAS[file]).iter_errors(data),
                    key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        at = "/".join(str(p) for p in first.absolute_path) or "the top level"
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise RunFileError(f"{where}: at {at}: {first.message}{more}")
    if file == "failure" and data["divergent"] >= len(data["steps"]):
        raise RunFileError(f"{where}: divergent is {data['divergent']} but there are only "
                           f"{len(data['steps'])} steps (0-based)")
