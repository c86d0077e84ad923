"""Tell whether a folder of rendered diagrams is stale relative to the specs.

Compares text, not pictures: each ``.dot`` file with the DOT regenerated now, each ``.svg``
with the DOT hash it carries (see render.py), the Mermaid Markdown with the Markdown
regenerated now. PNG files are only checked for presence. Files of machines that no longer
exist are reported too.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from authspec.model.ir import System

from .dot import Options, all_dots
from .mermaid import markdown
from .render import MERMAID_FILE, dot_hash, svg_dot_hash


def stale_files(system: System, out: Path, formats: Iterable[str],
                options: Options | None = None) -> list[str]:
    """One line per stale, missing or orphaned file (empty when everything is fresh)."""
    options = options or Options()
    suffix = "" if options.lang == "en" else f".{options.lang}"
    problems: list[str] = []
    dots = all_dots(system, options)
    for fmt in formats:
        if fmt == "mermaid":
            path = out / (MERMAID_FILE if not suffix else f"diagrams{suffix}.md")
            if not path.exists():
                problems.append(f"{path}: missing")
            elif path.read_text(encoding="utf-8") != markdown(system, options):
                problems.append(f"{path}: differs from the Mermaid of the specs")
            continue
        for stem, dot in dots.items():
            path = out / f"{stem}{suffix}.{fmt}"
            if not path.exists():
                problems.append(f"{path}: missing")
            elif fmt == "dot" and path.read_text(encoding="utf-8") != dot:
                problems.append(f"{path}: differs from the DOT of the specs")
            elif fmt == "svg" and svg_dot_hash(path.read_text(encoding="utf-8")) != dot_hash(dot):
                problems.append(f"{path}: drawn from another DOT than the specs give")
        for path in sorted(out.glob(f"*{suffix}.{fmt}")):
            stem = path.name[: -len(f"{suffix}.{fmt}")]
            if "." in stem:  # another language's file
                continue
            if stem not in dots:
                problems.append(f"{path}: no such machine in the specs (orphan)")
    return problems
