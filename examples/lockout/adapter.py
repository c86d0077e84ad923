"""The adapter between the lock-out spec (specs/) and the account service (service.py).

    authspec check --specs examples/lockout/specs --backend examples/lockout/adapter.py:make_adapter

Each mutant is a factory of its own (``locks_after_2``, ``locks_after_4``,
``success_keeps_count``, ``unlock_keeps_count``), named the same way; ``MUTANTS`` lists
them and ``MUTANT_SET`` is the set ``authspec mutants`` runs::

    authspec mutants --specs examples/lockout/specs --set examples/lockout/adapter.py:MUTANT_SET

service.py is loaded from this file's folder, so the example needs no installation.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authspec.harness.adapter import Response


def _service_module() -> Any:
    name = "authspec_example_lockout_service"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(
            "service.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class LockoutAdapter:
    """Speaks the spec's events to one ``AccountService``."""

    def __init__(self, **mistakes: Any):
        self.service_module = _service_module()
        self.mistakes = self.service_module.Mistakes(**mistakes)
        self.reset()

    def reset(self) -> None:
        self.service = self.service_module.AccountService(self.mistakes)

    def perform(self, event: str, params: Mapping[str, Any]) -> Response:
        try:
            getattr(self.service, event)(**params)
        except self.service_module.Refused as refused:
            return Response.rejected(refused.code)
        return Response.ok()


def make_adapter() -> LockoutAdapter:
    return LockoutAdapter()


def locks_after_2() -> LockoutAdapter:
    return LockoutAdapter(lock_after=2)


def locks_after_4() -> LockoutAdapter:
    return LockoutAdapter(lock_after=4)


def success_keeps_count() -> LockoutAdapter:
    return LockoutAdapter(success_resets=False)


def unlock_keeps_count() -> LockoutAdapter:
    return LockoutAdapter(unlock_resets=False)


MUTANTS = ("locks_after_2", "locks_after_4", "success_keeps_count", "unlock_keeps_count")


@dataclass(frozen=True)
class Mutant:
    """One mutant of the service, as ``authspec mutants --set adapter.py:MUTANT_SET`` reads
    it: its name, the rules it breaks, the factory making its adapter."""

    name: str
    rules: tuple[str, ...]
    factory: Callable[[], LockoutAdapter]


MUTANT_SET = (
    Mutant("locks_after_2", ("R3",), locks_after_2),
    Mutant("locks_after_4", ("R3",), locks_after_4),
    Mutant("success_keeps_count", ("R4",), success_keeps_count),
    Mutant("unlock_keeps_count", ("R5",), unlock_keeps_count),
)
