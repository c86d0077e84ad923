"""Tokens with identity, for adapters: which of the issued tokens an event uses.

A spec says which token an event uses with an int parameter ``issued_by: EVENT`` (loader,
``Param.issued_by``): the value ``k`` is the ``k``-th token that accepted ``EVENT`` steps
issued for the acting instance, counted back from the latest (0 the latest, 1 the one
before); an index beyond those issued names a token never issued. The harness draws it
like any int (its bounds 0 and max, so the latest and an old or unknown one). The model
reads the index; the backend needs the concrete token, which only the adapter saw.
``TokenBook`` keeps them, per issuing event and instance::

    book = TokenBook(system, never_issued=lambda: "no-such-token")
    response = service.request_reset(...)
    if response.accepted:
        book.issued("request_reset", params, response.token)
    concrete = book.concrete("reset_password", params)   # index -> token

The instance is the event's implicit instance parameters (entities); a spec of one
instance has one book per issuing event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from authspec.model.errors import AuthspecError
from authspec.model.ir import System


class TokenError(AuthspecError, ValueError):
    """A token asked of the book that the spec does not declare: which event, what to do."""


class TokenBook:
    """The concrete tokens an adapter was given, per issuing event and acting instance."""

    def __init__(self, system: System, never_issued: Callable[[], Any]):
        self._events = {event.name: event for event in system.events}
        self._never_issued = never_issued
        self._issued: dict[tuple[str, tuple[Any, ...]], list[Any]] = {}

    def _instance(self, event: str, params: Mapping[str, Any]) -> tuple[Any, ...]:
        found = self._events.get(event)
        if found is None:
            raise TokenError(f"no event {event!r} in the spec; known: "
                             f"{', '.join(sorted(self._events))}")
        return tuple(params.get(p.name) for p in found.acts_on)

    def issued(self, event: str, params: Mapping[str, Any], token: Any) -> None:
        """Record the token an accepted ``event`` with ``params`` issued."""
        key = (event, self._instance(event, params))
        self._issued.setdefault(key, []).append(token)

    def token(self, issuer: str, params: Mapping[str, Any], index: int) -> Any:
        """The ``index``-th token ``issuer`` issued for the instance ``params`` name (0 the
        latest), or ``never_issued()`` beyond those issued."""
        tokens = self._issued.get((issuer, self._instance(issuer, params)), [])
        return tokens[-1 - index] if 0 <= index < len(tokens) else self._never_issued()

    def concrete(self, event: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` with each ``issued_by`` index of ``event`` replaced by its token."""
        self._instance(event, params)  # an unknown event is an error here too
        result = dict(params)
        for param in self._events[event].params:
            if param.issued_by and param.name in result:
                result[param.name] = self.token(param.issued_by, params, int(result[param.name]))
        return result

    def clear(self) -> None:
        """Forget every token (the backend was reset)."""
        self._issued.clear()
