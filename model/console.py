"""The console of the command line, which prints user text exactly as it is.

By default rich reads ``[...]`` in a printed string as markup (``[bold]`` and the like are
dropped) and ``:name:`` as an emoji code (``door.yaml:100:34`` would print as
``door.yaml💯34``). Paths, spec text, reason codes and backend answers are user text, so
every command prints through ``plain_console()``: markup, emoji and highlighting off. Table cells
are given as ``plain(text)``, a ``rich.text.Text``, which is never parsed either. Both show
control characters other than line breaks and tabs as ``\\xNN`` escapes, so spec text (YAML
allows ``"\\e[2J"`` in a quoted string) cannot send terminal escape sequences.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from typing import IO, Any

from rich.console import Console
from rich.text import Text

# Rich assumes 80 columns when the output is not a terminal; CI logs and `| tee` are wider
# than that, and a trace step cut in two is hard to read.
PIPE_WIDTH = 160


def plain_console(file: IO[str] | None = None, width: int | None = None) -> Console:
    """A console that never interprets what it prints: no markup, no emoji, no highlighting.

    Lines are never wrapped; when the output is not a terminal (and ``COLUMNS`` is unset) it
    is ``PIPE_WIDTH`` columns wide."""
    if width is None and file is None:
        width = output_width()
    return _PlainConsole(file=file, width=width, markup=False, emoji=False, highlight=False,
                         soft_wrap=True)


class _PlainConsole(Console):
    """A Console whose printed strings have their control characters made visible."""

    def print(self, *objects: Any, **options: Any) -> None:  # type: ignore[override]
        super().print(*(visible(o) if isinstance(o, str) else o for o in objects), **options)


def visible(text: str) -> str:
    """``text`` with control characters but line breaks and tabs written as ``\\xNN``."""
    return "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" and c not in "\n\t"
                   else c for c in text)


def output_width() -> int | None:
    """``PIPE_WIDTH`` when standard output is not a terminal and ``COLUMNS`` is unset."""
    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return PIPE_WIDTH if piped else None


def plain(text: str) -> Text:
    """``text`` as a renderable that rich shows verbatim (for table cells and titles)."""
    return Text(visible(text))
