"""Mutation testing: the conformance check against every mutant of a declared mutant set.

A package declares a mutant set in the entry-point group ``authspec.mutant_sets`` (the
reference bank's is ``authspec.bank.mutants:MUTANTS``): a sequence of mutants, each with a
``name``, the ``rules`` it breaks and optionally the spec ``invariants`` it targets; its
backends are named ``FAMILY:NAME``. Without a name, ``load_mutant_set`` takes the only
declared set or, when several are declared, the one named ``mutant`` (``DEFAULT_SET``, the
reference bank's). A set belongs to the specs its module names in an optional ``SPECS``
attribute beside the sequence (a folder or system file, relative to the module's file):
``mutant_set_specs``; the reference bank's isolation set (``authspec.bank.isolation_mutants``)
says ``SPECS = "../examples/two_customers"``, a set without it belongs to the shipped specs
(or, for a team's own, to the specs a check would use). ``load_mutant_set`` finds and loads a set,
``run_mutants`` checks each mutant and returns a ``MutationReport`` (which mutants were
killed, how fast, the rules and invariants no mutant targets, the table as Markdown).
``authspec mutants`` (commands.py) prints it; it is as usable from Python::

    family, mutants = load_mutant_set(None)
    report = run_mutants(family, mutants, CheckOptions(backend="", seed=0, database=None))
    assert not report.survivors

A team's own fault-injected builds need no entry point: ``load_mutant_set`` also takes
``module:NAME`` or ``path/to/file.py:NAME``, NAME either a sequence of mutants (each with a
``name``, its ``rules`` and a ``factory`` making its adapter, as the bank's) or a factory
taking a fault name first (``make_faulty(fault, **keywords)``), run once per fault name
given (``--mutant NAME``). Their backends are named ``SET[NAME]`` (backends.py).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from authspec.model.errors import AuthspecError
from authspec.model.ir import System, citation_order

from .backends import BackendNotFound, load_object, mutant_sets
from .options import CheckOptions
from .run import CheckResult, check


class Mutant(Protocol):
    """What the harness reads of a mutant (``authspec.bank.mutants.Mutant`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def rules(self) -> Sequence[str]: ...


class MutantSetError(AuthspecError, ValueError):
    """No usable mutant set or selection: what was asked for and what is declared."""


OBSERVED = "observed"
BLACK_BOX = "black box"  # without the adapter's observe() (--no-observe)


@dataclass(frozen=True)
class MutantRun:
    """One mutant and the result of checking it (in ``mode``: observed or black box)."""

    mutant: Mutant
    result: CheckResult
    mode: str = OBSERVED

    @property
    def killed(self) -> bool:
        return self.result.status == "fail"


@dataclass(frozen=True)
class MutationReport:
    """The runs of one mutant set, in order; ``error`` is a run that ended in an error."""

    family: str
    runs: tuple[MutantRun, ...]
    seconds: float
    gaps: tuple[str, ...]
    mode: str = OBSERVED
    black_box: MutationReport | None = None  # the same mutants without observe()

    @property
    def error(self) -> CheckResult | None:
        own = next((r.result for r in self.runs if r.result.status == "error"), None)
        return own if own is not None or self.black_box is None else self.black_box.error

    @property
    def survivors(self) -> list[str]:
        """The mutants that survived, in either mode."""
        own = [r.mutant.name for r in self.runs if not r.killed]
        other = self.black_box.survivors if self.black_box is not None else []
        return list(dict.fromkeys([*own, *other]))

    def summary(self) -> str:
        survivors = [r.mutant.name for r in self.runs if not r.killed]
        text = (f"{len(self.runs) - len(survivors)}/{len(self.runs)} killed in "
                f"{self.seconds:.0f} s"
                + (f" ({self.mode})" if self.mode != OBSERVED or self.black_box else "")
                + (f"; survivors: {', '.join(survivors)}" if survivors else ""))
        if self.black_box is not None:
            text += f"; {self.black_box.summary()}"
        return text

    def markdown(self) -> str:
        other = ({r.mutant.name: r.result for r in self.black_box.runs}
                 if self.black_box is not None else None)
        return mutant_markdown([(r.mutant, r.result) for r in self.runs], self.summary(),
                               list(self.gaps), black_box=other)


@dataclass(frozen=True)
class NamedFault:
    """A mutant of a factory set: a fault name (the rules it breaks are not known)."""

    name: str
    rules: tuple[str, ...] = ()


def is_own_set(family: str) -> bool:
    """Whether a family is a team's own set (``module:NAME``), not an entry point."""
    return ":" in family


def mutant_backend(family: str, name: str) -> str:
    """The backend name of mutant ``name`` of ``family``: ``FAMILY:NAME`` for a declared
    set, ``SET[NAME]`` for a team's own (see backends.py)."""
    return f"{family}[{name}]" if is_own_set(family) else f"{family}:{name}"


#: the set ``authspec mutants`` runs without ``--set`` when several sets are declared
DEFAULT_SET = "mutant"
#: the module attribute naming the specs a mutant set belongs to
SPECS_ATTRIBUTE = "SPECS"


def default_set_name(declared: Iterable[str]) -> str | None:
    """The set to run when none is named: the only one declared, else ``DEFAULT_SET`` when
    it is declared, else None (the user must choose)."""
    names = list(declared)
    if len(names) == 1:
        return names[0]
    return DEFAULT_SET if DEFAULT_SET in names else None


def load_mutant_set(name: str | None, faults: Sequence[str] = ()) -> tuple[str, list[Mutant]]:
    """The family name and mutants of a declared set (``name`` omitted: ``default_set_name``
    of the declared ones), or of a team's own set ``module:NAME`` (``faults``: the fault
    names to give a factory set)."""
    if name is not None and is_own_set(name):
        return name, own_set(name, faults)
    if faults:
        raise MutantSetError("--mutant names the faults of a factory set (--set "
                             "module:factory); to select mutants of a declared set use --only")
    sets = mutant_sets()
    family = name or default_set_name(sets)
    if family is None or family not in sets:
        known = ", ".join(sorted(sets)) or "none declared"
        raise MutantSetError(f"name a mutant set with --set (known: {known}); a package "
                             "declares one in the entry-point group 'authspec.mutant_sets'")
    try:
        mutants = sets[family].load()
    except Exception as error:
        raise MutantSetError(f"cannot load mutant set {family!r}: {error}") from error
    return family, list(mutants)


def mutant_set_specs(family: str) -> Path | None:
    """The specs the declared mutant set ``family`` belongs to: its module's ``SPECS``
    (resolved against the module's folder), or None when it says none (or ``family`` is
    a team's own set, or not declared)."""
    entry = None if is_own_set(family) else mutant_sets().get(family)
    if entry is None:
        return None
    try:
        module = importlib.import_module(entry.module)
    except Exception as error:
        raise MutantSetError(f"cannot load mutant set {family!r}: {error}") from error
    declared = getattr(module, SPECS_ATTRIBUTE, None)
    if declared is None:
        return None
    if not isinstance(declared, str | Path):
        raise MutantSetError(f"mutant set {family!r}: {entry.module}.{SPECS_ATTRIBUTE} must "
                             f"be a path (str or Path), not {type(declared).__name__}")
    path = Path(declared)
    if not path.is_absolute() and getattr(module, "__file__", None):
        path = Path(str(module.__file__)).resolve().parent / path
    path = Path(os.path.normpath(path))
    if not path.exists():
        raise MutantSetError(f"mutant set {family!r} belongs to the specs at {path} "
                             f"({entry.module}.{SPECS_ATTRIBUTE}), which do not exist here "
                             "(an installation without them): pass --specs")
    return path


def own_set(spec: str, faults: Sequence[str]) -> list[Mutant]:
    """The mutants of ``module:NAME``: a sequence of mutants, or one ``NamedFault`` per name in
    ``faults`` for a factory taking a fault name first."""
    try:
        found = load_object(spec)
    except BackendNotFound as error:
        raise MutantSetError(f"cannot load mutant set {spec!r}: {error}") from error
    if callable(found):
        if not faults:
            raise MutantSetError(f"{spec} is a factory: name the faults to give it with "
                                 "--mutant NAME (repeatable)")
        return [_named_fault(fault) for fault in dict.fromkeys(faults)]
    if faults:
        raise MutantSetError(f"{spec} is a sequence of mutants, not a factory: select "
                             "among them with --only, not --mutant")
    try:
        mutants = list(found)
    except TypeError:
        raise MutantSetError(f"{spec} is neither a sequence of mutants nor a factory taking "
                             f"a fault name (got {type(found).__name__})") from None
    for index, mutant in enumerate(mutants):
        problem = _mutant_problem(mutant)
        if problem is not None:
            raise MutantSetError(f"{spec}: item {index} ({mutant!r:.60}) {problem}")
    return mutants


def _named_fault(text: str) -> NamedFault:
    """``NAME`` or ``NAME=R1,R2`` (the rules the fault breaks, for the table and the gaps)."""
    name, _, rules = text.partition("=")
    if not name.strip():
        raise MutantSetError(f"--mutant {text!r}: give NAME or NAME=R1,R2")
    return NamedFault(name.strip(), tuple(r.strip() for r in rules.split(",") if r.strip()))


def _mutant_problem(mutant: object) -> str | None:
    """What a mutant of a team's own set lacks, or None."""
    if not isinstance(getattr(mutant, "name", None), str):
        return "has no name (a str)"
    rules = getattr(mutant, "rules", None)
    if isinstance(rules, str) or not isinstance(rules, Sequence):
        return "has no rules (a sequence of rule IDs; () when none)"
    if not callable(getattr(mutant, "factory", None)):
        return "has no factory (a callable making its adapter)"
    return None


def select_mutants(mutants: Sequence[Mutant], only: Sequence[str] | None) -> list[Mutant]:
    """The mutants named in ``only`` (all of them when it is empty); at least one."""
    selected = [m for m in mutants if not only or m.name in only]
    if not selected:
        raise MutantSetError("no mutant selected")
    return selected


def run_mutants(family: str, mutants: Sequence[Mutant], options: CheckOptions, *,
                out: Path | None = None,
                on_result: Callable[[MutantRun], None] | None = None) -> MutationReport:
    """Check each mutant with ``options`` (its backend replaced by ``mutant_backend``, its
    output folder by ``out/mutants/NAME``, or ``out/mutants-black-box/NAME`` without
    observation); stop at the first run that ends in an error."""
    started = time.monotonic()
    runs: list[MutantRun] = []
    mode = OBSERVED if options.observe else BLACK_BOX
    folder = "mutants" if options.observe else "mutants-black-box"
    for mutant in mutants:
        target = str(out / folder / mutant.name) if out is not None else None
        backend = mutant_backend(family, mutant.name)
        result = check(dataclasses.replace(options, backend=backend, out=target))
        runs.append(MutantRun(mutant, result, mode))
        if on_result is not None:
            on_result(runs[-1])
        if result.status == "error":
            break
    system = next((r.result.system for r in runs if r.result.system is not None), None)
    gaps = mutant_gaps(system, [r.mutant for r in runs]) if system is not None else []
    return MutationReport(family, tuple(runs), time.monotonic() - started, tuple(gaps), mode)


def run_both_modes(family: str, mutants: Sequence[Mutant], options: CheckOptions, *,
                   out: Path | None = None,
                   on_result: Callable[[MutantRun], None] | None = None) -> MutationReport:
    """``run_mutants`` observed, then in black-box mode (``observe`` off): one report whose
    ``black_box`` is the second (not run when the first ended in an error)."""
    observed = run_mutants(family, mutants, dataclasses.replace(options, observe=True),
                           out=out, on_result=on_result)
    if observed.error is not None:
        return observed
    black_box = run_mutants(family, mutants, dataclasses.replace(options, observe=False),
                            out=out, on_result=on_result)
    return dataclasses.replace(observed, black_box=black_box)


def time_to_kill(result: CheckResult) -> str:
    return f"{result.time_to_failure:.1f} s" if result.time_to_failure is not None else "-"


def trace_length(result: CheckResult) -> str:
    if result.failure is None:
        return "-"
    count = len(result.failure.steps)
    return f"{count} step" if count == 1 else f"{count} steps"


def mutant_gaps(system: System, mutants: Sequence[Mutant]) -> list[str]:
    """The rules and invariants of the spec that no mutant of the selection targets."""
    targeted_rules = {rule for m in mutants for rule in m.rules}
    targeted_invariants = {inv for m in mutants for inv in getattr(m, "invariants", ())}
    cited = sorted({rule for t in system.transitions for rule in t.rules}
                   | {rule for r in system.rejections for rule in r.rules},
                   key=citation_order)
    invariants = [inv.id for inv in system.all_invariants]
    gaps = []
    rules = [r for r in cited if r.startswith("R") and r not in targeted_rules]
    if rules:
        gaps.append(f"cited rules no mutant targets: {' '.join(rules)}")
    # A mutant may name an invariant of a machine without the machine prefix.
    missing = [i for i in invariants
               if i not in targeted_invariants and i.rsplit(".", 1)[-1] not in targeted_invariants]
    if missing:
        gaps.append(f"invariants no mutant targets: {' '.join(missing)}")
    return gaps


def mutant_markdown(rows: Sequence[tuple[Mutant, CheckResult]], summary: str,
                    gaps: list[str], *,
                    black_box: Mapping[str, CheckResult] | None = None) -> str:
    """The table of mutants; with ``black_box`` (results by mutant name), three more
    columns for the same mutants without observation."""
    lines = ["| mutant | rules | invariants | killed | time to kill | shortest trace |",
             "|---|---|---|---|---:|---:|"]
    if black_box is not None:
        lines = [lines[0] + " killed (black box) | time to kill (black box) | "
                 "shortest trace (black box) |", lines[1] + "---|---:|---:|"]
    for mutant, result in rows:
        invariants = ", ".join(getattr(mutant, "invariants", ()))
        row = (f"| `{mutant.name}` | {' '.join(mutant.rules)} | {invariants} |"
               + _markdown_cells(result))
        if black_box is not None:
            other = black_box.get(mutant.name)
            row += _markdown_cells(other) if other is not None else " - | - | - |"
        lines.append(row)
    lines += ["", summary + "."]
    lines += [f"Note: {gap}." for gap in gaps]
    return "\n".join(lines) + "\n"


def _markdown_cells(result: CheckResult) -> str:
    killed = "yes" if result.status == "fail" else "**NO**"
    return f" {killed} | {time_to_kill(result)} | {trace_length(result)} |"
