"""pytest plugin: run the authspec conformance check inside a team's own test suite.

Installed with authspec (entry point ``pytest11: authspec``). Two ways to use it:

The ``authspec_check`` fixture, in any test::

    def test_our_bank_conforms(authspec_check):
        result = authspec_check(backend="ourbank.testing:make_adapter", max_seconds=20)
        assert result.coverage.summary()["transitions"][0] > 0

It runs the check and fails the test with the minimal trace (plain text, secrets masked)
on a nonconformance or a backend error; it returns the ``CheckResult`` on a pass.

The ``--authspec-backend`` option, with no test to write: for each backend named (the
option may be repeated) it adds a collector ``authspec:<backend>`` holding one item per goal
of the sweep, ``sweep[<transition or refusal ID>]`` (that element made to happen once along
its route, with the refusals around it), and one item ``explore`` (the Hypothesis
exploration, without the sweep)::

    pytest --authspec-backend bank --authspec-max-seconds 20 --junitxml=report.xml -n 2

so ``-n 2`` spreads a check over the workers, and JUnit XML lists each goal as a test case
of the class ``authspec:<backend>``. A failure's message is the check's report with no line
broken inside a sentence.

A ``path/to/file.py:factory`` backend is imported with its file's folder first on the
import path (backends.load_object), so an adapter imports the modules beside it.

Budget options (``--authspec-examples``, ``--authspec-steps``, ``--authspec-max-seconds``,
``--authspec-seed``, ``--authspec-database``, ``--authspec-specs``) and
``--authspec-backend-option KEY=VALUE`` (repeatable, as ``--backend-option``) apply to both. JUnit
XML and pytest-xdist work as for any test: each item is self-contained (its own backend,
model and output folder), so items can run on different workers.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from authspec.model import SpecErrors, load
from authspec.model.ir import System

from .backends import BackendOptionError
from .options import CheckOptions, parse_backend_options
from .roadmap import Roadmap
from .run import CheckResult, check
from .strategies import analyse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("authspec", "authspec conformance checks")
    group.addoption("--authspec-backend", action="append", default=[],
                    help="add a conformance test of this backend (module:factory or a "
                         "registered name); may be repeated")
    group.addoption("--authspec-specs", default=None, help="spec folder")
    group.addoption("--authspec-examples", type=int, default=None, help="test cases")
    group.addoption("--authspec-steps", type=int, default=None, help="rules per test case")
    group.addoption("--authspec-max-seconds", type=float, default=None,
                    help="exploration budget per check")
    group.addoption("--authspec-seed", type=int, default=None, help="seed")
    group.addoption("--authspec-database", default=None,
                    help="example database: directory or redis:// URL (default: none)")
    group.addoption("--authspec-backend-option", action="append", default=[],
                    help="KEY=VALUE: a keyword argument of the backend factory (as "
                         "authspec check --backend-option); may be repeated")


def _options(config: pytest.Config, backend: str, out: Path,
             overrides: dict[str, Any]) -> CheckOptions:
    values: dict[str, Any] = {
        "backend": backend,
        "specs": config.getoption("--authspec-specs"),
        "database": config.getoption("--authspec-database"),
        "seed": config.getoption("--authspec-seed"),
        "out": str(out),
    }
    for name in ("examples", "steps", "max_seconds"):
        value = config.getoption(f"--authspec-{name.replace('_', '-')}")
        if value is not None:
            values[name] = value
    given = config.getoption("--authspec-backend-option")
    if given:
        try:
            values["backend_options"] = parse_backend_options(given)
        except BackendOptionError as error:
            raise pytest.UsageError(str(error)) from None
    values.update(overrides)
    return CheckOptions(**values)


#: wide enough that the console never breaks a line of the report: JUnit readers and CI
#: pages wrap text themselves, and a sentence broken at column 120 reads badly there
UNWRAPPED = 100_000


def describe(result: CheckResult, options: CheckOptions) -> str:
    """The report of a check as plain text (what ``authspec check`` prints), each line
    whole."""
    from .commands import print_result

    buffer = io.StringIO()
    console = Console(file=buffer, width=UNWRAPPED, no_color=True, highlight=False)
    print_result(console, result, options, show_coverage=False)
    return "\n".join(text.rstrip() for text in buffer.getvalue().splitlines()) + "\n"


def run_and_judge(options: CheckOptions, system: System | None = None) -> CheckResult:
    result = check(options, system=system)
    if result.status != "pass":
        pytest.fail(describe(result, options), pytrace=False)
    return result


@pytest.fixture
def authspec_check(request: pytest.FixtureRequest,
                   tmp_path: Path) -> Callable[..., CheckResult]:
    """Run a conformance check; fail the test on a nonconformance or backend error."""

    def run(backend: str | None = None, **overrides: Any) -> CheckResult:
        names = request.config.getoption("--authspec-backend")
        name = backend or (names[0] if names else None)
        if not name:
            raise pytest.UsageError("authspec_check needs backend=... or --authspec-backend")
        return run_and_judge(_options(request.config, name, tmp_path / "authspec", overrides))

    return run


class AuthspecItem(pytest.Item):
    """One part of a conformance check: a goal of the sweep, or the exploration."""

    def __init__(self, *, backend: str, goal: str | None, **kwargs: Any):
        super().__init__(**kwargs)
        self.backend = backend
        self.goal = goal  # None: the exploration item

    def runtest(self) -> None:
        part = "explore" if self.goal is None else _slug(self.goal)
        out = (Path(str(self.config.rootpath)) / ".authspec" / "pytest" / _slug(self.backend)
               / part)
        overrides: dict[str, Any] = (
            {"sweep": False} if self.goal is None else {"goals": (self.goal,), "explore": False})
        run_and_judge(_options(self.config, self.backend, out, overrides),
                      _system(self.config))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[str, int | None, str]:
        what = "exploration" if self.goal is None else f"sweep goal {self.goal}"
        return "authspec", None, f"conformance of {self.backend}: {what}"


class AuthspecBackend(pytest.Collector):
    """The check of one backend, split into items: one per goal of the sweep, then the
    exploration. Named without brackets, so that JUnit XML takes it as the class name."""

    def __init__(self, *, backend: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.backend = backend

    def collect(self) -> list[pytest.Item]:
        items: list[pytest.Item] = [
            AuthspecItem.from_parent(self, name=f"sweep[{goal}]", backend=self.backend,
                                     goal=goal) for goal in sweep_goals(_system(self.config))]
        items.append(AuthspecItem.from_parent(self, name="explore", backend=self.backend,
                                              goal=None))
        return items


def sweep_goals(system: System) -> list[str]:
    """The IDs of the sweep's goals (every transition and refusal), in the sweep's order."""
    return [goal.id for goal in Roadmap(system, analyse(system)).goals]


_SYSTEMS: dict[str | None, System] = {}


def _system(config: pytest.Config) -> System:
    """The spec the items check, loaded once per process (each xdist worker loads it)."""
    specs = config.getoption("--authspec-specs")
    if specs not in _SYSTEMS:
        try:
            _SYSTEMS[specs] = load(specs)
        except SpecErrors as errors:
            raise pytest.UsageError(f"--authspec-specs: the spec does not load:\n{errors}"
                                    ) from None
    return _SYSTEMS[specs]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    for backend in config.getoption("--authspec-backend"):
        name = f"authspec:{backend}"
        collector = AuthspecBackend.from_parent(session, name=name, nodeid=name,
                                                backend=backend)
        items.extend(collector.collect())
