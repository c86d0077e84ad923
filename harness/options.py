"""The one run configuration: ``CheckOptions``, frozen, read everywhere a run decides.

``authspec check`` (commands.py), the pytest plugin and Python callers build one
``CheckOptions``; ``run.check`` hands it to the ``RunState`` and every part of the run
(the driver, the Hypothesis machine, the sweep, minimisation) reads it from there. Nothing
copies it field by field and nothing changes it during a run: what differs between parts of
a run (minimisation ignores the shrink budget) is passed explicitly. The CLI option names
and defaults are interface: ``--examples`` is ``examples``, ``--max-seconds 0`` is
``max_seconds=None``, and so on. ``--backend-option KEY=VALUE`` (repeatable) is
``backend_options``, a tuple of (key, value) pairs passed to the backend factory as keyword
arguments; ``parse_backend_option`` reads one from the command line (the value as a JSON
scalar when it is one, else the text as written).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .backends import BackendOptionError

DEFAULT_EXAMPLES = 150
DEFAULT_STEPS = 60
DEFAULT_MAX_SECONDS = 40.0
DEFAULT_SHRINK_SECONDS = 12.0
DEFAULT_TIMEOUT = 10.0
DEFAULT_DATABASE = ".authspec/examples"
DEFAULT_OUT = "authspec-out"
DEFAULT_REPEAT_CAP = 5000


@dataclass(frozen=True)
class CheckOptions:
    """What one conformance check does (see run.py for the budget and the phases)."""

    backend: str
    specs: str | None = None
    examples: int = DEFAULT_EXAMPLES  # Hypothesis test cases
    steps: int = DEFAULT_STEPS  # rules per test case at most
    max_seconds: float | None = DEFAULT_MAX_SECONDS  # exploration (no new example after it)
    shrink_seconds: float | None = DEFAULT_SHRINK_SECONDS  # shrinking, once a failure is found
    seed: int | None = None
    database: str | None = DEFAULT_DATABASE  # directory, redis://..., or None/"none"
    out: str | None = DEFAULT_OUT
    timeout: float | None = DEFAULT_TIMEOUT  # seconds per backend call
    observe: bool = True  # compare observations when the adapter offers observe()
    repair: bool = True  # steer drawn parameters towards acceptance (off: uniform)
    repeat: bool = True  # the repeat rule for counters (off: uniform)
    roadmap: bool = True  # goals: start examples in deep states, and the sweep
    sweep: bool = True  # make every transition and rejection happen once first
    show_secrets: bool = False
    repeat_cap: int = DEFAULT_REPEAT_CAP  # the longest single repeat
    backend_mode: str = "auto"  # how deadlines are kept: auto, signal, thread, process
    require_coverage: bool = False  # a pass short of the sweep's coverage exits 1
    codes: str | None = None  # YAML file: backend code -> spec reason(s) (harness/codes.py)
    compare: str = "reason"  # "reason", or "outcome": accepted/refused only
    mapping: str | None = None  # the HTTP mapping file (--backend http)
    base_url: str | None = None  # the HTTP service's base URL (--backend http)
    # --backend-option KEY=VALUE: keyword arguments of the backend factory, in order
    backend_options: tuple[tuple[str, Any], ...] = ()
    goals: tuple[str, ...] | None = None  # sweep only these goals (IDs); None: every goal
    explore: bool = True  # explore with Hypothesis after the sweep (off: the sweep alone)

    def __post_init__(self) -> None:
        # Pairs as tuples, whatever came in (a JSON round trip, as supervise.py makes,
        # gives lists): the options stay hashable and compare equal.
        pairs = tuple((str(key), value) for key, value in self.backend_options)
        object.__setattr__(self, "backend_options", pairs)


def parse_backend_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from the command line as (key, value). The value is read as a JSON
    scalar when it is one (``3``, ``2.5``, ``true``, ``false``, ``null``, ``"quoted
    text"``), otherwise it is the text after ``=`` as written (``path=/tmp/x`` gives the
    string ``/tmp/x``; JSON lists and objects stay text too). ``null`` leaves the factory's
    default. Not ``KEY=VALUE``: ``BackendOptionError``."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise BackendOptionError(
            f"--backend-option {text!r}: give KEY=VALUE, KEY a keyword argument of the "
            "backend factory (letters, digits and '_'), e.g. --backend-option "
            "kdf_iterations=64")
    try:
        value = json.loads(raw)
    except ValueError:
        return key, raw
    if value is None or isinstance(value, (bool, int, float, str)):
        return key, value
    return key, raw


def parse_backend_options(texts: list[str] | None) -> tuple[tuple[str, Any], ...]:
    """Every ``--backend-option`` given, in order; a key given twice is an error."""
    pairs = tuple(parse_backend_option(text) for text in texts or ())
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise BackendOptionError(f"--backend-option {', '.join(twice)} given more than "
                                 "once: give each key once")
    return pairs
