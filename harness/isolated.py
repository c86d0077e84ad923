"""The adapter in a worker process of its own, killed at the deadline (``--backend-mode
process``).

``ProcessRunner`` starts ``python -m authspec.harness.isolated`` and talks to it over two
pipes of its own (the worker's stdout and stderr stay the run's, so what the adapter prints
shows as before). The worker resolves the backend by its name, makes the adapter, and runs
each call it is sent; it checks each answer (answers.py) and sends back a plain
``Response`` or ``Observation`` (or what is wrong with the answer), and for an exception its
description. The runner waits for each answer until the deadline: a call that does not
answer in time has its worker killed (a hang in C code, an adapter that swallows every
alarm, a deadlock), and a worker that ends by itself (``os._exit``, ``sys.exit``, a crash
of the interpreter, a signal) is a backend error of its own, reported with the call.

The cost is one round trip between processes per call (tens of microseconds, and a second
or so to start the worker): use it for backends that may hang in C code or that may end
the process; the default modes (signal, thread) cost nearly nothing.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import traceback
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from authspec.model.ir import System

from .adapter import Observation, Response
from .answers import observation_problem, response_problem
from .deadlines import CallResult

#: seconds the worker gets to start (import the harness and the adapter's module)
START_SECONDS = 60.0


def describe_exception(error: BaseException) -> str:
    """The exception and the last frames of its traceback (the adapter's lines)."""
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    tb = "".join(traceback.format_tb(error.__traceback__)[-3:])
    return f"{text}\n{tb}".rstrip()


def ended(code: int | None) -> str:
    """How a process ended, from its return code."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"signal {name}"
    return f"exit code {code}"


class ProcessRunner:
    """The client side: one worker process per backend."""

    def __init__(self, name: str) -> None:
        self.name = name
        request_r, request_w = os.pipe()
        answer_r, answer_w = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "authspec.harness.isolated", str(request_r),
             str(answer_w)],
            pass_fds=(request_r, answer_w), stdin=subprocess.DEVNULL)
        os.close(request_r)
        os.close(answer_w)
        self._requests = Connection(request_w, readable=False)
        self._answers = Connection(answer_r, writable=False)

    def start(self, system: System, specs: str | Path | None, timeout: float | None,
              extra: Mapping[str, Any] | None = None,
              mapped: tuple[str, ...] = (), outcome_only: bool = False) -> CallResult:
        """Make the adapter in the worker: ok with (can_observe, can_close). ``extra``: the
        factory's keyword arguments; ``mapped``: the backend codes a codes file translates."""
        request = ("create", self.name, system, None if specs is None else str(specs),
                   list(sys.path), dict(extra or {}), mapped, outcome_only)
        return self._ask(request, max(timeout or 0.0, START_SECONDS))

    def call(self, method: str, args: tuple[Any, ...], timeout: float | None) -> CallResult:
        return self._ask(("call", method, args), timeout)

    def _ask(self, request: tuple[Any, ...], timeout: float | None) -> CallResult:
        try:
            self._requests.send(request)
            if not self._answers.poll(timeout):
                self._kill()
                return CallResult("timeout", detail=(
                    f"no answer within {timeout:g} s: the adapter's worker process was "
                    "killed"))
            status, value, detail = self._answers.recv()
        except (EOFError, OSError, pickle.UnpicklingError):
            return CallResult("died", detail=self._death())
        return CallResult(status, value, detail)

    def _death(self) -> str:
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            self._kill()
            code = self.process.returncode
        return (f"the adapter's worker process ended ({ended(code)}) without answering "
                "(os._exit, sys.exit, a crash of the interpreter, or a signal)")

    def _kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """Ask the worker to end, and kill it if it does not."""
        for connection in (self._requests, self._answers):
            with contextlib.suppress(OSError):
                connection.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self._kill()


# -- the worker side ---------------------------------------------------------------------


class _Worker:
    """Holds the adapter and answers the requests, one at a time."""

    def __init__(self) -> None:
        self.adapter: Any = None
        self.system: System | None = None
        self.reasons: tuple[str, ...] | None = ()
        self.mapped: tuple[str, ...] = ()

    def create(self, name: str, system: System, specs: str | None, path: list[str],
               extra: Mapping[str, Any], mapped: tuple[str, ...],
               outcome_only: bool) -> tuple[str, Any, str]:
        from .backends import BackendNotFound, instantiate, resolve_backend

        sys.path[:] = path
        self.system = system
        self.reasons = tuple(sorted(r.code for r in system.reasons))
        self.mapped = mapped
        if outcome_only:
            self.reasons = None
        try:
            factory = resolve_backend(name)
        except BackendNotFound as error:
            return "notfound", None, str(error)
        self.adapter = instantiate(factory, system, specs, extra)
        return "ok", (callable(getattr(self.adapter, "observe", None)),
                      callable(getattr(self.adapter, "close", None))), ""

    def call(self, method: str, args: tuple[Any, ...]) -> tuple[str, Any, str]:
        answer = getattr(self.adapter, method)(*args)
        if method == "perform":
            return self._plain_response(answer)
        if method == "observe":
            return self._plain_observation(answer)
        return "ok", None, ""

    def _plain_response(self, answer: Any) -> tuple[str, Any, str]:
        problem = response_problem(answer, self.reasons, self.mapped)
        if problem is not None:
            return "garbage", None, problem
        return "ok", Response(answer.accepted, answer.reason), ""

    def _plain_observation(self, answer: Any) -> tuple[str, Any, str]:
        assert self.system is not None
        problem = observation_problem(answer, self.system)
        if problem is not None:
            return "garbage", None, problem
        if answer is None:
            return "ok", None, ""
        return "ok", Observation(
            states={str(k): str(v) for k, v in answer.states.items()},
            variables={str(k): _plain(v) for k, v in answer.variables.items()}), ""


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    return str(value)


def _answer(worker: _Worker, request: tuple[Any, ...]) -> tuple[str, Any, str]:
    try:
        if request[0] == "create":
            return worker.create(*request[1:])
        return worker.call(*request[1:])
    except BaseException as error:  # sys.exit and KeyboardInterrupt included
        return "raised", None, describe_exception(error)


def serve(requests: Connection, answers: Connection) -> None:
    """Answer requests until the client closes its end."""
    worker = _Worker()
    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return
        answers.send(_answer(worker, request))


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the run's to handle
    requests = Connection(int(argv[0]), writable=False)
    answers = Connection(int(argv[1]), readable=False)
    os.set_inheritable(requests.fileno(), False)
    os.set_inheritable(answers.fileno(), False)
    serve(requests, answers)


if __name__ == "__main__":
    main(sys.argv[1:])
