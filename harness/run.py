"""Run a conformance check: load the spec, start the backend, let Hypothesis explore.

``check(options)`` returns a ``CheckResult`` (pass, fail or error) with the coverage, the
minimal failing trace or the backend error, and writes ``coverage.json`` and, on failure,
``failure.json`` (runfiles.py) and ``replay_<hash>.py`` (replay_file.py) into
``options.out`` (outputs.py: the folder is checked and an older run's files removed before
the run; ``on_verdict`` hears the verdict before the files are written, as one step).
``options`` (options.py) is the run's one configuration: every part of the run reads it
from the ``RunState``. Exit codes: 0 pass, 1 nonconformance, 2 usage
or backend error.

Budget: ``examples`` test cases of at most ``steps`` rules each, stopped early after
``max_seconds`` of exploration; shrinking a failure gets ``shrink_seconds`` more. With a
``seed`` the run is deterministic (given the same example database contents). Failures
are saved in the Hypothesis example database (a directory, or Redis for ``redis://``
URLs) under a key made of the spec's digest and the backend's name, and replayed first on
the next run.
"""

from __future__ import annotations

import contextlib
import time
import unittest
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase
from hypothesis.errors import Flaky
from hypothesis.stateful import get_state_machine_test

from authspec.model import SpecErrors, load
from authspec.model.errors import AuthspecError, SpecError
from authspec.model.ir import System

from .backends import Backend, BackendFailure, BackendModeError, BackendNotFound, open_backend
from .codes import COMPARE_MODES, Codes, load_codes
from .coverage import Coverage
from .deadlines import Watch
from .driver import RunState
from .http_mapping import load_mapping
from .machine import build_machine, class_name
from .minimise import minimise, replay, simplify
from .options import CheckOptions
from .outputs import prepare_out, write_run_files
from .records import BackendAbort, Failure, Nonconformance, RunOver, Step
from .replay_file import ReplayValueError
from .roadmap import Goal
from .runfiles import RunFileWriteError
from .sweep import sweep


class UsageError(AuthspecError):
    """A problem with what was asked (exit 2): bad option, unloadable spec, unknown backend."""


@dataclass
class CheckResult:
    status: str  # "pass" | "fail" | "flaky" (a failure whose replay passed) | "error"
    backend: str
    system: System | None
    coverage: Coverage | None
    elapsed: float
    examples: int = 0
    steps: int = 0
    failure: Failure | None = None
    time_to_failure: float | None = None
    error: BackendFailure | None = None
    error_steps: tuple[Step, ...] = ()
    usage: str | None = None
    stopped: str | None = None  # why exploration ended early
    notes: list[str] = field(default_factory=list)
    replay_path: Path | None = None
    failure_path: Path | None = None
    coverage_path: Path | None = None
    output_error: str | None = None  # a run file that could not be written (not a verdict)
    original: Failure | None = None  # flaky: the failure first found (``failure``: minimised)
    replayed: Failure | None = None  # flaky: what the replay of ``failure`` gave instead
    incomplete: list[str] = field(default_factory=list)  # goals the sweep reaches, never hit
    require_coverage: bool = False  # an incomplete pass exits 1

    @property
    def exit_code(self) -> int:
        if self.status == "pass":
            return 1 if self.incomplete and self.require_coverage else 0
        return {"fail": 1, "flaky": 1}.get(self.status, 2)


def open_database(spec: str | None) -> ExampleDatabase | None:
    """A Hypothesis example database from a directory path or a ``redis://`` URL."""
    if spec is None or spec.lower() in ("", "none", "off"):
        return None
    if spec.startswith(("redis://", "rediss://", "unix://")):
        try:
            import redis
            from hypothesis.extra.redis import RedisExampleDatabase
        except ImportError as error:
            raise UsageError(f"a Redis database needs the redis package: {error}") from error
        client = redis.Redis.from_url(spec)
        try:
            client.ping()
        except Exception as error:
            raise UsageError(f"cannot reach Redis at {spec}: {error}") from error
        return RedisExampleDatabase(client, key_prefix=b"authspec:")
    return DirectoryBasedExampleDatabase(spec)


def hypothesis_settings(options: CheckOptions,
                        database: ExampleDatabase | None) -> settings:
    return settings(
        max_examples=options.examples,
        stateful_step_count=options.steps,
        deadline=None,
        database=database,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,
        print_blob=False,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
    )


def check(options: CheckOptions, *,
          on_progress: Callable[[RunState], None] | None = None,
          system: System | None = None,
          on_verdict: Callable[[CheckResult], None] | None = None,
          watch: Watch | None = None) -> CheckResult:
    """Run one conformance check (see the module docstring); ``on_progress`` is called at
    each example and every 200 steps; ``watch`` (supervise.py's beacon) is told each step
    and each call's deadline; ``on_verdict`` is called with the result of a run once it is
    known, before its files are written."""
    started = time.monotonic()

    def usage(message: str) -> CheckResult:
        return CheckResult("error", options.backend, system, None,
                           time.monotonic() - started, usage=message)

    if options.examples < 1 or options.steps < 1:
        return usage("--examples and --steps must be at least 1")
    if system is None:
        try:
            system = load(options.specs)
        except SpecErrors as errors:
            return usage(f"the spec does not load:\n{errors}")
    try:
        database = open_database(options.database)
    except UsageError as error:
        return usage(str(error))
    if options.out:  # before the run: an output folder that cannot take the files
        problem = prepare_out(Path(options.out))
        if problem is not None:
            return usage(problem)
    codes = _codes_and_mapping(options, system)
    if isinstance(codes, str):
        return usage(codes)
    try:
        backend = open_backend(options.backend, system, options.specs,
                               timeout=options.timeout, mode=options.backend_mode,
                               watch=watch,
                               extra={"mapping": options.mapping, "base_url": options.base_url},
                               codes=codes, outcome_only=options.compare == "outcome",
                               options=options.backend_options)
    except (BackendNotFound, BackendModeError) as error:
        return usage(str(error))
    except BackendFailure as error:
        return CheckResult("error", options.backend, system, None,
                           time.monotonic() - started, error=error)
    try:
        result = _run(options, system, backend, database, (on_progress, watch), started)
    except BaseException:
        backend.close()
        raise
    _closed(result, backend.close())
    if on_verdict is not None:
        on_verdict(result)
    if options.out:
        _write_run_files(result, options, Path(options.out))
    return result


def _codes_and_mapping(options: CheckOptions, system: System) -> Codes | str:
    """The backend's own codes (--codes), once the codes file, the HTTP mapping and
    --compare are found sound; otherwise what is wrong with them (a usage error)."""
    try:
        codes = load_codes(options.codes, system)
    except (SpecErrors, SpecError) as errors:
        return f"the codes file does not load:\n{errors}"
    if options.backend == "http" and options.mapping is None:
        return ("--backend http needs --mapping FILE (the requests of each event; "
                "examples/http/reference-bank.yaml is an example)")
    if options.mapping is not None:
        try:
            load_mapping(options.mapping, system)
        except (SpecErrors, SpecError) as errors:
            return f"the mapping does not load:\n{errors}"
    if options.compare not in COMPARE_MODES:
        return f"--compare {options.compare}: give one of {', '.join(COMPARE_MODES)}"
    return codes


def _closed(result: CheckResult, failure: BackendFailure | None) -> None:
    """A ``close()`` that raised or hung: a backend error after a pass, a note otherwise."""
    if failure is None:
        return
    if result.status == "pass":
        result.status, result.error = "error", failure
    else:
        result.notes.append(f"then the backend failed in close(): {failure.kind}: "
                            f"{failure.detail}")


SWEEP_KEY = b"authspec-sweep:"


def _hypothesis(run: RunState, database: ExampleDatabase | None,
                phases: tuple[Phase, ...], pinned: Goal | None = None) -> Failure | None:
    """One Hypothesis run of the generated machine: the minimal failure, or None.

    ``BackendAbort`` and ``RunOver`` propagate to the caller."""
    machine = build_machine(run, pinned=pinned)
    config = hypothesis_settings(run.options, database)
    test = get_state_machine_test(machine, settings=settings(config, phases=phases))
    try:
        test()
    except unittest.SkipTest:  # nothing saved to replay
        return None
    except Nonconformance as error:
        return error.failure
    except Flaky as error:
        failure = run.best_failure()
        if failure is not None:
            run.notes.append("the failure did not reproduce on replay (a flaky backend?): "
                             f"{type(error).__name__}")
        return failure
    return None


def _sweep_key(options: CheckOptions, system: System) -> bytes:
    return SWEEP_KEY + class_name(system, options.backend).encode()


def _recorded_goal(database: ExampleDatabase | None, key: bytes,
                   goals: list[Goal]) -> Goal | None:
    if database is None:
        return None
    by_id = {g.id: g for g in goals}
    for value in database.fetch(key):
        goal = by_id.get(value.decode("utf-8", "replace"))
        if goal is not None:
            return goal
    return None


def _replay_saved(run: RunState, database: ExampleDatabase | None,
                  key: bytes) -> Failure | None:
    """Saved failures first: a goal the sweep once failed on, then Hypothesis's own."""
    recorded = _recorded_goal(database, key, _selected_goals(run))
    if recorded is not None:
        run.phase = "replay"
        found = sweep(run, [recorded])
        if found is not None:
            return found[0]
        if database is not None:
            database.delete(key, recorded.id.encode())
    if database is None or not run.options.explore:
        return None
    run.phase = "replay"
    return _hypothesis(run, database, (Phase.reuse, Phase.shrink))


def _sweep_all(run: RunState, database: ExampleDatabase | None,
               key: bytes) -> Failure | None:
    """The sweep: every transition and rejection once, along the roadmap's route; the goal
    it fails on is saved, to be replayed first next time."""
    if not (run.options.sweep and run.options.roadmap):
        return None
    run.phase = "sweep"
    found = sweep(run) if run.options.goals is None else _sweep_selected(run)
    if found is None:
        return None
    failure, goal = found
    if database is not None:
        database.save(key, goal.id.encode())
    return failure


def _selected_goals(run: RunState) -> list[Goal]:
    """The roadmap's goals ``options.goals`` names (all of them when it names none)."""
    wanted = run.options.goals
    return [g for g in run.roadmap.goals if wanted is None or g.id in wanted]


def _sweep_selected(run: RunState) -> tuple[Failure, Goal] | None:
    """The sweep of the selected goals only (one pytest item each), then the isolation
    pass of the refusals among them that could not be made to hold alone where they
    first can happen, as the whole sweep does."""
    found = sweep(run, _selected_goals(run))
    if found is None and run.not_isolated:
        found = sweep(run, [Goal("isolation", g.id, g.event) for g in run.not_isolated])
    return found


def _search(run: RunState, database: ExampleDatabase | None,
            result: CheckResult) -> Failure | None:
    """Replay, sweep, then explore, until a failure: the failure, or None (``result`` then
    says whether the backend failed or the budget ran out)."""
    key = _sweep_key(run.options, run.system)
    try:
        failure = _replay_saved(run, database, key) or _sweep_all(run, database, key)
        if failure is None and run.options.explore:
            run.phase = "explore"
            failure = _hypothesis(run, database, (Phase.generate, Phase.target, Phase.shrink))
        return failure
    except BackendAbort as abort:
        if run.failures:  # the backend failed while a failure was being shrunk
            run.notes.append(f"the backend failed while shrinking: {abort.error}")
            return run.best_failure()
        result.status, result.error, result.error_steps = "error", abort.error, abort.steps
    except RunOver as over:
        if run.failures:
            run.notes.append(f"{over.why}: Hypothesis stopped shrinking early; steps the "
                             "failure does not need were then deleted one by one")
            return run.best_failure()
        result.stopped = over.why
    return None


def _confirm(run: RunState, result: CheckResult) -> None:
    """Replay the minimal trace from a fresh start before reporting it: a failure that
    does not fail again is FLAKY (with the trace first found and the minimised one)."""
    failure = result.failure
    assert failure is not None
    run.phase = "confirm"
    steps = [(s.event, s.params) for s in failure.steps]
    try:
        again = replay(run, steps, shrink_budget=False)
    except (BackendAbort, RunOver) as stop:
        run.notes.append(f"the minimal trace could not be replayed to confirm it: {stop}")
        return
    if again is not None and _same(again, failure):
        return
    result.status, result.replayed = "flaky", again
    result.original = run.failures[0] if run.failures else failure


def _same(again: Failure, failure: Failure) -> bool:
    return (again.kind == failure.kind and len(again.steps) == len(failure.steps)
            and again.detail == failure.detail)


def never_reached(run: RunState) -> list[str]:
    """The goals (transitions, rejections) the sweep alone reaches that the run never
    exercised: a pass that leaves some is incomplete."""
    coverage, roadmap = run.coverage, run.roadmap
    missed = []
    for goal in _selected_goals(run):
        counts = coverage.transitions if goal.kind == "transition" else coverage.rejections
        if not counts.get(goal.id) and roadmap.find(goal) is not None:
            missed.append(goal.id)
    return missed


def _write_run_files(result: CheckResult, options: CheckOptions, out: Path) -> None:
    """coverage.json always; failure.json and the replay file on a failure (outputs.py).
    A file that cannot be written is ``result.output_error``: the verdict stands."""
    assert result.system is not None and result.coverage is not None
    specs = str(Path(options.specs).resolve()) if options.specs else None
    http = (options.mapping, options.base_url) if options.mapping else None
    try:
        written = write_run_files(out, result.system, result.coverage, result.failure,
                                  options.backend, specs, show_secrets=options.show_secrets,
                                  http=http, backend_options=options.backend_options)
    except (RunFileWriteError, ReplayValueError) as error:
        result.output_error = str(error)
        return
    result.coverage_path = written.coverage
    result.failure_path, result.replay_path = written.failure, written.replay


def _run(options: CheckOptions, system: System, backend: Backend,
         database: ExampleDatabase | None,
         hooks: tuple[Callable[[RunState], None] | None, Watch | None],
         started: float) -> CheckResult:
    run = RunState(system, backend, options, *hooks)
    result = CheckResult("pass", options.backend, system, run.coverage, 0.0)
    failure = _search(run, database, result)
    if failure is not None and options.shrink_seconds and result.status != "error":
        # Last, delete the steps the failure does not need.
        run.phase = "shrink"
        with contextlib.suppress(BackendAbort, RunOver):
            failure = minimise(run, failure, seconds=options.shrink_seconds / 2)
            failure = simplify(run, failure, seconds=options.shrink_seconds / 4)
    if failure is not None:
        result.status, result.failure = "fail", failure
        _confirm(run, result)
    elif result.status == "pass":
        result.incomplete = never_reached(run)
        result.require_coverage = options.require_coverage
    result.notes.extend(run.notes)
    result.elapsed = time.monotonic() - started
    result.examples, result.steps = run.examples, run.steps
    if run.first_failure_at is not None:
        result.time_to_failure = run.first_failure_at - run.started
    return result
