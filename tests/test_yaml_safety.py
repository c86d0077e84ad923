"""YAML is read safely: no tags, bounded size, aliases and nodes, no duplicate keys."""

from __future__ import annotations

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
