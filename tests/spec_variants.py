"""Test helper: a copy of the door spec with one edit, for tests of what the tools say."""

from __future__ import annotations

import shutil
from pathlib import Path

DOOR = Path(__file__).parent / "specs" / "door"


def door_copy(tmp_path: Path, *edits: tuple[str, str], file: str = "door.yaml") -> Path:
    """The door spec copied into ``tmp_path/door`` with each (old, new) edit made once."""
    spec = Path(shutil.copytree(DOOR, tmp_path / "door"))
    text = (spec / file).read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    (spec / file).write_text(text, encoding="utf-8")
    return spec
