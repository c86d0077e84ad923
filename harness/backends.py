"""Find, start and guard the backend under test.

A backend is named on the command line in one of three ways:

``module:factory``
    Any importable callable returning an adapter (see adapter.py), e.g.
    ``mybank.testing:make_adapter``. A file path works too: ``path/to/file.py:factory``.
a registered short name
    ``model`` (the executable model itself, wrapped as an adapter: the model must conform
    to itself), any name a package declares in the entry-point group ``authspec.backends``
    (this project declares ``bank``, its reference bank), or ``FAMILY:NAME`` for a family
    declared in ``authspec.backend_families`` (``mutant:NAME``, a mutant of the bank). The
    engine itself names no backend but the model.

A factory is called with the keyword arguments among ``system`` (the loaded IR) and
``specs`` (the spec folder) that its signature accepts, so a backend that needs the spec
can get it and one that does not is called with no arguments.

``Backend`` runs every call to the adapter with a deadline per call: on the calling
thread with SIGALRM when that is the main thread (the default: cheapest), otherwise every
call, creation included, on one worker thread of its own (so thread-bound resources such
as SQLite connections stay on one thread). It turns an exception, a hang or an answer
that is not a ``Response`` into a ``BackendFailure``: a backend error, never a
nonconformance.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from authspec.model import Executable, ModelError
from authspec.model.errors import AuthspecError
from authspec.model.ir import System

from .adapter import Observation, Response

ENTRY_POINT_GROUP = "authspec.backends"
FAMILY_GROUP = "authspec.backend_families"
MUTANT_SET_GROUP = "authspec.mutant_sets"

#: short name -> ``module:factory``
REGISTRY: dict[str, str] = {
    "model": "authspec.harness.backends:make_model_adapter",
}


class BackendNotFound(AuthspecError):
    """The backend name cannot be resolved or imported (a usage error: exit 2)."""


class BackendFailure(AuthspecError):
    """The backend failed to answer: an exception, a timeout or a garbage answer."""

    def __init__(self, kind: str, call: str, detail: str):
        self.kind = kind  # "exception" | "timeout" | "garbage"
        self.call = call  # "reset()", "perform(pay)", ...
        self.detail = detail
        super().__init__(f"backend {kind} in {call}: {detail}")


class BackendModeError(AuthspecError, ValueError):
    """A ``Backend`` asked for a way of keeping deadlines this process cannot offer."""


# -- resolution -------------------------------------------------------------------------------


def _entry_points(group: str = ENTRY_POINT_GROUP) -> dict[str, importlib.metadata.EntryPoint]:
    try:
        found = importlib.metadata.entry_points(group=group)
    except Exception:  # a broken distribution must not break the command line
        return {}
    return {ep.name: ep for ep in found}


def _families() -> dict[str, str]:
    """Short prefixes taking an argument: ``FAMILY:NAME`` -> ``module:factory`` (NAME)."""
    return {name: ep.value for name, ep in _entry_points(FAMILY_GROUP).items()}


def mutant_sets() -> dict[str, importlib.metadata.EntryPoint]:
    """Declared sets of mutants (``authspec.mutant_sets``): family name -> entry point."""
    return _entry_points(MUTANT_SET_GROUP)


def known_backends() -> dict[str, str]:
    """Every short name a user can give, with what it stands for."""
    names = dict(REGISTRY)
    names.update({f"{prefix}:NAME": target for prefix, target in _families().items()})
    names.update({name: ep.value for name, ep in _entry_points().items()})
    return names


def load_object(spec: str) -> Any:
    """Import ``module:attribute`` (or ``path/to/file.py:attribute``)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise BackendNotFound(f"{spec!r} is not of the form module:factory")
    try:
        if module_name.endswith(".py") or "/" in module_name:
            path = Path(module_name)
            if not path.is_file():
                raise BackendNotFound(f"no file {module_name}")
            name = f"_authspec_backend_{abs(hash(str(path.resolve())))}"
            loader_spec = importlib.util.spec_from_file_location(name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise BackendNotFound(f"cannot import {module_name}")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except BackendNotFound:
        raise
    except Exception as error:
        raise BackendNotFound(
            f"cannot import {module_name}: {type(error).__name__}: {error}") from error
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise BackendNotFound(f"{module_name} has no attribute {attribute!r}") from None
    return target


def resolve_backend(name: str) -> Callable[..., Any]:
    """The adapter factory a backend name stands for; ``BackendNotFound`` if there is none."""
    if not name:
        raise BackendNotFound("no backend named")
    if name in REGISTRY:
        return _callable(load_object(REGISTRY[name]), name)
    prefix, sep, argument = name.partition(":")
    families = _families()
    if sep and prefix in families:
        factory = _callable(load_object(families[prefix]), name)

        def parametric(**kwargs: Any) -> Any:
            return _call_with_accepted(factory, kwargs, argument)

        parametric.__name__ = f"{prefix}_{argument}"
        return parametric
    entry_points = _entry_points()
    if name in entry_points:
        try:
            loaded = entry_points[name].load()
        except Exception as error:
            raise BackendNotFound(f"entry point {name!r} ({entry_points[name].value}) "
                                  f"cannot be loaded: {error}") from error
        return _callable(loaded, name)
    if ":" not in name:
        known = ", ".join(sorted(known_backends()))
        raise BackendNotFound(f"unknown backend {name!r}: give module:factory or one of {known}")
    return _callable(load_object(name), name)


def _callable(target: Any, name: str) -> Callable[..., Any]:
    if not callable(target):
        raise BackendNotFound(f"{name} is not callable (got {type(target).__name__})")
    return target


def _call_with_accepted(factory: Callable[..., Any], kwargs: Mapping[str, Any],
                        *args: Any) -> Any:
    """Call ``factory`` with the keyword arguments its signature accepts."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return factory(*args)
    parameters = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return factory(*args, **kwargs)
    return factory(*args, **{k: v for k, v in kwargs.items() if k in parameters})


def instantiate(factory: Callable[..., Any], system: System, specs: str | Path | None) -> Any:
    """Make an adapter, passing ``system`` / ``specs`` if the factory takes them."""
    return _call_with_accepted(factory, {"system": system, "specs": specs})


# -- the model as a backend -------------------------------------------------------------------


class ModelAdapter:
    """The executable model wrapped as an adapter: a reference and a harness self-test."""

    def __init__(self, system: System):
        self.system = system
        self.model = Executable(system)
        self._secret = {v.qualified for v in system.variables if v.secret}

    def reset(self) -> None:
        self.model.reset()

    def perform(self, event: str, params: Mapping[str, Any]) -> Response:
        outcome = self.model.step(event, params)
        return Response(True) if outcome.accepted else Response(False, outcome.reason)

    def observe(self) -> Observation:
        return Observation(
            states=self.model.configuration,
            variables={k: v for k, v in self.model.values.items() if k not in self._secret})

    def close(self) -> None:
        pass


def make_model_adapter(system: System | None = None,
                       specs: str | Path | None = None) -> ModelAdapter:
    """Factory of the ``model`` backend."""
    if system is None:
        from authspec.model import load

        system = load(specs)
    return ModelAdapter(system)


# -- running calls on a worker thread with a deadline ----------------------------------------

_STOP = object()


class _Worker:
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
            try:
                box.append((True, fn(*args)))
            except BaseException as error:  # reported to the caller, never lost
                box.append((False, error))
            done.set()

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...],
             timeout: float | None) -> tuple[bool, bool, Any]:
        """Run ``fn(*args)``: (finished, ok, result-or-exception)."""
        box: list[tuple[bool, Any]] = []
        done = threading.Event()
        self._jobs.put((fn, args, box, done))
        if not done.wait(timeout):
            return False, False, None
        ok, value = box[0]
        return True, ok, value

    def stop(self) -> None:
        self._jobs.put(_STOP)


class _Alarm(BaseException):
    """Raised by the SIGALRM handler into a call that overran its deadline."""


class _SignalRunner:
    """Calls on the calling (main) thread, a deadline enforced with SIGALRM.

    Much cheaper than a thread hand-off (two system calls instead of two context
    switches per call); it interrupts Python code and blocking system calls, as
    pytest-timeout's signal method does.
    """

    def __init__(self) -> None:
        self._armed = False
        self._previous: Any = None
        self._installed = False

    def _install(self) -> None:
        """Install the SIGALRM handler once for the backend's life (not per call)."""
        if not self._installed:
            self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
            self._installed = True

    @staticmethod
    def available() -> bool:
        return (hasattr(signal, "setitimer")
                and threading.current_thread() is threading.main_thread())

    def _on_alarm(self, signum: int, frame: Any) -> None:
        if self._armed:
            self._armed = False
            raise _Alarm()

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...],
             timeout: float | None) -> tuple[bool, bool, Any]:
        if not timeout:
            try:
                return True, True, fn(*args)
            except BaseException as error:
                return True, False, error
        self._install()
        self._armed = True
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            result = fn(*args)
        except _Alarm:
            return False, False, None
        except BaseException as error:
            return True, False, error
        finally:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
        return True, True, result

    def stop(self) -> None:
        if self._installed:
            signal.signal(signal.SIGALRM, self._previous)
            self._installed = False


class Backend:
    """A guarded adapter: every call has a deadline and its failures are classified.

    ``timeout`` is in seconds per call (``None`` or 0: no deadline). ``mode`` says how
    the deadline is kept: ``"signal"`` (SIGALRM on the main thread, the default where
    available: cheapest), ``"thread"`` (every call, creation included, on one worker
    thread: works anywhere, and a hang in C code cannot block the run) or ``"auto"``.
    After a timeout the backend is *broken*: every later call fails at once.
    """

    def __init__(self, factory: Callable[..., Any], system: System,
                 specs: str | Path | None = None, *, timeout: float | None = 10.0,
                 name: str = "backend", mode: str = "auto"):
        self.name = name
        self.system = system
        self.timeout = timeout or None
        self.broken: BackendFailure | None = None
        if mode == "auto":
            mode = "signal" if _SignalRunner.available() else "thread"
        if mode == "signal" and not _SignalRunner.available():
            raise BackendModeError("the signal mode needs SIGALRM and the main thread: "
                                   "use mode='thread' (or 'auto') elsewhere")
        self.mode = mode
        self._worker: _Worker | _SignalRunner = (
            _SignalRunner() if mode == "signal" else _Worker(f"authspec-backend-{name}"))
        try:
            self.adapter = self._call("create adapter", instantiate, factory, system, specs)
        except BaseException:
            self._worker.stop()
            raise
        if not callable(getattr(self.adapter, "perform", None)) or not callable(
                getattr(self.adapter, "reset", None)):
            self.broken = BackendFailure(
                "garbage", "create adapter",
                f"the factory returned {type(self.adapter).__name__}, which has no "
                "reset() and perform(event, params)")
            raise self.broken
        observe = getattr(self.adapter, "observe", None)
        self.can_observe = callable(observe)
        self._reasons = {r.code for r in system.reasons}

    def _call(self, what: str, fn: Callable[..., Any], *args: Any,
              timeout: float | bool | None = True) -> Any:
        if self.broken is not None:
            raise BackendFailure(self.broken.kind, what,
                                 f"not called: the backend already failed in {self.broken.call}")
        deadline = self.timeout if timeout is True else (timeout or None)
        finished, ok, value = self._worker.call(fn, args, deadline)
        if not finished:
            self.broken = BackendFailure("timeout", what,
                                         f"no answer within {deadline:g} s")
            raise self.broken
        if not ok:
            if not isinstance(value, Exception):  # KeyboardInterrupt, SystemExit
                raise value
            text = "".join(traceback.format_exception_only(type(value), value)).strip()
            tb = "".join(traceback.format_tb(value.__traceback__)[-3:])
            failure = BackendFailure("exception", what, f"{text}\n{tb}".rstrip())
            failure.__cause__ = value
            raise failure
        return value

    def reset(self) -> None:
        self._call("reset()", self.adapter.reset)

    def perform(self, event: str, params: Mapping[str, Any]) -> Response:
        answer = self._call(f"perform({event})", self.adapter.perform, event, dict(params))
        if not isinstance(answer, Response):
            raise BackendFailure("garbage", f"perform({event})",
                                 f"answered {answer!r} ({type(answer).__name__}), "
                                 "not a Response")
        return answer

    def observe(self) -> Observation | None:
        if not self.can_observe:
            return None
        answer = self._call("observe()", self.adapter.observe)
        if answer is not None and not isinstance(answer, Observation):
            raise BackendFailure("garbage", "observe()",
                                 f"answered {answer!r} ({type(answer).__name__}), "
                                 "not an Observation or None")
        return answer

    def declared_reason(self, reason: str | None) -> bool:
        return reason is None or reason in self._reasons

    def close(self) -> None:
        """Close the adapter (best effort) and stop the worker."""
        close = getattr(self.adapter, "close", None) if hasattr(self, "adapter") else None
        if self.broken is None and callable(close):
            with contextlib.suppress(BackendFailure):
                self._call("close()", close, timeout=self.timeout or 10.0)
        self._worker.stop()


def open_backend(name: str, system: System, specs: str | Path | None = None, *,
                 timeout: float | None = 10.0, mode: str = "auto") -> Backend:
    """Resolve ``name`` and start the backend (BackendNotFound / BackendFailure on error)."""
    factory = resolve_backend(name)
    return Backend(factory, system, specs, timeout=timeout, name=name, mode=mode)


__all__ = [
    "ENTRY_POINT_GROUP",
    "FAMILY_GROUP",
    "MUTANT_SET_GROUP",
    "REGISTRY",
    "Backend",
    "BackendFailure",
    "BackendNotFound",
    "ModelAdapter",
    "ModelError",
    "known_backends",
    "load_object",
    "make_model_adapter",
    "open_backend",
    "resolve_backend",
]
