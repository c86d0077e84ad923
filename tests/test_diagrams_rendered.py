"""The committed diagrams in diagrams/rendered/ are fresh relative to specs/.

Compares text only (DOT files, the DOT hash each SVG carries, the Mermaid Markdown), so it
does not depend on the Graphviz version. Refresh with the commands in docs/diagrams.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from authspec.diagrams.dot import Options
from authspec.diagrams.stale import stale_files
from authspec.model import load

REPO = Path(__file__).resolve().parents[1]
RENDERED = REPO / "diagrams" / "rendered"
REFRESH = {
    "en": "authspec diagram specs -o diagrams/rendered --format all",
    "zh": "authspec diagram specs -o diagrams/rendered --format svg,mermaid --lang zh",
}
FORMATS = {"en": ["dot", "svg", "mermaid"], "zh": ["svg", "mermaid"]}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_rendered_diagrams_are_fresh(lang: str) -> None:
    system = load(REPO / "specs")
    stale = stale_files(system, RENDERED, FORMATS[lang], Options(lang=lang))
    assert not stale, ("diagrams/rendered is stale; refresh with `" + REFRESH[lang] + "`:\n"
                       + "\n".join(stale))
