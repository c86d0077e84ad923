"""The output folder of a check (``--out``): checked before the run, written after it.

``prepare_out`` runs before the run starts. The folder must be a folder where files can be
created (it is made if missing); otherwise the message it returns (a usage error, exit 2)
names the path and says what to do. It then removes the files of an older run
(``coverage.json``, ``failure.json``), so that whatever ends this run (a crash, Ctrl-C, a
disk that fills up) the folder never pairs an older failure with a newer coverage.

``write_run_files`` writes the files of a finished run as one step
(``runfiles.write_files_atomically``: every file to a temporary file first, then renamed):
the replay file and ``failure.json`` first, ``coverage.json`` last, so a folder with a
``coverage.json`` holds the whole of one run. ``run.check`` reports the verdict (its
``on_verdict``) before it writes them, and a file that cannot be written is reported in the
result (``CheckResult.output_error``) without changing the verdict or the exit code.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authspec.model.ir import System

from .coverage import Coverage
from .records import Failure
from .replay_file import replay_file_source, replay_name
from .runfiles import (
    COVERAGE_FILE,
    FAILURE_FILE,
    RunFileWriteError,
    coverage_record,
    failure_record,
    json_text,
    write_files_atomically,
)

#: the files that describe one run; an older run's are removed before a run starts
RUN_FILES = (COVERAGE_FILE, FAILURE_FILE)


@dataclass(frozen=True)
class WrittenFiles:
    """Where a run's files went (``failure`` and ``replay`` only after a failure)."""

    coverage: Path
    failure: Path | None = None
    replay: Path | None = None


def prepare_out(out: Path) -> str | None:
    """Make ``out`` ready for a run (see the module docstring): None, or what is wrong."""
    return _unusable(out) or _remove_older_run(out)


def _unusable(out: Path) -> str | None:
    """Why ``out`` cannot take a run's files (naming the path and what to do), or None."""
    blocker = _file_in_the_way(out)
    if blocker == out:
        return (f"--out {out} is a file, not a folder: give a folder (it is made if "
                "missing), or move the file away")
    if blocker is not None:
        return (f"--out {out}: {blocker} is a file, so no folder can be made under it: "
                "give another output folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(dir=out, prefix=".authspec-probe-")
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        return (f"--out {out}: cannot write into it ({error.strerror or error}): give a "
                "writable output folder")
    for name in RUN_FILES:
        if (out / name).is_dir():
            return (f"--out {out}: {out / name} is a folder, where the run writes a file: "
                    "remove it, or give another output folder")
    return None


def _file_in_the_way(out: Path) -> Path | None:
    """The nearest existing path of ``out`` and its parents, when it is not a folder."""
    for candidate in (out, *out.parents):
        try:
            if not (candidate.exists() or candidate.is_symlink()):
                continue
        except OSError:
            return None  # cannot tell: mkdir below says what is wrong
        return None if candidate.is_dir() else candidate
    return None


def _remove_older_run(out: Path) -> str | None:
    for name in RUN_FILES:
        try:
            (out / name).unlink(missing_ok=True)
        except OSError as error:
            return (f"--out {out}: cannot remove the older run's {out / name} "
                    f"({error.strerror or error}): remove it, or give another output folder")
    return None


def write_run_files(out: Path, system: System, coverage: Coverage, failure: Failure | None,
                    backend: str, specs: str | None, *, show_secrets: bool,
                    http: tuple[str, str | None] | None = None,
                    backend_options: Sequence[tuple[str, Any]] = ()) -> WrittenFiles:
    """The run's files in ``out`` as one step (see the module docstring); raises
    ``RunFileWriteError`` (nothing new written) or ``ReplayValueError``;
    ``backend_options``: the factory's keyword arguments, for the replay file."""
    coverage_path, failure_path = out / COVERAGE_FILE, out / FAILURE_FILE
    files: dict[Path, str] = {}
    if failure is None:
        _remove(failure_path)  # failure.json always describes this run
        written = WrittenFiles(coverage_path)
    else:
        replay_path = out / replay_name(failure, backend)
        files[replay_path] = replay_file_source(system, failure, backend, specs, http,
                                                backend_options, at=out)
        record = failure_record(system, failure, backend, show_secrets=show_secrets)
        files[failure_path] = json_text(record, indent=1)
        written = WrittenFiles(coverage_path, failure_path, replay_path)
    files[coverage_path] = json_text(coverage_record(coverage), indent=2)
    write_files_atomically(files)
    return written


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        raise RunFileWriteError(path, error) from error
