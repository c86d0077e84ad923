"""The exception hierarchy. Every message says where and what to do about it.

- ``SpecError``: one problem in a spec file, located at ``file:line:column``.
- ``SpecErrors``: all the problems the loader found in one pass (it does not stop at the first).
- ``ExprError``: a problem inside one expression, located by its offset in the expression;
  the loader turns it into a ``SpecError`` at the right line and column.
- ``ModelError``: a wrong call to the executable model (unknown event, bad parameter).

The harness, the diagrams and the command line derive their own errors from
``AuthspecError`` too (``BackendNotFound``, ``BackendFailure``, ``UsageError``,
``Nonconformance``, ``RunFileError``, ...), so ``except AuthspecError`` catches every error
authspec raises on purpose. The one exception is ``harness.records.RunInterrupt``: control
flow that must not be an ``Exception`` at all (its docstring says why).
"""

from __future__ import annotations

from collections.abc import Iterable

from .ir import Span


class AuthspecError(Exception):
    """Base of every error authspec raises on purpose (an error that also has a builtin
    meaning, such as a failed assertion or a bad value, derives from that builtin too)."""


class UnknownName(AuthspecError, KeyError):
    """A look-up of a machine, event, policy or reason the system does not declare
    (``System.machine(name)`` and the like). A ``KeyError`` too, as a mapping's would be;
    its message lists the names that exist."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind, self.name = kind, name
        self.known = tuple(sorted(known))
        self.message = (f"no {kind} named {name!r} (known: {', '.join(self.known) or 'none'})")
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class SpecError(AuthspecError):
    def __init__(self, span: Span, message: str, hint: str = "", severity: str = "error"):
        self.span = span
        self.message = message
        self.hint = hint
        self.severity = severity
        super().__init__(self.format())

    def format(self) -> str:
        text = f"{self.span}: {self.severity}: {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


class SpecErrors(AuthspecError):
    def __init__(self, errors: Iterable[SpecError]):
        self.errors = sorted(errors, key=lambda e: (e.span.file, e.span.line, e.span.column))
        count = len(self.errors)
        body = "\n".join(e.format() for e in self.errors)
        super().__init__(f"{body}\n{count} error{'s' if count != 1 else ''} in the spec")


class ExprError(AuthspecError):
    def __init__(self, message: str, offset: int, hint: str = ""):
        self.message = message
        self.offset = offset
        self.hint = hint
        super().__init__(f"at character {offset + 1}: {message}")


class ModelError(AuthspecError):
    """A call to the executable model that the spec does not allow (not a refusal)."""
