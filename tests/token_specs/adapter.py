"""A reset-token service and its adapter, for tests/test_tokens.py.

``ResetService`` knows nothing of authspec: each request hands out a fresh random token and
only the latest, unused, resets the password. ``make_adapter`` drives it through
``authspec.harness.tokens.TokenBook``, which maps the spec's token index (0 the latest) to
the concrete token the service handed out. ``make_old_token_accepted`` is the fault a user
could not test before: an earlier token still works after a new one was requested.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from authspec.harness.adapter import Observation, Response
from authspec.harness.tokens import TokenBook
from authspec.model.ir import System


class ResetService:
    """Reset tokens: at most three requests; only the latest token, once."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.used: set[str] = set()

    def request(self) -> str | None:
        if len(self.tokens) == 3:
            return None
        self.tokens.append(secrets.token_hex(8))
        return self.tokens[-1]

    def valid(self, token: str) -> bool:
        return bool(self.tokens) and token == self.tokens[-1]

    def reset(self, token: str) -> bool:
        if not self.valid(token) or token in self.used:
            return False
        self.used.add(token)
        return True


class OldTokenAccepted(ResetService):
    """Any token it handed out works, not only the latest."""

    def valid(self, token: str) -> bool:
        return token in self.tokens


class ResetAdapter:
    """The adapter: the spec's events on the service, token indexes mapped by a TokenBook."""

    def __init__(self, system: System, service: type[ResetService]) -> None:
        self._kind = service
        self.book = TokenBook(system, never_issued=lambda: "never-issued")
        self.reset()

    def reset(self) -> None:
        self.service = self._kind()
        self.book.clear()

    def perform(self, event: str, params: Mapping[str, Any]) -> Response:
        if event == "request_reset":
            token = self.service.request()
            if token is None:
                return Response.rejected("too_many_requests")
            self.book.issued(event, params, token)
            return Response.ok()
        concrete = self.book.concrete(event, params)
        if self.service.reset(concrete["token"]):
            return Response.ok()
        return Response.rejected("invalid_token")

    def observe(self) -> Observation:
        tokens = self.service.tokens
        done = max((i + 1 for i, t in enumerate(tokens) if t in self.service.used), default=0)
        return Observation(states={"reset_token": "idle"},
                           variables={"reset_token.issued": len(self.service.tokens),
                                      "reset_token.resets": done})


def make_adapter(system: System) -> ResetAdapter:
    return ResetAdapter(system, ResetService)


def make_old_token_accepted(system: System) -> ResetAdapter:
    return ResetAdapter(system, OldTokenAccepted)
