"""The run files a check writes into its output folder: ``failure.json`` (and its reader).

``write_failure`` writes the trace as ``failure.json`` (secrets masked unless asked), the
file the diagram overlay (``authspec diagram --trace``) and the review report
(``authspec report --run``) read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from authspec.model.ir import System

from .console import expected_text, masked
from .records import Failure, Step

FAILURE_FORMAT = "authspec-failure/1"


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
        "format": FAILURE_FORMAT,
        "system": system.name,
        "backend": backend,
        "title": f"{backend}: step {last.index} ({last.event}) {failure.detail}",
        "kind": failure.kind,
        "detail": failure.detail,
        "differences": list(failure.differences),
        "rules": list(failure.rules or last.expected.rules),
        "divergent": len(steps) - 1,
        "secrets_masked": not show_secrets,
        "steps": steps,
    }


def write_failure(out: str | Path, system: System, failure: Failure, backend: str, *,
                  show_secrets: bool = False) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "failure.json"
    record = failure_record(system, failure, backend, show_secrets=show_secrets)
    path.write_text(json.dumps(record, ensure_ascii=False, indent=1, default=str) + "\n",
                    encoding="utf-8")
    return path
