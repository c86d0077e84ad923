"""``authspec check`` under supervision: the run in a child process, the verdict through a pipe.

An adapter runs inside the check's process, so it can end that process: ``sys.exit(0)``,
``os._exit(0)``, a crash of the interpreter, a signal. A verdict must not be faked that way,
so the ``check`` command runs the whole check in a child (``python -m
authspec.harness.supervise``) and exits 0 only on the PASS verdict the child reports
through a pipe of its own, once it has printed it. The child prints to the inherited
stdout and stderr, progress display included (or, when the command's own streams are not
files, as under a test runner, through pipes the parent copies). A child that ends without
a verdict is a backend error (exit 2): ``the run ended without a verdict (exit code N /
signal S) at step K of the run``, K the last step sent to the backend (counted over all
the run's examples, the one in progress included; ``before its first step`` when none
was), read from a small shared
*beacon* file the child updates at each step (a memory write, no system call). A Ctrl-C
stops the child, whose report says so (exit 130); a second one kills it.

The cost is one interpreter start (about a second) per check, nothing per call. Python
callers of ``run.check`` keep an in-process API.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import mmap
import os
import secrets
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .isolated import ended
from .options import CheckOptions

BEACON_FORMAT = "<Qd"  # steps sent, the current call's deadline (monotonic; 0: none)
BEACON_SIZE = 64
#: seconds past a call's deadline before the parent kills a child that did not stop it
GRACE_SECONDS = 2.0
#: the exit code of a check that ended without a verdict (a backend error)
NO_VERDICT_EXIT = 2
INTERRUPTED_EXIT = 130
#: how often the parent looks whether the child ended while the verdict pipe is silent
POLL_SECONDS = 0.5


class Beacon:
    """The child's side of the shared beacon (a ``deadlines.Watch``): the steps sent so far
    and the deadline of the call in progress, each a memory write."""

    def __init__(self, path: str) -> None:
        with open(path, "r+b") as file:
            self._map = mmap.mmap(file.fileno(), BEACON_SIZE)

    def step(self, steps: int) -> None:
        struct.pack_into("<Q", self._map, 0, steps)

    def call(self, deadline_at: float) -> None:
        struct.pack_into("<d", self._map, 8, deadline_at)


def _read_beacon(path: Path) -> tuple[int, float]:
    """(steps sent, the current call's deadline or 0)."""
    try:
        data = path.read_bytes()[:struct.calcsize(BEACON_FORMAT)]
        steps, deadline = struct.unpack(BEACON_FORMAT, data)
        return int(steps), float(deadline)
    except (OSError, struct.error):
        return 0, 0.0


# -- the parent ------------------------------------------------------------------------------


def _fileno(stream: IO[str]) -> int | None:
    """The file descriptor behind a stream, or None (a test runner's capture)."""
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _relay(source: IO[bytes], target: IO[str]) -> threading.Thread:
    """Copy a child's output into a stream that is not a file (as it comes)."""

    def copy() -> None:
        for line in iter(source.readline, b""):
            target.write(line.decode("utf-8", "replace"))
            target.flush()
        source.close()

    thread = threading.Thread(target=copy, name="authspec-relay", daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def _interrupts_to(process: subprocess.Popen[bytes]) -> Iterator[list[int]]:
    """While waiting: a first Ctrl-C is the child's to report, a second kills it (the
    list yielded holds the Ctrl-Cs received)."""
    pressed: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return

    def on_interrupt(signum: int, frame: Any) -> None:
        pressed.append(signum)
        if len(pressed) > 1:
            process.kill()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


def _overran(beacon: Path) -> bool:
    """Whether the call in progress is past its deadline and grace: a call that neither
    the alarm nor the thread's deadline stopped (C code holding the main thread, an adapter
    swallowing every alarm)."""
    deadline = _read_beacon(beacon)[1]
    return bool(deadline) and time.monotonic() > deadline + GRACE_SECONDS


def _read_verdict(fd: int, process: subprocess.Popen[bytes], beacon: Path) -> tuple[bytes,
                                                                                   bool]:
    """Everything the child wrote on the verdict pipe, until it ended (even if a process
    it forked still holds the pipe open), and whether it was killed for a call that
    overran its deadline."""
    chunks = []
    killed = False
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while True:
            ready, _, _ = select.select([pipe], [], [], POLL_SECONDS)
            if ready:
                chunk = pipe.read(4096)
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                os.set_blocking(fd, False)
                with contextlib.suppress(BlockingIOError, TypeError):
                    chunks.append(pipe.read(4096) or b"")
                break
            elif not killed and _overran(beacon):
                process.kill()
                killed = True
    process.wait()
    return b"".join(chunks), killed


def _verdict(data: bytes, token: str) -> dict[str, Any] | None:
    for line in data.splitlines():
        try:
            verdict = json.loads(line)
        except ValueError:
            continue
        if isinstance(verdict, dict) and verdict.get("token") == token:
            return verdict
    return None


def supervised_check(options: CheckOptions, *, show_coverage: bool = True) -> int:
    """Run the check in a child process; its exit code, 0 only on a reported PASS."""
    token = secrets.token_hex(16)
    read_fd, write_fd = os.pipe()
    with tempfile.TemporaryDirectory(prefix="authspec-beacon-") as folder:
        beacon = Path(folder) / "beacon"
        beacon.write_bytes(bytes(BEACON_SIZE))
        payload = {"options": dataclasses.asdict(options), "show_coverage": show_coverage,
                   "token": token, "verdict_fd": write_fd, "beacon": str(beacon),
                   "path": list(sys.path)}
        sys.stdout.flush()
        sys.stderr.flush()
        out, err = _fileno(sys.stdout), _fileno(sys.stderr)
        process = subprocess.Popen(
            [sys.executable, "-m", "authspec.harness.supervise", json.dumps(payload)],
            pass_fds=(write_fd,), stdout=subprocess.PIPE if out is None else out,
            stderr=subprocess.PIPE if err is None else err)
        os.close(write_fd)
        relays = [_relay(stream, target) for stream, target in
                  ((process.stdout, sys.stdout), (process.stderr, sys.stderr))
                  if stream is not None]
        with _interrupts_to(process) as pressed:
            data, killed = _read_verdict(read_fd, process, beacon)
        for relay in relays:
            relay.join(5)
        steps = _read_beacon(beacon)[0]
    if killed:
        _say(f"backend error: timeout {run_position(steps)}: a call to the backend went "
             f"{GRACE_SECONDS:g} s past its deadline (--timeout {options.timeout or 0:g}) "
             "without yielding to the alarm (a hang in C code, or an adapter that swallows "
             "every alarm): the check was stopped; --backend-mode process kills such a call "
             "and reports its trace")
        return NO_VERDICT_EXIT
    return _exit_code(_verdict(data, token), process.returncode, steps, bool(pressed))


def _exit_code(verdict: dict[str, Any] | None, code: int, steps: int,
               interrupted: bool) -> int:
    """The command's exit code; what to say when the child gave no verdict."""
    if verdict is not None and verdict.get("status") != "interrupted":
        return int(verdict["exit"])
    if verdict is not None or interrupted:
        _say(f"interrupted {run_position(steps)}: no verdict")
        return INTERRUPTED_EXIT
    _say(f"backend error: the run ended without a verdict ({ended(code)}) "
         f"{run_position(steps)}: the backend ended the process (os._exit, sys.exit in a thread, a "
         "crash of the interpreter, a signal); check it with --backend-mode process to "
         "see the call")
    return NO_VERDICT_EXIT


def run_position(steps: int) -> str:
    """Where the run was, from the beacon's count of steps sent: the count runs over all
    the run's examples (a trace printed by the child numbers the steps of one example)."""
    if steps == 0:
        return "before its first step"
    return f"at step {steps} of the run (counted over all its examples)"


def _say(text: str) -> None:
    from authspec.model.commands import console

    console().print(text, markup=False, highlight=False)


# -- the child -------------------------------------------------------------------------------


def child(payload: dict[str, Any]) -> None:
    """Run the check, print its result, then report the verdict and end at once."""
    from authspec.model.commands import console

    from .commands import run_check

    sys.path[:] = payload["path"]
    verdict_fd = int(payload["verdict_fd"])
    os.set_inheritable(verdict_fd, False)
    options = CheckOptions(**payload["options"])
    try:
        result = run_check(options, console(), show_coverage=payload["show_coverage"],
                           watch=Beacon(payload["beacon"]))
        verdict = {"status": result.status, "exit": result.exit_code}
    except KeyboardInterrupt:
        verdict = {"status": "interrupted", "exit": INTERRUPTED_EXIT}
    sys.stdout.flush()
    sys.stderr.flush()
    verdict["token"] = payload["token"]
    os.write(verdict_fd, json.dumps(verdict).encode() + b"\n")
    # Nothing of the adapter's runs after the verdict (atexit hooks, threads left behind).
    os._exit(0)


if __name__ == "__main__":
    child(json.loads(sys.argv[1]))
