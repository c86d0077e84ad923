"""Find, start and guard the backend under test.

A backend is named on the command line in one of three ways:

``module:factory``
    Any importable callable returning an adapter (see adapter.py), e.g.
    ``mybank.testing:make_adapter``, found on the import path with the current folder at its
    end. A file path works too: ``path/to/file.py:factory``, imported with the file's folder
    first on the import path, so that a module beside it (its service, its helpers) imports
    as it would when the file is run as a script.
a registered short name
    ``model`` (the executable model itself, wrapped as an adapter: the model must conform
    to itself), any name a package declares in the entry-point group ``authspec.backends``
    (this project declares ``bank``, its reference bank), or ``FAMILY:NAME`` for a family
    declared in ``authspec.backend_families`` (``mutant:NAME``, a mutant of the bank). The
    engine itself names no backend but the model.

A factory is called with the keyword arguments among ``system`` (the loaded IR) and
``specs`` (the spec folder) that its signature accepts, so a backend that needs the spec
can get it and one that does not is called with no arguments. The options a user gives
(``--backend-option KEY=VALUE``, ``CheckOptions.backend_options``) are passed as keyword
arguments too, but strictly: ``check_backend_options`` refuses a key the factory's signature
does not take (unless it takes ``**kwargs``), naming the option and the parameters it takes.

A mutant set of a team's own (``--set path/to/faults.py:MUTANTS`` or ``module:factory``,
mutation.py) names its backends ``SET[NAME]``: ``faults.py:MUTANTS[skip_quota]`` is the
``factory`` of the mutant named ``skip_quota`` in the sequence ``MUTANTS``, and
``module:make_faulty[skip_quota]`` is ``make_faulty("skip_quota", ...)``.

``Backend`` runs every call to the adapter with a deadline per call: on the calling
thread with SIGALRM when that is the main thread (the default: cheapest), otherwise every
call, creation included, on one worker thread of its own (so thread-bound resources such
as SQLite connections stay on one thread), or on request in a worker process killed at
the deadline (``mode="process"``, isolated.py). It turns an exception (``sys.exit`` and
an adapter's own ``KeyboardInterrupt`` included), a hang, the end of the worker process or
a malformed answer (answers.py: a ``Response`` or ``Observation`` of the wrong types, a
reason code or a name the spec does not declare) into a ``BackendFailure``: a backend
error, never a nonconformance.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authspec.model import Executable, ModelError
from authspec.model.errors import AuthspecError
from authspec.model.ir import System

from .adapter import Observation, Response
from .answers import observation_problem, response_problem
from .codes import NO_CODES, Codes
from .deadlines import CallResult, SignalRunner, ThreadRunner, Watch
from .isolated import ProcessRunner, describe_exception

ENTRY_POINT_GROUP = "authspec.backends"
FAMILY_GROUP = "authspec.backend_families"
MUTANT_SET_GROUP = "authspec.mutant_sets"

#: short name -> ``module:factory``
REGISTRY: dict[str, str] = {
    "model": "authspec.harness.backends:make_model_adapter",
    "http": "authspec.harness.http_adapter:make_adapter",
}


class BackendNotFound(AuthspecError):
    """The backend name cannot be resolved or imported (a usage error: exit 2)."""


class BackendFailure(AuthspecError):
    """The backend failed to answer: an exception, a timeout or a garbage answer."""

    def __init__(self, kind: str, call: str, detail: str):
        self.kind = kind  # "exception" | "timeout" | "garbage" | "crash" (process ended)
        self.call = call  # "reset()", "perform(pay)", ...
        self.detail = detail
        super().__init__(f"backend {kind} in {call}: {detail}")


class BackendOptionError(BackendNotFound, ValueError):
    """A ``--backend-option`` the backend's factory does not take (a usage error: exit 2)."""


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


def _on_import_path(folder: Path, *, first: bool) -> None:
    """Put ``folder`` on ``sys.path`` (first, or last) unless it is there already."""
    entry = str(folder)
    if entry in sys.path:
        return
    if first:
        sys.path.insert(0, entry)
    else:
        sys.path.append(entry)


def load_object(spec: str) -> Any:
    """Import ``module:attribute`` (or ``path/to/file.py:attribute``, with the file's folder
    first on the import path)."""
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
            _on_import_path(path.resolve().parent, first=True)
            loader_spec.loader.exec_module(module)
        else:
            _on_import_path(Path.cwd(), first=False)
            module = importlib.import_module(module_name)
    except BackendNotFound:
        raise
    except SystemExit as error:
        raise BackendNotFound(f"importing {module_name} called sys.exit({error.code!r})"
                              ) from error
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
        return Fault(_callable(load_object(families[prefix]), name), argument)
    if name.endswith("]") and "[" in name:
        return _member(name)
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


@dataclass(frozen=True)
class Fault:
    """A factory that takes a fault name first, bound to one fault: called with keyword
    arguments, it calls ``factory(fault, **the ones its signature accepts)``."""

    factory: Callable[..., Any]
    fault: str

    def __call__(self, **kwargs: Any) -> Any:
        return _call_with_accepted(self.factory, kwargs, self.fault)


def _member(name: str) -> Callable[..., Any]:
    """``SET[NAME]``: the factory of mutant NAME of the sequence ``SET`` (``module:attr`` or
    ``file.py:attr``), or the fault factory ``SET`` bound to NAME (a ``Fault``)."""
    spec, _, rest = name[:-1].rpartition("[")
    if not spec or not rest:
        raise BackendNotFound(f"{name!r}: give SET[NAME], SET a module:attribute")
    found = load_object(spec)
    if callable(found):
        return Fault(found, rest)
    try:
        members = list(found)
    except TypeError:
        raise BackendNotFound(f"{spec} is neither a sequence of mutants nor a factory "
                              f"(got {type(found).__name__})") from None
    member = next((m for m in members if getattr(m, "name", None) == rest), None)
    if member is None:
        known = ", ".join(str(getattr(m, "name", "?")) for m in members) or "none"
        raise BackendNotFound(f"{spec} has no mutant named {rest!r} (known: {known})")
    return _callable(getattr(member, "factory", None), f"the factory of mutant {name}")


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


HARNESS_KEYWORDS = ("system", "specs")


def check_backend_options(factory: Callable[..., Any], name: str,
                          options: Sequence[tuple[str, Any]]) -> None:
    """Raise ``BackendOptionError`` unless ``factory`` takes every key of ``options`` as a
    keyword argument (a factory with ``**kwargs`` takes any; ``system`` and ``specs`` are
    the harness's own)."""
    keys = [key for key, _ in options]
    for key in keys:
        if key in HARNESS_KEYWORDS:
            raise BackendOptionError(f"--backend-option {key}: the harness itself gives the "
                                     f"factory {key!r}; use --specs for the spec folder")
    target, skip = (factory.factory, 1) if isinstance(factory, Fault) else (factory, 0)
    try:
        parameters = list(inspect.signature(target).parameters.values())[skip:]
    except (TypeError, ValueError):  # no signature to read: the factory will say
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    accepted = [p.name for p in parameters
                if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                              inspect.Parameter.KEYWORD_ONLY)]
    unknown = [key for key in keys if key not in accepted]
    if unknown:
        offered = [p for p in accepted if p not in HARNESS_KEYWORDS]
        called = getattr(target, "__qualname__", type(target).__name__)
        raise BackendOptionError(
            f"--backend-option {unknown[0]}: the factory of backend {name!r} ({called}) "
            f"takes no keyword argument {unknown[0]!r}; the options it takes: "
            f"{', '.join(offered) or 'none'}")


def instantiate(factory: Callable[..., Any], system: System, specs: str | Path | None,
                extra: Mapping[str, Any] | None = None) -> Any:
    """Make an adapter, passing ``system`` / ``specs`` (and the ``extra`` keyword arguments
    that are set, e.g. ``mapping`` and ``base_url``) if the factory takes them."""
    given = {k: v for k, v in (extra or {}).items() if v is not None}
    return _call_with_accepted(factory, {"system": system, "specs": specs, **given})


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


# -- the guarded adapter ----------------------------------------------------------------------

MODES = ("auto", "signal", "thread", "process")


class Backend:
    """A guarded adapter: every call has a deadline, every answer is type-checked
    (answers.py), and its failures are classified.

    ``timeout`` is in seconds per call (``None`` or 0: no deadline). ``mode`` says how
    the deadline is kept: ``"signal"`` (SIGALRM on the main thread, the default where
    available: cheapest; an adapter that catches the alarm and carries on is still a
    timeout), ``"thread"`` (every call, creation included, on one worker thread: works
    anywhere, and a hang in C code cannot block the run), ``"process"`` (the adapter in a
    worker process killed at the deadline, see isolated.py: the deadline holds whatever
    the adapter does, and an adapter that ends its process is a backend error; ``name``
    must then be a backend name the worker can resolve) or ``"auto"`` (signal, else
    thread). After a timeout the backend is *broken*: every later call fails at once.
    """

    def __init__(self, factory: Callable[..., Any], system: System,
                 specs: str | Path | None = None, *, timeout: float | None = 10.0,
                 name: str = "backend", mode: str = "auto", watch: Watch | None = None,
                 extra: Mapping[str, Any] | None = None, codes: Codes = NO_CODES,
                 outcome_only: bool = False):
        self.name = name
        self.watch = watch  # told each call's deadline (the supervisor's watchdog)
        self.codes = codes  # the backend's own codes, translated in every answer (codes.py)
        self.outcome_only = outcome_only  # --compare outcome: any reason code will do
        self.system = system
        self.timeout = timeout or None
        self.broken: BackendFailure | None = None
        self.mode = _mode(mode)
        self._reasons = tuple(sorted(r.code for r in system.reasons))
        self._remote: ProcessRunner | None = None
        self._local: ThreadRunner | SignalRunner | None = None
        try:
            self._create(factory, specs, extra)
        except BaseException:
            self._stop()
            raise

    def _create(self, factory: Callable[..., Any], specs: str | Path | None,
                extra: Mapping[str, Any] | None) -> None:
        if self.mode == "process":
            self._remote = ProcessRunner(self.name)
            started = self._remote.start(self.system, specs, self.timeout, extra,
                                         tuple(self.codes.table), self.outcome_only)
            if started.status == "notfound":
                raise BackendNotFound(started.detail)
            self.can_observe, self._can_close = self._result("create adapter", started)
            self.adapter: Any = None
            return
        self._local = (SignalRunner() if self.mode == "signal"
                       else ThreadRunner(f"authspec-backend-{self.name}"))
        self.adapter = self._call("create adapter", instantiate, factory, self.system, specs,
                                  extra)
        if not callable(getattr(self.adapter, "perform", None)) or not callable(
                getattr(self.adapter, "reset", None)):
            self.broken = BackendFailure(
                "garbage", "create adapter",
                f"the factory returned {type(self.adapter).__name__}, which has no "
                "reset() and perform(event, params)")
            raise self.broken
        self.can_observe = callable(getattr(self.adapter, "observe", None))
        self._can_close = callable(getattr(self.adapter, "close", None))

    def _call(self, what: str, fn: Callable[..., Any] | str, *args: Any,
              timeout: float | bool | None = True) -> Any:
        """Call the adapter's method ``fn`` (a name, or a function in this process)."""
        if self.broken is not None:
            raise BackendFailure(self.broken.kind, what,
                                 f"not called: the backend already failed in {self.broken.call}")
        deadline = self.timeout if timeout is True else (timeout or None)
        if self._remote is not None:
            assert isinstance(fn, str)
            return self._result(what, self._remote.call(fn, args, deadline))
        assert self._local is not None
        method = getattr(self.adapter, fn) if isinstance(fn, str) else fn
        watch = self.watch
        if watch is None or deadline is None:
            return self._result(what, self._local.call(method, args, deadline))
        watch.call(time.monotonic() + deadline)
        try:
            result = self._local.call(method, args, deadline)
        finally:
            watch.call(0.0)
        return self._result(what, result)

    def _result(self, what: str, result: CallResult) -> Any:
        """The answer, or the ``BackendFailure`` the call ended with."""
        if result.status == "ok":
            return result.value
        if result.status in ("timeout", "died"):
            kind = "timeout" if result.status == "timeout" else "crash"
            detail = result.detail or f"no answer within {self.timeout:g} s"
            self.broken = BackendFailure(kind, what, detail)
            raise self.broken
        if result.status == "garbage":
            raise BackendFailure("garbage", what, result.detail)
        error = result.value
        if error is None:  # raised in the worker process, described there
            raise BackendFailure("exception", what, result.detail)
        failure = BackendFailure("exception", what, _exception_detail(error))
        failure.__cause__ = error
        raise failure

    def reset(self) -> None:
        self._call("reset()", "reset")

    def perform(self, event: str, params: Mapping[str, Any]) -> Response:
        what = f"perform({event})"
        answer = self._call(what, "perform", event, dict(params))
        problem = response_problem(answer, None if self.outcome_only else self._reasons,
                                   self.codes.table)
        if problem is not None:
            raise BackendFailure("garbage", what, problem)
        return self.codes.translate(answer)

    def observe(self) -> Observation | None:
        if not self.can_observe:
            return None
        answer = self._call("observe()", "observe")
        problem = observation_problem(answer, self.system)
        if problem is not None:
            raise BackendFailure("garbage", "observe()", problem)
        return answer  # type: ignore[no-any-return]

    def declared_reason(self, reason: str | None) -> bool:
        return reason is None or reason in self._reasons

    def close(self) -> BackendFailure | None:
        """Close the adapter (within the deadline, 10 s without one) and stop the runner:
        the failure of ``close()`` (exception, timeout), or None."""
        problem = None
        if self.broken is None and getattr(self, "_can_close", False):
            try:
                self._call("close()", "close", timeout=self.timeout or 10.0)
            except BackendFailure as failure:
                problem = failure
        self._stop()
        return problem

    def _stop(self) -> None:
        if self._local is not None:
            self._local.stop()
        if self._remote is not None:
            self._remote.stop()


def _mode(mode: str) -> str:
    if mode not in MODES:
        raise BackendModeError(f"no backend mode {mode!r}: use one of {', '.join(MODES)}")
    if mode == "auto":
        return "signal" if SignalRunner.available() else "thread"
    if mode == "signal" and not SignalRunner.available():
        raise BackendModeError("the signal mode needs SIGALRM and the main thread: "
                               "use mode='thread', 'process' (or 'auto') elsewhere")
    return mode


def _exception_detail(error: BaseException) -> str:
    """An exception of the adapter; ``sys.exit`` and ``KeyboardInterrupt`` named as such."""
    detail = describe_exception(error)
    if isinstance(error, SystemExit):
        return (f"the adapter called sys.exit({error.code!r}): an adapter must not end the "
                f"process\n{detail}")
    if isinstance(error, KeyboardInterrupt):
        return ("the adapter raised KeyboardInterrupt (no Ctrl-C was pressed)\n" + detail)
    return detail


def open_backend(name: str, system: System, specs: str | Path | None = None, *,
                 timeout: float | None = 10.0, mode: str = "auto",
                 watch: Watch | None = None, extra: Mapping[str, Any] | None = None,
                 codes: Codes = NO_CODES, outcome_only: bool = False,
                 options: Sequence[tuple[str, Any]] = ()) -> Backend:
    """Resolve ``name`` and start the backend (BackendNotFound / BackendFailure on error);
    ``extra``: keyword arguments for factories that take them (``mapping``, ``base_url``);
    ``codes``: the backend's own codes (codes.py), translated in every answer;
    ``options``: the user's keyword arguments (``--backend-option``), which the factory
    must take (``check_backend_options``)."""
    factory = resolve_backend(name)
    if options:
        check_backend_options(factory, name, options)
        given = {k: v for k, v in (extra or {}).items() if v is not None}
        twice = sorted(set(given) & {key for key, _ in options})
        if twice:
            raise BackendOptionError(f"--backend-option {twice[0]}: given by another "
                                     "option already (--mapping, --base-url)")
        extra = {**given, **dict(options)}
    return Backend(factory, system, specs, timeout=timeout, name=name, mode=mode,
                   watch=watch, extra=extra, codes=codes, outcome_only=outcome_only)


__all__ = [
    "ENTRY_POINT_GROUP",
    "FAMILY_GROUP",
    "MUTANT_SET_GROUP",
    "REGISTRY",
    "Backend",
    "BackendFailure",
    "BackendNotFound",
    "BackendOptionError",
    "Fault",
    "ModelAdapter",
    "ModelError",
    "check_backend_options",
    "known_backends",
    "load_object",
    "make_model_adapter",
    "open_backend",
    "resolve_backend",
]
