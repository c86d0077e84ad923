"""YAML is read safely: no tags, bounded size, aliases and nodes, no duplicate keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from authspec.model import yamlsafe
from authspec.model.errors import SpecError


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "spec.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "words"), [
    ("a: !!python/object/apply:os.system ['echo hi']\n", "is not allowed"),
    ("a: !custom 1\n", "is not allowed"),
    ("a: 1\na: 2\n", "duplicate key 'a'"),
    ("base: &b {x: 1}\nother:\n  <<: *b\n", "merge keys"),
    ("a: [1, 2\n", "invalid YAML"),
    ("", "the file is empty"),
    ("? [1, 2]\n: x\n", "a key must be a plain name"),
])
def test_refused(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(SpecError, match=words.replace("[", r"\[")):
        yamlsafe.read_yaml(write(tmp_path, text))


def test_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not valid UTF-8") as info:
        yamlsafe.read_yaml(write(tmp_path, "a: 1\nb: \xff\n".encode("latin-1")))
    assert info.value.span.line == 2


def test_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsafe, "MAX_FILE_BYTES", 100)
    with pytest.raises(SpecError, match="over the limit"):
        yamlsafe.read_yaml(write(tmp_path, "a: " + "x" * 200 + "\n"))


def test_node_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsafe, "MAX_NODES", 50)
    with pytest.raises(SpecError, match="more than 50 YAML nodes"):
        yamlsafe.read_yaml(write(tmp_path, "a: [" + ", ".join(["1"] * 60) + "]\n"))


def test_alias_expansion_is_bounded(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 60)]
    with pytest.raises(SpecError, match=r"aliases|YAML nodes"):
        yamlsafe.read_yaml(write(tmp_path, "\n".join(lines) + "\n"))


def test_positions_are_recorded(tmp_path: Path) -> None:
    doc = yamlsafe.read_yaml(write(tmp_path, "top:\n  when: \"a == 'x'\"\n  list: [1, 2]\n"))
    assert doc.data == {"top": {"when": "a == 'x'", "list": [1, 2]}}
    assert (doc.span(("top", "when")).line, doc.span(("top", "when")).column) == (2, 9)
    # character 5 of the quoted expression is the quote of 'x', column 9 + 1 + 5
    assert doc.expr_span(("top", "when"), 5).column == 15
    assert doc.span(("top", "list", 1)).column == 13
    assert doc.span(("top", "list"), key=True).column == 3


@pytest.mark.parametrize(("text", "line", "column", "words"), [
    ("a: 1\nb: x\x01y\n", 2, 5, "control character U+0001"),
    ("a: " + "9" * 5000 + "\n", 1, 4, "an integer of 5000 characters"),
    ("a: 12345678901234567890\n", 1, 4, "the limit is 18 digits"),
    ("a: " + "[" * 60 + "]" * 60 + "\n", 1, 53, "nested more than 50 levels deep"),
    ("a: " + "{b: " * 60 + "1" + "}" * 60 + "\n", 1, 197, "nested more than 50 levels deep"),
    ("a: !!timestamp tomorrow\n", 1, 4, "this value is not a valid timestamp"),
    ("a: !!map x\n", 1, 4, "tag !!map on a single value"),
    ("a: !!seq x\n", 1, 4, "tag !!seq on a single value"),
    ("a: !!str {b: 1}\n", 1, 4, "tag !!str on a mapping"),
    ("a: !!int x\n", 1, 4, "this value is not a valid int"),
    ("a: !!float x\n", 1, 4, "this value is not a valid float"),
    ("a: !!bool x\n", 1, 4, "this value is not a valid bool"),
    ("a: !!binary 'abc'\n", 1, 4, "this value is not a valid binary"),
])
def test_hostile_yaml_is_a_located_error(tmp_path: Path, text: str, line: int, column: int,
                                         words: str) -> None:
    with pytest.raises(SpecError, match=re.escape(words)) as info:
        yamlsafe.read_yaml(write(tmp_path, text))
    assert (info.value.span.line, info.value.span.column) == (line, column)


def test_a_fifo_a_device_or_a_folder_is_never_opened(tmp_path: Path) -> None:
    import os
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # opening it for reading would block forever
    named_at = yamlsafe.Span("system.yaml", 7, 23)
    for path, words in ((fifo, "not a regular file"), (Path("/dev/zero"), "not a regular file"),
                        (tmp_path, "a folder, not a file"),
                        (tmp_path / ("x" * 300), "File name too long")):
        with pytest.raises(SpecError, match=words) as info:
            yamlsafe.read_yaml(path, named_at=named_at)
        assert info.value.span == named_at


def test_no_system_file_says_what_to_do(tmp_path: Path) -> None:
    from authspec.model import SpecErrors, load
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "system.yaml").write_text("authspec: 1\n")
    with pytest.raises(SpecErrors) as info:
        load(tmp_path)
    (error,) = info.value.errors
    assert "no system.yaml in the folder" in error.message and error.span.line == 1
    assert f"give the folder that holds it, e.g. {tmp_path / 'specs'}" in error.hint


def test_a_name_cannot_end_in_a_newline(tmp_path: Path) -> None:
    import shutil

    from authspec.model import SpecErrors, load
    spec = tmp_path / "door"
    shutil.copytree(Path(__file__).parent / "specs" / "door", spec)
    door = spec / "door.yaml"
    door.write_text(door.read_text().replace("  open: {}", '  "open\\n": {}'))
    with pytest.raises(SpecErrors, match=r"'open\\n' is not a valid name"):
        load(spec)
