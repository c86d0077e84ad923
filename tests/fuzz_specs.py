"""Deterministic mutation of spec folders, and one run of ``authspec validate`` on each.

``mutate(rng, folder)`` edits one file of a copied spec folder (or the folder itself) one to
three times: random edits (lines deleted, duplicated, swapped, indented, tokens inserted) and
the hostile inputs that once crashed the loader (control characters, huge integers, deep
nesting, tags, odd or deep expressions, divisions, files that are folders, devices, FIFOs or
names too long). ``run_case(base, seed, workdir)`` makes case ``seed`` of a base spec and
validates it in-process with a time limit, and says what went wrong, if anything:
a traceback, an error without a line, a bad exit code, or a run over the time limit.

For speed the loader's ``read`` (YAML and schema) is memoised on the file's name and bytes
(``memoised_reads``): a case edits one file, and the others are the same bytes as before, so
the answer is the same; the edited file is always read afresh.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import typer
import typer.testing
from typer.testing import CliRunner

from authspec.cli import app
from authspec.model import loader
from authspec.model.yamlsafe import file_problem

COMMAND = typer.main.get_command(app)  # built once: typer takes 0.15 s to build it per call

ROOT = Path(__file__).resolve().parent.parent
BASES = {"specs": ROOT / "specs", "door": ROOT / "tests" / "specs" / "door"}
TOKENS = ["closed", "open", "3", "-1", "R9", "Q7", "~", "[]", "{}", "'", '"', ":", "- ",
          "true", "null", "&a", "*a", "!!str", "when: x", "matches(code)", "+", "1e3", "0x10",
          "\t", "é", "rules: [R1]", "[bold]", ":100:", "#", "|", ">", "<<: *a", "? ", "%"]
TAGS = ["!!timestamp ", "!!map ", "!!seq ", "!!int ", "!!float ", "!!bool ", "!!binary ",
        "!!str ", "!!null ", "!!python/object:os.system ", "!x ", "!!set ", "!!omap "]
ODD = ["(" * 200 + "x" + ")" * 200, "-" * 1900 + "1", "not " * 300 + "true",
       "[1, 2] == [1]", "[x] != [x]", "x // (x - x) == 0", "x % 0 == 1", "1" + " + 1" * 900,
       "x == 1" + " or x == 1" * 80, "9" * 5000, "x * x * x * x == x * x + 7",
       "len(x) // len(x) > 0", "x in [[1]]", "matches(x)", "x implies " * 100 + "x",
       "'\\u0000'", "x.y.z", "min(x)", "x < 'a'", "x // x == 1 or x % x == 0"]
LINE = re.compile(r"^(\s*-?\s*)(when|expr): (.+)$")
NAME = re.compile(r"\b[a-z_][a-z0-9_]*\b")
KEYWORDS = {"and", "or", "not", "in", "implies", "true", "false", "matches", "len", "min",
            "max", "state"}


def _line_edit(rng: random.Random, lines: list[str]) -> None:
    index = rng.randrange(len(lines))
    kind = rng.choice(["delete", "duplicate", "swap", "token", "indent"])
    if kind == "delete" and len(lines) > 1:
        del lines[index]
    elif kind == "duplicate":
        lines.insert(index, lines[index])
    elif kind == "swap":
        other = rng.randrange(len(lines))
        lines[index], lines[other] = lines[other], lines[index]
    elif kind == "token":
        line = lines[index]
        cut = rng.randint(0, len(line))
        end = rng.randint(cut, min(len(line), cut + 8))
        lines[index] = line[:cut] + rng.choice(TOKENS) + line[end:]
    else:
        lines[index] = "  " + lines[index]


def _insert(rng: random.Random, lines: list[str], text: str) -> None:
    index = rng.randrange(len(lines))
    cut = rng.randint(0, len(lines[index]))
    lines[index] = lines[index][:cut] + text + lines[index][cut:]


def _control(rng: random.Random, lines: list[str]) -> None:
    _insert(rng, lines, chr(rng.choice([*range(0, 9), 11, 12, *range(14, 32), 127, 0xFFFE])))


def _huge_int(rng: random.Random, lines: list[str]) -> None:
    digits = [i for i, line in enumerate(lines) if re.search(r"\d", line)]
    index = rng.choice(digits or [0])
    number = "9" * rng.choice([19, 25, 4400, 5000])
    lines[index] = re.sub(r"\d+", number, lines[index], count=1) if digits else number


def _deep(rng: random.Random, lines: list[str]) -> None:
    depth = rng.choice([49, 51, 200, 3000])
    opening, closing = rng.choice([("[", "]"), ("{a: ", "}"), ("- ", "")])
    if opening == "- ":
        _insert(rng, lines, "\n".join("  " * i + "- " for i in range(depth // 10)))
        return
    _insert(rng, lines, opening * depth + closing * depth)


def _tag(rng: random.Random, lines: list[str]) -> None:
    values = [i for i, line in enumerate(lines) if ": " in line]
    index = rng.choice(values or [0])
    lines[index] = lines[index].replace(": ", ": " + rng.choice(TAGS), 1)


def _expression(rng: random.Random, lines: list[str]) -> None:
    block = [i for i, line in enumerate(lines) if LINE.match(line)]
    if not block:
        _insert(rng, lines, rng.choice(ODD))
        return
    index = rng.choice(block)
    match = LINE.match(lines[index])
    assert match is not None
    names = [n for n in NAME.findall(match.group(3)) if n not in KEYWORDS] or ["x"]
    odd = re.sub(r"\bx\b", rng.choice(names), rng.choice(ODD))
    body = odd if rng.random() < 0.5 else f"{odd} and {match.group(3)}"
    quoted = '"' + body.replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines[index] = f"{match.group(1)}{match.group(2)}: {quoted}"


def _file_name(rng: random.Random, lines: list[str]) -> None:
    named = [i for i, line in enumerate(lines) if re.search(r"[\w./]+\.yaml", line)]
    if not named:
        return
    index = rng.choice(named)
    other = rng.choice(["/dev/zero", ".", "..", "w" * 300 + ".yaml", "sub", "pipe.yaml",
                        "missing.yaml", "../../../../../../etc/hostname", "a\\0b.yaml"])
    lines[index] = re.sub(r"[\w./]+\.yaml", other, lines[index], count=1)


EDITS: list[tuple[float, Callable[[random.Random, list[str]], None]]] = [
    (0.45, _line_edit), (0.08, _control), (0.08, _huge_int), (0.07, _deep), (0.08, _tag),
    (0.18, _expression), (0.06, _file_name)]


def mutate(rng: random.Random, folder: Path) -> str:
    """Edit one YAML file of ``folder`` one to three times; return its name."""
    files = sorted(p.name for p in folder.glob("*.yaml"))
    name = "system.yaml" if rng.random() < 0.25 else rng.choice(files)
    path = folder / name
    lines = path.read_text(encoding="utf-8").splitlines() or [""]
    weights = [w for w, _ in EDITS]
    for _ in range(rng.randint(1, 3)):
        edit = rng.choices([e for _, e in EDITS], weights)[0]
        edit(rng, lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    (folder / "sub").mkdir(exist_ok=True)
    if not (folder / "pipe.yaml").exists():
        os.mkfifo(folder / "pipe.yaml")
    return name


@contextmanager
def memoised_reads() -> Iterator[None]:
    """``loader._Builder.read`` answered from a memo of (path, kind, bytes) while inside."""
    original = loader._Builder.read
    memo: dict[tuple[Any, ...], tuple[Any, list[Any], dict[str, Any]]] = {}

    def read(self: Any, path: Path, kind: str, named_at: Any = None) -> Any:
        if file_problem(path) is not None:
            return original(self, path, kind, named_at)
        key = (str(path), kind, named_at, path.read_bytes())
        if key not in memo:
            probe = loader._Builder(self.system_file)
            memo[key] = (original(probe, path, kind, named_at), probe.errors, probe.docs)
        doc, errors, docs = memo[key]
        self.errors.extend(errors)
        self.docs.update(docs)
        return doc

    loader._Builder.read = read  # type: ignore[method-assign]
    try:
        yield
    finally:
        loader._Builder.read = original  # type: ignore[method-assign]


LOCATED = re.compile(r"^.+:([1-9]\d*):([1-9]\d*): (error|warning): ")


@dataclass
class Outcome:
    seed: int
    base: str
    seconds: float
    exit_code: int | None = None
    problems: list[str] = field(default_factory=list)


class _Overtime(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Overtime


def run_case(base: str, seed: int, workdir: Path, limit_s: float = 20.0) -> Outcome:
    """Make case ``seed`` of ``base`` in ``workdir`` and validate it; what went wrong."""
    rng = random.Random(f"{base}:{seed}")
    folder = workdir / base
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(BASES[base], folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    mutate(rng, folder)
    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        with mock.patch.object(typer.testing, "_get_command", lambda _: COMMAND):
            result = CliRunner().invoke(app, ["validate", str(folder), "--solver-timeout", "100",
                                              "--solver-budget", "0.5"], catch_exceptions=True)
    except _Overtime:
        return Outcome(seed, base, time.monotonic() - start, None, [f"over {limit_s} s"])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    outcome = Outcome(seed, base, time.monotonic() - start, result.exit_code)
    if isinstance(result.exception, _Overtime):
        outcome.problems.append(f"over {limit_s} s")
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        outcome.problems.append(f"traceback: {type(result.exception).__name__}: "
                                f"{result.exception}"[:300])
    if result.exit_code not in (0, 1, 2):
        outcome.problems.append(f"exit code {result.exit_code}")
    for line in result.output.splitlines():
        if (": error: " in line or ": warning: " in line) and not LOCATED.match(line):
            outcome.problems.append(f"not located: {line[:200]}")
    return outcome


def run_cases(base: str, seeds: range, workdir: Path) -> list[Outcome]:
    """``run_case`` for each seed, the loader's reads memoised."""
    with memoised_reads():
        return [run_case(base, seed, workdir) for seed in seeds]


def summary(outcomes: list[Outcome]) -> str:
    """Cases, tracebacks, unlocated errors, runs over time, exit codes and the slowest."""
    def count(word: str) -> int:
        return sum(any(p.startswith(word) for p in o.problems) for o in outcomes)
    codes: dict[int | None, int] = {}
    for o in outcomes:
        codes[o.exit_code] = codes.get(o.exit_code, 0) + 1
    slowest = max(outcomes, key=lambda o: o.seconds)
    return (f"{len(outcomes)} cases: {count('traceback')} tracebacks, {count('not located')} "
            f"unlocated errors, {count('over')} over the time limit, {count('exit code')} bad "
            f"exit codes; exit codes {dict(sorted(codes.items(), key=str))}; slowest "
            f"{slowest.seconds:.2f} s ({slowest.base} seed {slowest.seed})")


def _chunk(job: tuple[str, int, int]) -> list[Outcome]:
    import tempfile
    base, start, stop = job
    with tempfile.TemporaryDirectory(prefix="authspec-fuzz-") as tmp:
        return run_cases(base, range(start, stop), Path(tmp))


def main() -> None:
    """``python tests/fuzz_specs.py CASES [JOBS]``: half the cases per base spec."""
    import multiprocessing
    import sys
    cases, jobs = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 2
    step = 100
    work = [(base, start, min(start + step, cases // 2)) for base in BASES
            for start in range(0, cases // 2, step)]
    began = time.monotonic()
    with multiprocessing.Pool(jobs) as pool:
        outcomes = [o for chunk in pool.imap_unordered(_chunk, work) for o in chunk]
    for o in outcomes:
        for problem in o.problems:
            print(f"{o.base} seed {o.seed}: {problem}")
    print(summary(outcomes) + f"; {time.monotonic() - began:.0f} s in all with {jobs} jobs")


if __name__ == "__main__":
    main()
