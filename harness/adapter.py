"""The adapter protocol: how the harness talks to a system under test.

An adapter wraps one implementation (a library, a service, a database-backed application)
and speaks the vocabulary of the specs: event names and parameters as the spec declares
them, answers as *accepted* or *rejected with a reason code* the spec declares.

Three calls are required, one is optional:

``reset()``
    Start again from a fresh system (no customers, no sessions, nothing spent).
``perform(event, params) -> Response``
    Carry out one event with its parameters and say what the system answered.
    Raise nothing for a refusal: a refusal is ``Response.rejected("reason_code")``.
    An exception, a hang or an answer that is not a ``Response`` is reported as a
    *backend error*, distinct from a nonconformance.
``observe() -> Observation | None``  (optional)
    The state the backend can expose: the state of each machine it can tell, and the
    variables it can tell (``"machine.variable"``). Leave out what it cannot tell;
    return ``None`` (or do not define the method) to be tested on outcomes alone.
    Never put secrets in clear here: secret variables are never compared.
``close()``  (optional)
    Release files, connections, servers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from authspec.model.errors import AuthspecError


class InvalidResponse(AuthspecError, ValueError):
    """A ``Response`` built against its rules (a bug in the adapter, not in the backend)."""


@dataclass(frozen=True)
class Response:
    """A backend's answer to one event: accepted, or rejected with a reason code."""

    accepted: bool
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.accepted and self.reason is not None:
            raise InvalidResponse("an accepted response carries no reason code")
        if not self.accepted and not self.reason:
            raise InvalidResponse("a rejected response needs the reason code the spec declares")

    @classmethod
    def ok(cls) -> Response:
        return cls(True)

    @classmethod
    def rejected(cls, reason: str) -> Response:
        return cls(False, reason)

    def __str__(self) -> str:
        return "accepted" if self.accepted else f"rejected({self.reason})"


@dataclass(frozen=True)
class Observation:
    """What a backend can tell of its state; anything left out is not compared."""

    states: Mapping[str, str] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Adapter(Protocol):
    """The calls every adapter provides (``observe`` and ``close`` are optional)."""

    def reset(self) -> None: ...

    def perform(self, event: str, params: Mapping[str, Any]) -> Response: ...
