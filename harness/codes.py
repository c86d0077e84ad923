"""Codes of one's own: a backend's refusal codes translated to the spec's reasons.

A backend that answers in its own vocabulary declares, per code, the spec reason or the
set of spec reasons it stands for; the mapping may be many-to-one (one ``missing_documents``
for ``registration_form_missing``, ``id_invalid``, ``card_missing``, ...). A refusal with a
code standing for a set conforms when the model's reason is in the set; such reasons are
*checked coarsely*, and so is every reason under ``--compare outcome`` (accepted or refused,
nothing more). The run counts them (``RunState.coarse``), the console summary and
``coverage.json`` list them.

For Python backends the table is a YAML file given with ``authspec check --codes FILE``::

    missing_documents: [registration_form_missing, agreement_not_acknowledged, id_invalid]
    bad_password: wrong_password       # one-to-one: a renaming

The HTTP adapter reads the same table from its mapping file's ``codes:`` key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authspec.model.errors import SpecError, SpecErrors
from authspec.model.ir import System
from authspec.model.yamlsafe import Located, read_yaml

from .adapter import Response

COMPARE_MODES = ("reason", "outcome")


@dataclass(frozen=True)
class Codes:
    """Backend code -> the spec reasons it stands for."""

    table: Mapping[str, frozenset[str]]

    def translate(self, response: Response) -> Response:
        """The response, carrying the spec reasons its code stands for (if it is mapped)."""
        reason = response.reason
        if response.accepted or response.stands_for or reason is None or reason not in self.table:
            return response
        return dataclasses.replace(response, stands_for=self.table[reason])

    def coarse(self) -> dict[str, list[str]]:
        """Codes standing for several spec reasons: code -> those reasons."""
        return {code: sorted(reasons) for code, reasons in self.table.items()
                if len(reasons) > 1}


NO_CODES = Codes({})


def codes_from(doc: Located, path: tuple[str | int, ...], data: Any,
               system: System) -> tuple[Codes, list[SpecError]]:
    """Read a ``code: reason | [reasons]`` table found at ``path`` of ``doc``."""
    declared = {r.code for r in system.reasons}
    errors: list[SpecError] = []
    if not isinstance(data, dict):
        return NO_CODES, [SpecError(doc.span(path), "the codes must be a mapping",
                                    "write one 'backend_code: spec_reason' (or a list of "
                                    "spec reasons) per line")]
    table: dict[str, frozenset[str]] = {}
    for code, value in data.items():
        where = (*path, code)
        reasons = value if isinstance(value, list) else [value]
        if not reasons or not all(isinstance(r, str) for r in reasons):
            errors.append(SpecError(doc.span(where), f"code {code!r}: give a spec reason or "
                                    "a non-empty list of spec reasons",
                                    "e.g. missing_documents: [id_invalid, card_missing]"))
            continue
        for index, reason in enumerate(reasons):
            if reason not in declared:
                at = (*where, index) if isinstance(value, list) else where
                errors.append(SpecError(doc.span(at), f"code {code!r} maps to {reason!r}, "
                                        "which the spec does not declare",
                                        _known(reason, declared)))
        table[str(code)] = frozenset(reasons)
    return Codes(table), errors


def _known(reason: str, declared: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(reason, sorted(declared), n=1)
    prefix = f"did you mean {close[0]!r}? " if close else ""
    return f"{prefix}the spec's reasons are listed by 'authspec init-adapter'"


def load_codes(path: str | Path | None, system: System) -> Codes:
    """The table of a ``--codes`` file (``NO_CODES`` without one); ``SpecErrors`` if bad."""
    if path is None:
        return NO_CODES
    doc = read_yaml(Path(path))
    codes, errors = codes_from(doc, (), doc.data, system)
    if errors:
        raise SpecErrors(errors)
    return codes
