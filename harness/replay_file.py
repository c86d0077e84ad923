"""The generated replay file: a failing trace as a pytest file (``replay_<hash>.py``).

``write_replay`` writes the trace as a pytest file that replays it step by step against a
backend through ``replay.Replayer`` and fails at the divergent step (secrets in clear:
they are needed).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from authspec.model.ir import System

from .console import expected_text, group_steps
from .records import Failure


def replay_source(system: System, failure: Failure, backend: str,
                  specs: str | None) -> str:
    """The text of a pytest file replaying ``failure`` against ``backend``."""
    last = failure.last
    rules = " ".join(failure.rules or last.expected.rules)
    header = [
        '"""Replay of a nonconformance found by ``authspec check`` (generated file).',
        "",
        f"Spec: {system.name}",
        f"Backend: {backend} (override with AUTHSPEC_REPLAY_BACKEND=module:factory)",
        f"Divergence at step {last.index} ({last.event}): {failure.detail}",
        f"Rules: {rules}",
        "",
        "Secret parameters are written in clear here: they are needed to replay.",
        '"""',
        "",
        "import os",
        "",
        "from authspec.harness.replay import Replayer",
        "",
        f"BACKEND = os.environ.get('AUTHSPEC_REPLAY_BACKEND', {backend!r})",
        f"SPECS = {specs!r}",
        "",
        "",
        "def test_replay():",
        "    replay = Replayer(BACKEND, SPECS)",
        "    try:",
    ]
    body = []
    groups = group_steps(failure.steps)
    for number, (step, count) in enumerate(groups, start=1):
        params = "{" + ", ".join(f"{k!r}: {v!r}" for k, v in step.params.items()) + "}"
        expected = expected_text(step.expected)
        if count == 1:
            body.append(f"        replay.step({step.index}, {step.event!r}, {params}, "
                        f"{expected!r})")
        else:
            body.append(f"        replay.repeat({step.index}, {count}, {step.event!r}, "
                        f"{params}, {expected!r})")
        if number == len(groups) and failure.kind == "observation":
            view = json.dumps(failure_view(failure), ensure_ascii=False)
            body.append(f"        replay.expect_observation({step.index}, {view})")
    if failure.kind == "invariant":
        body.append("        # The model itself broke an invariant here: a spec problem, "
                    "not the backend's.")
    footer = ["    finally:", "        replay.close()", ""]
    return "\n".join(header + body + footer)


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


def write_replay(out: str | Path, system: System, failure: Failure, backend: str,
                 specs: str | None) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / replay_name(failure, backend)
    path.write_text(replay_source(system, failure, backend, specs), encoding="utf-8")
    return path

