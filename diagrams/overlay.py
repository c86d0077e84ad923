"""Read the harness's run files, and other tools' coverage and traces, for the overlays.

A document with a ``"format"`` key is an authspec run file (``coverage.json``,
``failure.json``): it is read strictly, through the harness's own reader
(``authspec.harness.runfiles``, documented in docs/harness.md), and a file in an unknown
format or with a wrong key is an error naming the file and what is wrong, never a guess.

A document without one comes from another tool. It is read in one documented shape (the
JSON Schema ``OTHER_COVERAGE``, shown in docs/diagrams.md), checked, and anything else is an
error naming the file, the place in it and what is wrong::

    {
      "transitions": {"session.login": 12, ...},      # transition id -> times taken
      "rejections":  {"session.login_twice": 3, ...},  # rejection id -> times it decided
      "states":      {"session.logged_in": 40, ...},   # "machine.state" -> times visited
      "failures": [ {"title": "...", "divergent": 1,
                     "steps": [ {"event": "login", "params": {...},
                                 "transitions": ["session.login"], "rejection": null,
                                 "expected": "accepted", "actual": "rejected(wrong_password)",
                                 "rules": ["R17"]}, ...]}, ...]
    }

Every key is optional but a step's ``event``; counts are whole numbers. A run folder is
searched for ``coverage.json`` (and ``failures/*.json`` / ``failure*.json`` next to it). A
failure file holds one failure (an object with ``steps``), a list of failures, or a whole
coverage document. A failure without ``divergent`` (0-based) diverges at the first step
whose ``expected`` and ``actual`` differ, or else at its last step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from authspec.harness.runfiles import EARLIER_FORMATS, RunFileError, check_run_record
from authspec.model.ir import System

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
_IDS = {"type": "array", "items": {"type": "string"}}
_STEP = {
    "type": "object", "required": ["event"], "additionalProperties": False,
    "properties": {"event": {"type": "string"}, "params": {"type": "object"},
                   "transitions": _IDS, "rejection": {"type": ["string", "null"]},
                   "expected": {}, "actual": {}, "rules": _IDS},
}
_FAILURE = {
    "type": "object", "required": ["steps"], "additionalProperties": False,
    "properties": {"title": {"type": "string"}, "divergent": {"type": "integer", "minimum": 0},
                   "steps": {"type": "array", "items": _STEP}},
}
#: the one shape of coverage from another tool (module docstring, docs/diagrams.md)
OTHER_COVERAGE: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {"transitions": _COUNTS, "rejections": _COUNTS, "states": _COUNTS,
                   "failures": {"type": "array", "items": _FAILURE}},
}
OTHER_FAILURES: dict[str, Any] = {"oneOf": [_FAILURE, {"type": "array", "items": _FAILURE},
                                            OTHER_COVERAGE]}


def check_other(data: Any, schema: dict[str, Any], where: str) -> None:
    """``data`` in the shape ``schema`` gives, or ``RunFileError`` naming ``where``, the place
    in the document and what is wrong."""
    error = best_match(Draft202012Validator(schema).iter_errors(data))
    if error is None:
        return
    place = "/".join(str(p) for p in error.absolute_path) or "the top level"
    raise RunFileError(
        f"{where}: {place}: {error.message}; a file from another tool must have the shape "
        "docs/diagrams.md shows (or be a run file authspec check wrote)")


@dataclass(frozen=True)
class Step:
    event: str
    params: Any
    transitions: tuple[str, ...]
    rejection: str | None
    expected: Any
    actual: Any
    rules: tuple[str, ...] = ()

    @property
    def agrees(self) -> bool:
        return self.expected is None or self.actual is None or _norm(self.expected) == _norm(
            self.actual)


def _norm(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Failure:
    steps: tuple[Step, ...]
    title: str = ""
    divergent: int = -1  # index into steps, -1 when there are no steps
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_run_file(cls, data: Any, where: str) -> Failure:
        """A ``failure.json`` the harness wrote (checked: ``RunFileError`` if it is not)."""
        check_run_record(data, "failure", where)
        steps = tuple(Step(event=raw["event"], params=raw["params"],
                           transitions=tuple(raw["transitions"]), rejection=raw["rejection"],
                           expected=raw["expected"], actual=raw["actual"],
                           rules=tuple(raw["rules"]))
                      for raw in data["steps"])
        extra = {k: v for k, v in data.items() if k != "steps"}
        return cls(steps, data["title"], data["divergent"], extra)

    @classmethod
    def from_json(cls, data: Any, index: int = 0, where: str = "a failure") -> Failure:
        """A failure from another tool, checked (see the module docstring)."""
        check_other(data, _FAILURE, where)
        steps = tuple(Step(event=raw["event"], params=raw.get("params", {}),
                           transitions=tuple(raw.get("transitions", ())),
                           rejection=raw.get("rejection") or None,
                           expected=raw.get("expected"), actual=raw.get("actual"),
                           rules=tuple(raw.get("rules", ())))
                      for raw in data["steps"])
        divergent = data.get("divergent")
        if divergent is not None and divergent >= len(steps):
            raise RunFileError(f"{where}: divergent: step {divergent} of {len(steps)} steps "
                               "(0-based): name one of its steps")
        if divergent is None:
            divergent = next((i for i, s in enumerate(steps) if not s.agrees), len(steps) - 1)
        title = str(data.get("title") or f"failure {index + 1}")
        extra = {k: v for k, v in data.items() if k != "steps"}
        return cls(steps, title, divergent, extra)


@dataclass
class Coverage:
    transitions: dict[str, int] = field(default_factory=dict)
    rejections: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    source: str = ""
    #: condition coverage of a run file (harness/coverage.py): ``"conditions"``/``"mcdc"``
    #: -> covered, declared, unreachable; the gaps not proven unreachable; the proofs
    condition_totals: dict[str, dict[str, int]] = field(default_factory=dict)
    condition_gaps: list[str] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_run_file(cls, data: Any, source: str) -> Coverage:
        """A ``coverage.json`` the harness wrote (checked: ``RunFileError`` if it is not)."""
        check_run_record(data, "coverage", source)
        return cls(dict(data["transitions"]), dict(data["rejections"]), dict(data["states"]),
                   [], source, dict(data.get("condition_totals", {})),
                   list(data.get("condition_gaps", [])), dict(data.get("unreachable", {})))

    def conditions_line(self) -> str:
        """``conditions 141/150 (6 unreachable), MC/DC 64/75 (7 unreachable)``, or ""."""
        parts = []
        for key, label in (("conditions", "conditions"), ("mcdc", "MC/DC")):
            total = self.condition_totals.get(key)
            if total:
                unreachable = total.get("unreachable", 0)
                parts.append(f"{label} {total['covered']}/{total['declared']}"
                             + (f" ({unreachable} unreachable)" if unreachable else ""))
        return ", ".join(parts)

    @classmethod
    def from_json(cls, data: Any, source: str = "") -> Coverage:
        """Coverage from another tool, checked (see the module docstring)."""
        where = source or "the coverage document"
        check_other(data, OTHER_COVERAGE, where)
        failures = [Failure.from_json(f, i, f"{where}: failures/{i}")
                    for i, f in enumerate(data.get("failures", []))]
        return cls(dict(data.get("transitions", {})), dict(data.get("rejections", {})),
                   dict(data.get("states", {})), failures, source)

    def transition(self, transition_id: str) -> int:
        return self.transitions.get(transition_id, 0)

    def rejection(self, rejection_id: str) -> int:
        return self.rejections.get(rejection_id, 0)

    def state(self, machine: str, state: str) -> int:
        return self.states.get(f"{machine}.{state}", 0)

    def summary(self, system: System) -> dict[str, tuple[int, int]]:
        """Kind -> (elements exercised at least once, elements of the spec)."""
        states = [f"{m.name}.{s.name}" for m in system.machines for s in m.states]
        return {
            "transitions": (sum(1 for t in system.transitions if self.transition(t.id) > 0),
                            len(system.transitions)),
            "rejections": (sum(1 for r in system.rejections if self.rejection(r.id) > 0),
                           len(system.rejections)),
            "states": (sum(1 for s in states if self.states.get(s, 0) > 0), len(states)),
        }


def merge_coverage(runs: list[Coverage]) -> Coverage:
    """Several runs as one: counts added, failures listed in the order of the runs."""
    merged = Coverage(source=", ".join(run.source for run in runs))
    for run in runs:
        for mine, theirs in ((merged.transitions, run.transitions),
                             (merged.rejections, run.rejections),
                             (merged.states, run.states)):
            for key, count in theirs.items():
                mine[key] = mine.get(key, 0) + count
        merged.failures.extend(run.failures)
    return merged


def read_json(path: Path) -> Any:
    """The JSON document in ``path``; ``RunFileError`` (a ValueError) names the file when it
    is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise RunFileError(f"{path}: not JSON: {error}") from error


def is_run_file(data: Any) -> bool:
    """Whether ``data`` claims to be an authspec run file (it then is read strictly)."""
    return isinstance(data, dict) and "format" in data


def is_coverage_file(data: dict[str, Any]) -> bool:
    return data.get("file") == "coverage" or data.get("format") == EARLIER_FORMATS["coverage"]


def coverage_document(data: Any, source: str) -> Coverage:
    """A coverage document: a run file read strictly, anything else tolerantly."""
    if is_run_file(data):
        return Coverage.from_run_file(data, source)
    return Coverage.from_json(data, source)


def load_coverage(path: str | Path) -> Coverage:
    """A coverage document from a JSON file or a run folder (see the module docstring)."""
    path = Path(path)
    if not path.is_dir():
        return coverage_document(read_json(path), str(path))
    candidates = sorted(path.glob("coverage.json")) or sorted(path.rglob("coverage.json"))
    coverage = (coverage_document(read_json(candidates[0]), str(candidates[0]))
                if candidates else Coverage(source=str(path)))
    if not coverage.failures:
        base = candidates[0].parent if candidates else path
        files = sorted(base.glob("failure*.json")) + sorted(base.glob("failures/*.json"))
        for file in files:
            coverage.failures.extend(load_failures(file))
    return coverage


def load_failures(path: str | Path) -> list[Failure]:
    """The failures in a failure file: a run file's one failure (a coverage run file has
    none), or, from another tool, one failure, a list, or a coverage document."""
    data = read_json(Path(path))
    if is_run_file(data):
        if is_coverage_file(data):
            check_run_record(data, "coverage", str(path))
            return []
        return [Failure.from_run_file(data, str(path))]
    where = str(path)
    if isinstance(data, dict) and "steps" in data:
        return [Failure.from_json(data, 0, where)]
    if isinstance(data, list):
        return [Failure.from_json(d, i, f"{where}: {i}") for i, d in enumerate(data)]
    return Coverage.from_json(data, where).failures


@dataclass(frozen=True)
class TraceEdge:
    step: int  # 0-based
    transition: str
    machine: str
    source: str
    target: str


@dataclass(frozen=True)
class TracePath:
    """A failure laid on the spec: the edges taken, step by step, and where the trace went wrong."""

    edges: tuple[TraceEdge, ...]
    divergent: int
    # machine -> state it was in when the divergent step came (to mark refusals there)
    at_divergence: dict[str, str]
    unknown: tuple[str, ...]  # transition ids of the trace that the spec does not have

    def steps_on(self, transition: str, source: str) -> list[int]:
        return [e.step for e in self.edges if e.transition == transition and e.source == source]


def lay_trace(system: System, failure: Failure) -> TracePath:
    """Follow the trace's transitions (and refusals with a target) from the initial states
    to find each edge's source."""
    by_id = {t.id: t for t in system.transitions}
    refusals = {r.id: r for r in system.rejections}
    current = {m.name: m.initial.name for m in system.machines}
    edges: list[TraceEdge] = []
    unknown: list[str] = []
    at_divergence: dict[str, str] = dict(current)
    for index, step in enumerate(failure.steps):
        if index == failure.divergent:
            at_divergence = dict(current)
        moves: dict[str, str] = {}
        for tid in step.transitions:
            t = by_id.get(tid)
            if t is None:
                unknown.append(tid)
                continue
            source = current.get(t.machine, t.sources[0] if t.sources else "")
            if t.sources and source not in t.sources:
                source = t.sources[0]  # the trace left our bookkeeping: trust the transition
            target = t.target_from(source)
            edges.append(TraceEdge(index, tid, t.machine, source, target))
            moves[t.machine] = target
        refusal = refusals.get(step.rejection or "")
        if refusal is not None and refusal.target is not None:  # a refusal that moves
            source = current.get(refusal.machine, "")
            edges.append(TraceEdge(index, refusal.id, refusal.machine, source, refusal.target))
            moves[refusal.machine] = refusal.target
        current.update(moves)
    return TracePath(tuple(edges), failure.divergent, at_divergence, tuple(unknown))
