"""The console of the command line, which prints user text exactly as it is.

By default rich reads ``[...]`` in a printed string as markup (``[bold]`` and the like are
dropped) and ``:name:`` as an emoji code (``door.yaml:100:34`` would print as
``door.yaml💯34``). Paths, spec text, reason codes and backend answers are user text, so
every command prints through ``plain_console()``: markup, emoji and highlighting off. Table cells
are given as ``plain(text)``, a ``rich.text.Text``, which is never parsed either.
"""

from __future__ import annotations

import os
import sys
from typing import IO

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
    return Console(file=file, width=width, markup=False, emoji=False, highlight=False,
                   soft_wrap=True)


def output_width() -> int | None:
    """``PIPE_WIDTH`` when standard output is not a terminal and ``COLUMNS`` is unset."""
    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return PIPE_WIDTH if piped else None


def plain(text: str) -> Text:
    """``text`` as a renderable that rich shows verbatim (for table cells and titles)."""
    return Text(text)
