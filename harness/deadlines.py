"""Calling an adapter with a deadline, in this process: on the main thread with SIGALRM, or
on a worker thread of its own.

``SignalRunner`` (the cheapest: two system calls a call) interrupts Python code and blocking
system calls on the main thread. An adapter that catches the alarm (a bare ``except:``) and
carries on is still a timeout: the runner records that the deadline passed, raises the
alarm again every ``REPEAT`` seconds while the call lasts, and fails the call when it
returns, whatever it returns. It also tells a Ctrl-C (a real SIGINT, re-raised) from a
``KeyboardInterrupt`` the adapter raises itself (a backend error).

``ThreadRunner`` runs every call on one daemon thread: the caller stops waiting at the
deadline even when the call is stuck in C code, but the stuck call keeps its thread.

Neither can stop an adapter that swallows every alarm, holds the GIL in C code, or ends the
process: ``isolated.ProcessRunner`` runs the adapter in a worker process killed at the
deadline. Every runner answers a ``CallResult``.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

#: seconds between the alarms raised again into a call that swallowed the first one
REPEAT = 0.25

Status = Literal["ok", "raised", "timeout", "died", "garbage", "notfound"]


@dataclass(frozen=True)
class CallResult:
    """How one call ended: ``ok`` (``value`` is the answer), ``raised`` (``value`` is the
    exception, or ``detail`` describes it when it was raised in another process),
    ``timeout``, ``died`` (the adapter's process ended) or ``garbage`` (``detail`` says what
    could not be taken as an answer)."""

    status: Status
    value: Any = None
    detail: str = ""


class Watch(Protocol):
    """Told what a run is doing, by a memory write (supervise.py's beacon, read by the
    supervising process)."""

    def step(self, steps: int) -> None:
        """``steps`` steps have been sent to the backend so far."""

    def call(self, deadline_at: float) -> None:
        """A call to the adapter must end by ``deadline_at`` (``time.monotonic()``); 0: no
        call in progress."""


def run_now(fn: Callable[..., Any], args: tuple[Any, ...]) -> CallResult:
    """Call ``fn(*args)`` without a deadline."""
    try:
        return CallResult("ok", fn(*args))
    except BaseException as error:  # reported to the caller, never lost
        return CallResult("raised", error)


_STOP = object()


class ThreadRunner:
    """One daemon thread running submitted calls in order."""

    def __init__(self, name: str):
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            fn, args, box, done = job
            box.append(run_now(fn, args))
            done.set()

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...],
             timeout: float | None) -> CallResult:
        box: list[CallResult] = []
        done = threading.Event()
        self._jobs.put((fn, args, box, done))
        if not done.wait(timeout):
            return CallResult("timeout", detail=f"no answer within {timeout:g} s")
        return box[0]

    def stop(self) -> None:
        self._jobs.put(_STOP)


class _Alarm(BaseException):
    """Raised by the SIGALRM handler into a call that overran its deadline."""


class SignalRunner:
    """Calls on the calling (main) thread, a deadline enforced with SIGALRM.

    Much cheaper than a thread hand-off (two system calls instead of two context
    switches per call); it interrupts Python code and blocking system calls, as
    pytest-timeout's signal method does. Handlers are installed once for the backend's
    life (not per call) and restored by ``stop``.
    """

    def __init__(self) -> None:
        self._armed = False
        self._expired_at: float | None = None
        self._interrupted = False
        self._previous: dict[int, Any] = {}

    @staticmethod
    def available() -> bool:
        return (hasattr(signal, "setitimer")
                and threading.current_thread() is threading.main_thread())

    def _install(self) -> None:
        if not self._previous:
            self._previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
            self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._on_interrupt)

    def _on_alarm(self, signum: int, frame: Any) -> None:
        if self._armed:
            if self._expired_at is None:
                self._expired_at = time.monotonic()
            raise _Alarm()

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        """A real SIGINT (Ctrl-C): remembered, then handled as before (KeyboardInterrupt)."""
        self._interrupted = True
        previous = self._previous.get(signal.SIGINT)
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...],
             timeout: float | None) -> CallResult:
        self._install()
        self._interrupted = False
        self._expired_at = None
        if not timeout:
            return self._classify(run_now(fn, args), None)
        started = time.monotonic()
        self._armed = True
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout, REPEAT)
            try:
                result = run_now(fn, args)
            finally:
                self._armed = False
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _Alarm:  # the alarm fired between the call's end and the disarming
            result = CallResult("timeout")
        return self._classify(result, timeout, started)

    def _classify(self, result: CallResult, timeout: float | None,
                  started: float = 0.0) -> CallResult:
        """A user's Ctrl-C goes on as KeyboardInterrupt; a deadline passed is a timeout,
        whatever the call answered once it ended."""
        if self._interrupted:  # even if the adapter caught it
            raise result.value if isinstance(result.value, KeyboardInterrupt) else (
                KeyboardInterrupt())
        if self._expired_at is None and result.status != "timeout":
            return result
        assert timeout is not None
        if result.status == "raised" and isinstance(result.value, _Alarm):
            return CallResult("timeout", detail=f"no answer within {timeout:g} s")
        took = time.monotonic() - started
        return CallResult("timeout", detail=(
            f"no answer within {timeout:g} s: the call caught the deadline's alarm and "
            f"carried on (a bare except: or except BaseException:?), returning after "
            f"{took:.1f} s; catch Exception, not BaseException, or check with "
            "--backend-mode process"))

    def stop(self) -> None:
        for signum, previous in self._previous.items():
            if previous is not None:  # None: a handler not installed from Python
                signal.signal(signum, previous)
        self._previous.clear()
