"""Safe, located YAML reading.

PyYAML's ``SafeLoader`` already refuses arbitrary Python tags; on top of it this module
- reads only regular files (never a folder, a FIFO or a device such as ``/dev/zero``), and
  checks the size before reading;
- bounds the file size, the nesting depth, the number of nodes and the number of aliases
  (no "billion laughs"), and the number of digits of an integer;
- refuses control characters, every tag but YAML's standard ones, a tag that does not fit
  its value (``!!map`` on a scalar, ``!!int x``), and duplicate keys (PyYAML keeps the last);
- records where every key and value was written, so that later errors can say
  ``file:line:column``.

``read_yaml(path)`` returns a ``Located`` document: the plain data plus its positions.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError
from .ir import Span

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 200_000
MAX_ALIASES = 100
MAX_DEPTH = 50
MAX_INT_DIGITS = 18
_KINDS = {"map": yaml.MappingNode, "seq": yaml.SequenceNode}
_STANDARD_TAGS = {
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "binary")
}

Path_ = tuple[str | int, ...]


@dataclass
class Located:
    """A YAML document and where each of its parts was written."""

    file: str
    data: Any
    values: dict[Path_, yaml.Node] = field(default_factory=dict)
    keys: dict[Path_, yaml.Node] = field(default_factory=dict)

    def span(self, path: Path_, key: bool = False) -> Span:
        """Where the value (with ``key``: the key) at ``path`` starts, else its nearest parent."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            node = table.get(probe) or self.values.get(probe)
            if node is not None:
                return _span(self.file, node)
            probe = probe[:-1]
        root = self.values.get(())
        return _span(self.file, root) if root is not None else Span(self.file, 1, 1)

    def expr_span(self, path: Path_, offset: int) -> Span:
        """Where character ``offset`` of the expression string at ``path`` was written."""
        node = self.values.get(tuple(path))
        if not isinstance(node, yaml.ScalarNode):
            return self.span(path)
        start = node.start_mark
        quoted = 1 if node.style in ("'", '"') else 0
        if node.style in ("|", ">") or start.line != node.end_mark.line:
            text = node.value[:offset]
            line = start.line + 1 + text.count("\n") + (1 if node.style in ("|", ">") else 0)
            if "\n" in text or node.style in ("|", ">"):
                return Span(self.file, line, offset - (text.rfind("\n") + 1) + 1)
            return _span(self.file, node)
        return Span(self.file, start.line + 1, start.column + 1 + quoted + offset)


def _span(file: str, node: yaml.Node) -> Span:
    return Span(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Composer(yaml.SafeLoader):
    """SafeLoader that counts aliases and bounds the nesting depth as it composes."""

    def __init__(self, stream: str, file: str):
        super().__init__(stream)
        self.file = file
        self.alias_count = 0
        self.depth = 0

    def _refuse(self, message: str, hint: str) -> SpecError:
        mark = self.peek_event().start_mark
        return SpecError(Span(self.file, mark.line + 1, mark.column + 1), message, hint)

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                raise self._refuse(f"more than {MAX_ALIASES} aliases in one file",
                                   "write the values out, or split the file")
        if self.depth >= MAX_DEPTH:
            raise self._refuse(f"the YAML is nested more than {MAX_DEPTH} levels deep",
                               "a spec needs a few levels; close the open brackets or "
                               "flatten the structure")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def file_problem(path: Path) -> tuple[str, str] | None:
    """Why ``path`` cannot be read as a spec file (message, hint), or None when it can.

    Only ``stat`` is called: a FIFO or a device is never opened, a folder never listed."""
    try:
        info = path.stat()
    except (OSError, ValueError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        return f"cannot read the file: {reason}", "check the name and its permissions"
    if stat.S_ISDIR(info.st_mode):
        return "this is a folder, not a file", "name a YAML file inside it"
    if not stat.S_ISREG(info.st_mode):
        return "this is not a regular file (a FIFO, a socket or a device)", (
            "name a YAML file")
    if info.st_size > MAX_FILE_BYTES:
        return (f"the file is {info.st_size} bytes, over the limit of {MAX_FILE_BYTES}",
                "split the spec into several machine files")
    return None


def _read_bytes(path: Path, file: str, named_at: Span | None) -> bytes:
    where = named_at or Span(file, 1, 1)
    problem = file_problem(path)
    if problem is not None:
        raise SpecError(where, f"{file}: {problem[0]}" if named_at else problem[0], problem[1])
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise SpecError(where, f"cannot read the file: {err.strerror}",
                        "check the path and its permissions") from None
    if len(raw) > MAX_FILE_BYTES:
        raise SpecError(where, f"the file is over the limit of {MAX_FILE_BYTES} bytes",
                        "split the spec into several machine files")
    return raw


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of character ``offset`` of ``text``."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _composer(text: str, file: str) -> _Composer:
    try:
        return _Composer(text, file)
    except yaml.reader.ReaderError as err:
        line, column = _position(text, err.position)
        code = err.character if isinstance(err.character, int) else ord(err.character)
        raise SpecError(Span(file, line, column), f"control character U+{code:04X} is not "
                        "allowed in YAML", "remove it (an invisible character, often pasted "
                        "in); in a double-quoted string write it as an escape") from None


def read_yaml(path: Path, display: str | None = None, named_at: Span | None = None
              ) -> Located:
    """Read one YAML file safely, keeping positions. Raise ``SpecError`` on any problem.

    ``named_at``: where another file names this one; problems with the file itself (missing,
    a folder, a FIFO, too big) are reported there."""
    file = display or str(path)
    raw = _read_bytes(path, file, named_at)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise SpecError(Span(file, line, 1), "the file is not valid UTF-8",
                        "save it as UTF-8") from None
    loader = _composer(text, file)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as err:
        loader.dispose()
        mark = err.problem_mark or err.context_mark
        where = Span(file, mark.line + 1, mark.column + 1) if mark else Span(file, 1, 1)
        problem = err.problem or "invalid YAML"
        hint = _yaml_hint(problem)
        raise SpecError(where, f"invalid YAML: {problem}", hint) from None
    except yaml.YAMLError as err:
        loader.dispose()
        raise SpecError(Span(file, 1, 1), f"invalid YAML: {err}",
                        "check the YAML syntax of the file") from None
    except SpecError:
        loader.dispose()
        raise
    if root is None:
        loader.dispose()
        raise SpecError(Span(file, 1, 1), "the file is empty",
                        "a spec file starts with 'authspec: 1' and 'kind: ...'")
    located = Located(file, None)
    try:
        located.data = _convert(root, (), located, [0], loader)
    finally:
        loader.dispose()
    return located


def _yaml_hint(problem: str) -> str:
    if "mapping values are not allowed" in problem:
        return "a ':' inside a value needs quotes, e.g. when: \"a == 'x'\""
    if "found character '\\t'" in problem:
        return "indent with spaces, not tabs"
    if "could not find expected ':'" in problem:
        return "each line of a mapping is 'key: value'"
    if "expected ',' or '}'" in problem or "expected ',' or ']'" in problem:
        return "a comma inside a {...} or [...] value needs quotes"
    return "check the indentation and quoting near that place"


def _convert(node: yaml.Node, path: Path_, doc: Located, count: list[int],
             loader: yaml.SafeLoader) -> Any:
    count[0] += 1
    if count[0] > MAX_NODES:
        raise SpecError(_span(doc.file, node), f"more than {MAX_NODES} YAML nodes",
                        "aliases may expand a small file into a huge one; write values out")
    if node.tag not in _STANDARD_TAGS:
        raise SpecError(_span(doc.file, node), f"tag {node.tag!r} is not allowed",
                        "specs use plain YAML values only; remove the '!' tag")
    _check_kind(node, doc.file)
    doc.values[path] = node
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError(_span(doc.file, key_node), "merge keys (<<) are not allowed",
                                "write the keys out")
            key = _convert(key_node, (*path, "<key>"), doc, count, loader)
            if not isinstance(key, str | int | bool) or key is None:
                raise SpecError(_span(doc.file, key_node), "a key must be a plain name",
                                "use a name such as 'spent' as the key")
            if key in result:
                first = doc.keys[(*path, key)]
                raise SpecError(_span(doc.file, key_node), f"duplicate key {key!r} (first at "
                                f"line {first.start_mark.line + 1})",
                                "YAML would silently keep only the last one; remove one")
            doc.keys[(*path, key)] = key_node
            result[key] = _convert(value_node, (*path, key), doc, count, loader)
        doc.values.pop((*path, "<key>"), None)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), doc, count, loader) for i, item in enumerate(node.value)]
    return _scalar(node, doc.file, loader)


def _check_kind(node: yaml.Node, file: str) -> None:
    """Refuse a collection tag on a scalar and a scalar tag on a collection."""
    name = node.tag.rsplit(":", 1)[-1]
    wanted = _KINDS.get(name, yaml.ScalarNode)
    if not isinstance(node, wanted):
        kinds: dict[type, str] = {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}
        found = kinds.get(type(node), "a single value")
        raise SpecError(_span(file, node), f"tag !!{name} on {found}",
                        "remove the '!!' tag; specs use plain YAML values")


def _scalar(node: yaml.Node, file: str, loader: yaml.SafeLoader) -> Any:
    name = node.tag.rsplit(":", 1)[-1]
    if name == "int" and len(str(node.value)) > 4 * MAX_INT_DIGITS:
        raise _too_long(file, node, len(str(node.value)))
    try:
        value = loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ArithmeticError, ValueError, TypeError, KeyError, AttributeError,
            IndexError):
        raise SpecError(_span(file, node), f"this value is not a valid {name}",
                        "remove the '!!' tag, or write a value of that type") from None
    if isinstance(value, int) and not isinstance(value, bool) and (
            abs(value) >= 10 ** MAX_INT_DIGITS):
        raise _too_long(file, node, len(str(abs(value))))
    return value


def _too_long(file: str, node: yaml.Node, digits: int) -> SpecError:
    return SpecError(_span(file, node), f"an integer of {digits} characters; the limit is "
                     f"{MAX_INT_DIGITS} digits",
                     "bounds and amounts are small numbers; check for a typo")
