"""Replay a recorded trace against a backend, step by step (used by generated replay files).

A generated ``replay_<hash>.py`` calls ``Replayer.step`` for each step with the answer the
model gave; the first step where the backend answers differently fails the test with the
step number, so the divergence can be debugged in the backend with an ordinary pytest run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from authspec.model import load
from authspec.model.errors import AuthspecError

from .adapter import Response
from .backends import Backend, open_backend
from .replay_file import located


def http_settings() -> dict[str, str | None]:
    """For ``--backend http``: the mapping and the base URL, from the environment
    (``AUTHSPEC_REPLAY_MAPPING``, ``AUTHSPEC_REPLAY_BASE_URL``; a replay file sets their
    defaults, see ``replay_file.with_http``)."""
    return {"mapping": os.environ.get("AUTHSPEC_REPLAY_MAPPING"),
            "base_url": os.environ.get("AUTHSPEC_REPLAY_BASE_URL")}


class ReplayMismatch(AuthspecError, AssertionError):
    """The backend answered differently from the recorded model answer."""


def _matches(actual: Response, expected: str) -> bool:
    """The recorded answer, or a code standing for a set that holds the recorded reason."""
    if str(actual) == expected:
        return True
    reason = expected.removeprefix("rejected(").removesuffix(")")
    return not actual.accepted and expected.startswith("rejected(") and (
        reason in actual.stands_for)


def _text(response: Response | None) -> str:
    return "no answer" if response is None else str(response)


class Replayer:
    """Drive one backend through recorded steps; ``close()`` when done."""

    def __init__(self, backend: str, specs: str | None = None, *, timeout: float = 30.0,
                 options: Mapping[str, Any] | None = None, here: str | None = None):
        """``options``: the factory's keyword arguments the check was given
        (``--backend-option``); ``here``: the replay file's own path (its paths are
        relative to it)."""
        if here is not None:
            backend, specs = located(backend, specs, here)
        self.system = load(specs)
        self.backend: Backend = open_backend(backend, self.system, specs, timeout=timeout,
                                             extra=http_settings(),
                                             options=tuple((options or {}).items()))
        self.backend.reset()

    def step(self, index: int, event: str, params: Mapping[str, Any], expected: str) -> None:
        actual = self.backend.perform(event, params)
        if not _matches(actual, expected):
            raise ReplayMismatch(
                f"step {index} {event}: the spec expects {expected}, "
                f"the backend answered {_text(actual)}")

    def repeat(self, index: int, times: int, event: str, params: Mapping[str, Any],
               expected: str) -> None:
        for offset in range(times):
            self.step(index + offset, event, params, expected)

    def expect_observation(self, index: int, view: Mapping[str, Any]) -> None:
        observation = self.backend.observe()
        if observation is None:
            return
        problems = []
        states = view.get("states", {})
        for machine, state in observation.states.items():
            if machine in states and states[machine] != state:
                problems.append(f"{machine}: spec {states[machine]}, backend {state}")
        variables = view.get("variables", {})
        for name, value in observation.variables.items():
            if name in variables and variables[name] != value:
                problems.append(f"{name}: spec {variables[name]!r}, backend {value!r}")
        if problems:
            raise ReplayMismatch(f"after step {index}, the backend's state differs: "
                                 + "; ".join(problems))

    def close(self) -> None:
        self.backend.close()
