"""Read the harness's run files, and other tools' coverage and traces, for the overlays.

A document with a ``"format"`` key is an authspec run file (``coverage.json``,
``failure.json``): it is read strictly, through the harness's own reader
(``authspec.harness.runfiles``, documented in docs/harness.md), and a file in an unknown
format or with a wrong key is an error naming the file and what is wrong, never a guess.

A document without one comes from another tool, and is read tolerantly (documented in
docs/diagrams.md)::

    {
      "transitions": {"session.login": 12, ...},      # transition id -> times taken
      "rejections":  {"session.login_twice": 3, ...},  # rejection id -> times it decided
      "states":      {"session.logged_in": 40, ...},   # "machine.state" -> times visited
      "failures": [ {"steps": [ {"event": "login", "params": {...},
                                 "transitions": ["session.login"], "rejection": null,
                                 "expected": "accepted", "actual": "rejected(wrong_password)",
                                 "rules": ["R17"]}, ...]}, ...]
    }

Everything is optional. Counts may be numbers, or objects with a ``count``/``hits`` field, or
lists (their length). The document may be wrapped in ``{"coverage": {...}}``. A run folder is
searched for ``coverage.json`` (and ``failures/*.json`` / ``failure*.json`` next to it). A
failure file holds one failure (``{"steps": [...]}``), a list of them, or a whole coverage
document. A failure may name its divergent step (``divergent``/``divergent_step``, 0-based);
otherwise the first step whose ``expected`` and ``actual`` differ is the divergent one, or
the last step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from authspec.harness.runfiles import EARLIER_FORMATS, RunFileError, check_run_record
from authspec.model.ir import System


def _count(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, dict):
        for key in ("count", "hits", "n", "times", "total"):
            if key in value:
                return _count(value[key])
        return 0
    if isinstance(value, list | tuple):
        return len(value)
    try:
        return int(str(value))
    except ValueError:
        return 0


def _counts(value: Any) -> dict[str, int]:
    if isinstance(value, dict):
        return {str(k): _count(v) for k, v in value.items()}
    if isinstance(value, list):  # a list of ids, or of {"id": ..., "count": ...}
        out: dict[str, int] = {}
        for item in value:
            if isinstance(item, dict) and "id" in item:
                out[str(item["id"])] = out.get(str(item["id"]), 0) + _count(item)
            elif isinstance(item, str):
                out[item] = out.get(item, 0) + 1
        return out
    return {}


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


def _ids(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v.get("id", "")) if isinstance(v, dict) else str(v) for v in value)
    return ()


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
    def from_json(cls, data: Any, index: int = 0) -> Failure:
        """A failure from another tool, read tolerantly (see the module docstring)."""
        if isinstance(data, list):
            data = {"steps": data}
        if not isinstance(data, dict):
            data = {}
        raw_steps = data.get("steps") or data.get("trace") or []
        steps = []
        for raw in raw_steps if isinstance(raw_steps, list) else []:
            if not isinstance(raw, dict):
                continue
            rejection = raw.get("rejection")
            steps.append(Step(
                event=str(raw.get("event", "?")),
                params=raw.get("params", {}),
                transitions=_ids(raw.get("transitions")),
                rejection=str(rejection) if rejection not in (None, "") else None,
                expected=raw.get("expected"),
                actual=raw.get("actual"),
                rules=_ids(raw.get("rules")),
            ))
        divergent = -1
        for key in ("divergent", "divergent_step", "diverges_at"):
            if isinstance(data.get(key), int) and 0 <= data[key] < len(steps):
                divergent = data[key]
                break
        else:
            divergent = next((i for i, s in enumerate(steps) if not s.agrees), len(steps) - 1)
        title = next((str(data[k]) for k in ("title", "name", "id", "test", "message")
                      if data.get(k)), f"failure {index + 1}")
        extra = {k: v for k, v in data.items() if k not in ("steps", "trace")}
        return cls(tuple(steps), title, divergent, extra)


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
        """Coverage from another tool, read tolerantly (see the module docstring)."""
        if isinstance(data, dict) and isinstance(data.get("coverage"), dict):
            inner = dict(data["coverage"])
            inner.setdefault("failures", data.get("failures", []))
            data = inner
        if not isinstance(data, dict):
            data = {}
        raw_failures = data.get("failures") or []
        if isinstance(raw_failures, dict):
            raw_failures = list(raw_failures.values())
        failures = [Failure.from_json(f, i) for i, f in enumerate(raw_failures)
                    if isinstance(f, dict | list)]
        return cls(_counts(data.get("transitions")), _counts(data.get("rejections")),
                   _counts(data.get("states")), failures, source)

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
    if isinstance(data, dict) and ("steps" in data or "trace" in data):
        return [Failure.from_json(data)]
    if isinstance(data, list) and data and all(isinstance(d, dict) and "event" in d for d in data):
        return [Failure.from_json(data)]
    if isinstance(data, list):
        return [Failure.from_json(d, i) for i, d in enumerate(data)]
    return Coverage.from_json(data).failures


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
