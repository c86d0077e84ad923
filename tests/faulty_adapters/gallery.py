"""A gallery of faulty adapters over the tiny spec (tests/harness_specs/tiny), one fault each.

Each ``make_*`` factory returns the hand-written ``TinyCard`` (tests/harness_specs/adapters.py)
with one way of misbehaving as a backend: it raises, hangs (in Python or in C), swallows the
deadline, answers garbage, ends the process, raises KeyboardInterrupt, is wrong once in a
while, observes malformed data, answers a crafted reason code, hangs in close(), or is slow.
tests/test_faulty_adapters.py gives the verdict and exit code each must get.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from authspec.harness.adapter import Observation, Response
from authspec.harness.backends import load_object

TinyCard = load_object(f"{Path(__file__).parent.parent / 'harness_specs' / 'adapters.py'}"
                       ":TinyCard")


class _FaultyUse(TinyCard):
    """The tiny card, with ``fault()`` in place of every accepted use of the card."""

    def perform(self, event: str, params: Mapping[str, Any]) -> Any:
        if event == "use" and self.card == "active" and params["pin"] == self.pin:
            return self.fault()
        return super().perform(event, params)

    def fault(self) -> Any:
        raise NotImplementedError


class Raising(_FaultyUse):
    def fault(self) -> Any:
        raise RuntimeError("database is locked")


class Hanging(_FaultyUse):
    def fault(self) -> Any:
        time.sleep(600)


class HangingInC(_FaultyUse):
    """Hours of PBKDF2: C code that no alarm interrupts."""

    def fault(self) -> Any:
        hashlib.pbkdf2_hmac("sha256", b"pin", b"salt", 2**31 - 1)


class SwallowingTheDeadline(_FaultyUse):
    """A bare except: around a hang, then an answer as if all went well."""

    def fault(self) -> Any:
        swallowed = 0
        try:
            time.sleep(600)
        except:  # noqa: E722 - the fault under test
            swallowed += 1
        return Response.ok() if swallowed else Response.rejected("wrong_pin")


class SwallowingEveryAlarm(_FaultyUse):
    """Catches every alarm and goes on hanging: only a worker process stops it."""

    def fault(self) -> Any:
        swallowed = 0
        while True:
            try:
                time.sleep(600)
            except BaseException:  # the fault under test
                swallowed += 1


class Garbage(_FaultyUse):
    def fault(self) -> Any:
        return "yes"


class ResponseNo(_FaultyUse):
    """``Response("no")``: a truthy str where a bool belongs."""

    def fault(self) -> Any:
        return Response("no")  # type: ignore[arg-type]


class SysExit(_FaultyUse):
    def fault(self) -> Any:
        sys.exit(0)


class OsExit(_FaultyUse):
    def fault(self) -> Any:
        sys.stdout.flush()
        os._exit(0)


class Interrupting(_FaultyUse):
    def fault(self) -> Any:
        raise KeyboardInterrupt


_calls = itertools.count(1)


class RarelyWrong(TinyCard):
    """Wrong once, on the 40th call of the process (the answer turned round): never again."""

    def perform(self, event: str, params: Mapping[str, Any]) -> Any:
        answer = super().perform(event, params)
        if next(_calls) != 40:
            return answer
        return Response.rejected("wrong_pin") if answer.accepted else Response.ok()


class MalformedStates(TinyCard):
    def observe(self) -> Any:
        return Observation(states=None)  # type: ignore[arg-type]


class MalformedVariables(TinyCard):
    def observe(self) -> Any:
        return Observation(states={"card": self.card},
                           variables={"card.uses": str(self.uses)})


class UnknownState(TinyCard):
    def observe(self) -> Any:
        return Observation(states={"card": "frozen"})


CRAFTED = '"""\nimport os; os.system("touch pwned")  # [bold]:100:'


class CraftedReason(TinyCard):
    """Refuses with a reason code the spec does not declare, made to break generated files."""

    def perform(self, event: str, params: Mapping[str, Any]) -> Any:
        answer = super().perform(event, params)
        return answer if answer.accepted else Response.rejected(CRAFTED)


class HangingClose(TinyCard):
    def close(self) -> None:
        time.sleep(600)


class Slow(TinyCard):
    """A correct card at a tenth of a second a call."""

    def perform(self, event: str, params: Mapping[str, Any]) -> Any:
        time.sleep(0.1)
        return super().perform(event, params)


def _factory(cls: type) -> Any:
    def make() -> Any:
        return cls()

    make.__name__ = f"make_{cls.__name__}"
    return make


make_raising = _factory(Raising)
make_hanging = _factory(Hanging)
make_hanging_in_c = _factory(HangingInC)
make_swallowing = _factory(SwallowingTheDeadline)
make_swallowing_every_alarm = _factory(SwallowingEveryAlarm)
make_garbage = _factory(Garbage)
make_response_no = _factory(ResponseNo)
make_sys_exit = _factory(SysExit)
make_os_exit = _factory(OsExit)
make_interrupting = _factory(Interrupting)
make_rarely_wrong = _factory(RarelyWrong)
make_malformed_states = _factory(MalformedStates)
make_malformed_variables = _factory(MalformedVariables)
make_unknown_state = _factory(UnknownState)
make_crafted_reason = _factory(CraftedReason)
make_hanging_close = _factory(HangingClose)
make_slow = _factory(Slow)
make_correct = _factory(TinyCard)
