"""Test helper: a copy of a spec folder with edits, for tests of what the tools say."""

from __future__ import annotations

import shutil
from pathlib import Path

DOOR = Path(__file__).parent / "specs" / "door"


def door_copy(tmp_path: Path, *edits: tuple[str, str], file: str = "door.yaml") -> Path:
    """The door spec copied into ``tmp_path/door`` with each (old, new) edit made once."""
    return spec_copy(DOOR, tmp_path, *edits, file=file)


def spec_copy(source: Path, tmp_path: Path, *edits: tuple[str, str], file: str) -> Path:
    """The spec folder ``source`` copied into ``tmp_path`` (same folder name) with each
    (old, new) edit made once in ``file``; each ``old`` must be there."""
    spec = Path(shutil.copytree(source, tmp_path / source.name))
    text = (spec / file).read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    (spec / file).write_text(text, encoding="utf-8")
    return spec
