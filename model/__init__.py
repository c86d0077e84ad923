"""Load, check and run specs: the IR (ir), the loader (loader), the expression language (expr),
the static checks (checks), the one pure semantics of an event (semantics), the stateful
executable model over it (runtime), and the export of a spec's machines as python-statemachine
charts (statechart)."""

from .errors import AuthspecError, ModelError, SpecError, SpecErrors
from .loader import default_spec_dir, load
from .runtime import Executable, InvariantViolation, Outcome, Snapshot
from .semantics import Semantics, semantics_of

__all__ = [
    "AuthspecError",
    "Executable",
    "InvariantViolation",
    "ModelError",
    "Outcome",
    "Semantics",
    "Snapshot",
    "SpecError",
    "SpecErrors",
    "default_spec_dir",
    "load",
    "semantics_of",
]
