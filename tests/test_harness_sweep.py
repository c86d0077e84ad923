"""The sweep tests each refusal with the one condition under test broken alone (MC/DC).

An implementation that forgets one check among several (a registration that never asks for
the agreement) is invisible when every test of that refusal also breaks another condition:
the other check still refuses. The sweep therefore sends, for each refusal of an event the
model can accept, parameters under which no other refusal of the event holds.
"""

from __future__ import annotations

from typing import Any

from authspec.harness.backends import Backend, make_model_adapter
from authspec.harness.driver import RunState
from authspec.harness.options import CheckOptions
from authspec.harness.sweep import sweep
from authspec.model import load
from authspec.model.semantics import Snapshot, semantics_of

SHIPPED = load()


class Recorder:
    """The model as a backend, remembering each step with the state it was sent in."""

    def __init__(self) -> None:
        self.inner = make_model_adapter(SHIPPED)
        self.sent: list[tuple[Snapshot, str, dict[str, Any]]] = []

    def reset(self) -> None:
        self.inner.reset()

    def perform(self, event: str, params: dict[str, Any]) -> Any:
        self.sent.append((self.inner.model.snapshot(), event, dict(params)))
        return self.inner.perform(event, params)

    def close(self) -> None:
        pass


def test_every_refusal_of_an_acceptable_event_is_sent_with_its_condition_alone() -> None:
    recorder = Recorder()
    backend = Backend(lambda: recorder, SHIPPED, name="recorder")
    run = RunState(SHIPPED, backend, CheckOptions(backend="recorder"))
    assert sweep(run) is None
    semantics = semantics_of(SHIPPED)
    alone: set[str] = set()
    for snapshot, event, params in recorder.sent:
        holding = [r for r in semantics.applicable_refusals(snapshot, event)
                   if r.guard is None or r.guard(params, snapshot.values, snapshot.states)]
        if len(holding) == 1:
            alone.add(holding[0].rejection.id)
    registration = {r.id for r in SHIPPED.rejections
                    if r.event == "register" and r.guard is not None}
    assert registration <= alone, sorted(registration - alone)
    # The only refusals never sent alone are those of an unregistered customer that share
    # every reachable state with another unconditional refusal (logged out, no card).
    never = {r.id for r in SHIPPED.rejections} - alone
    assert all(r.startswith(("account.login_unregistered.",
                             "account.counter_service_unregistered.")) for r in never), never
