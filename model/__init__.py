"""Load, check and run specs: the IR (ir), the loader (loader), the expression language (expr),
the static checks (checks) and the executable model on python-statemachine (runtime)."""

from .errors import AuthspecError, ModelError, SpecError, SpecErrors
from .loader import default_spec_dir, load
from .runtime import Executable, InvariantViolation, Outcome, Snapshot

__all__ = [
    "AuthspecError",
    "Executable",
    "InvariantViolation",
    "ModelError",
    "Outcome",
    "Snapshot",
    "SpecError",
    "SpecErrors",
    "default_spec_dir",
    "load",
]
