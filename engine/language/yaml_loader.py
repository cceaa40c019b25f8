"""Read YAML or JSON into plain values while remembering where every node came from.

``load(text, path)`` returns the value, a ``Positions`` index from JSON paths (tuples of
keys and indexes) to 1-based ``(line, col)``, and the problems found on the way (syntax
errors, duplicate keys). Nothing here knows about mappings; the spec loader and the config
loader both use it so every error can say ``file:line:col``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from ..contracts.errors import Problem
from .yaml_errors import syntax_problem

Path = tuple[str | int, ...]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Positions:
    """Where each value (and each mapping key) starts in the source text."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    styles: dict[Path, str | None] = field(default_factory=dict)
    block_texts: dict[Path, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def of(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Position of ``path``'s value (or its key), else of the nearest ancestor."""
        table = self.keys if key else self.values
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if p in self.values:
                return self.values[p]
            p = p[:-1]
        return self.values.get((), (1, 1))

    def problem(self, path: Path, code: str, message: str, *, key: bool = False) -> Problem:
        line, col = self.of(path, key=key)
        return Problem(self.file, line, col, code, message)

    def inside(self, path: Path, offset: int) -> tuple[int, int]:
        """Position of character ``offset`` inside the string scalar at ``path``."""
        line, col = self.of(path)
        style = self.styles.get(tuple(path))
        if style in ("|", ">"):
            # Block scalar: content starts on the next line at the block's indentation.
            line += 1
            text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
            indent = len(text) - len(text.lstrip(" "))
            for chunk in self.block_texts.get(tuple(path), "").split("\n"):
                if offset <= len(chunk):
                    break
                offset -= len(chunk) + 1
                line += 1
            return line, indent + offset + 1
        if style in ("'", '"'):
            col += 1
        return line, col + offset


class _Builder:
    def __init__(self, positions: Positions, problems: list[Problem]) -> None:
        self.positions = positions
        self.problems = problems
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path) -> Any:
        mark = node.start_mark
        self.positions.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.problems.append(
                        self.positions.problem(
                            path, "E002", "YAML merge keys (<<) are not supported"
                        )
                    )
                    continue
                key = self.constructor.construct_object(key_node)
                if not isinstance(key, str):
                    key = str(key)
                kmark = key_node.start_mark
                kpos = (kmark.line + 1, kmark.column + 1)
                if key in result:
                    first = self.positions.keys[(*path, key)]
                    self.problems.append(
                        Problem(
                            self.positions.file,
                            *kpos,
                            "E003",
                            f"duplicate key {key!r} (first defined at line {first[0]})",
                        )
                    )
                    continue
                self.positions.keys[(*path, key)] = kpos
                result[key] = self.build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        self.positions.styles[path] = node.style
        value = self.constructor.construct_object(node)
        if isinstance(value, str) and node.style in ("|", ">"):
            self.positions.block_texts[path] = value
        if not isinstance(value, str | int | float | bool | type(None)):
            # Dates and other YAML-only types become their text; specs are JSON data.
            value = node.value
        return value


def load(text: str, file: str) -> tuple[Any, Positions, list[Problem]]:
    """Parse YAML (a superset of JSON) into plain values with positions and problems."""
    positions = Positions(file, lines=text.splitlines())
    problems: list[Problem] = []
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        problems.append(syntax_problem(exc, text, file))
        return None, positions, problems
    except yaml.YAMLError as exc:
        problems.append(Problem(file, 1, 1, "E001", f"YAML syntax: {exc}"))
        return None, positions, problems
    if node is None:
        return None, positions, problems
    value = _Builder(positions, problems).build(node, ())
    return value, positions, problems
