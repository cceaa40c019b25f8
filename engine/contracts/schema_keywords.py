"""The keyword-level half of ``schema_predicate``'s code generator: the lines that check
one value against one schema's own keywords (type tests, values, strings, numbers, arrays,
objects), each broken check a ``fail`` line, each form it leaves to the full validator an
``unsure`` one. ``schema_predicate`` adds the structure: references, ``allOf``, ``anyOf``,
``oneOf``, ``not`` and the compiled function itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

Conforms = Callable[[Any, str], bool]
"""``conforms(instance, format)``, as the full validator's format checker answers it."""

TYPES = {
    "string": "type({v}) is str",
    "object": "type({v}) is dict",
    "array": "type({v}) is list",
    "boolean": "({v} is True or {v} is False)",
    "null": "{v} is None",
    "integer": "type({v}) is int",
    "number": "(type({v}) is int or type({v}) is float and _finite({v}))",
}
JSON_TYPES = frozenset({str, int, float, bool, type(None), list, dict})
_NUMBER_GUARD = "(type({v}) is int or type({v}) is float)"
ASCII_PATTERN = "^[\\x00-\\x7f]*$"
"""Strings of ASCII characters only, any length: the pattern ``str.isascii`` answers."""


def unique_strings(items: list[Any]) -> int:
    """``uniqueItems`` on an array of strings: 1 all distinct, 0 a repeat; 2 (unsure) for
    other items, which JSON Schema compares its own way (``1`` equals ``1.0``)."""
    if not all(type(item) is str for item in items):
        return 2
    return 1 if len(set(items)) == len(items) else 0


class KeywordEmitter:
    """Lines of a generated function, and the constants they name."""

    def __init__(self, conforms: Conforms | None) -> None:
        self.conforms = conforms
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {"_finite": math.isfinite, "_json_types": JSON_TYPES}
        self.names = 0
        #: Emitting a helper: a function answering 1 (certainly valid), 0 (certainly
        #: invalid) or 2 (unsure), which ``anyOf``, ``oneOf``, ``not`` and recursion need.
        self.in_helper = False
        self.helpers: list[list[str]] = []
        self.helper_of: dict[Any, tuple[str, Any]] = {}
        self.expanding: list[str] = []  # the ``$ref``s inlined on the way here

    def name(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def const(self, value: Any) -> str:
        key = self.name("_c")
        self.consts[key] = value
        return key

    def fail(self, pad: str, unsure_if: str | None = None) -> None:
        """The instance broke a check: certainly invalid, unless ``unsure_if`` holds."""
        if not self.in_helper:
            self.lines.append(f"{pad}return False")
        elif unsure_if is None:
            self.lines.append(f"{pad}return 0")
        else:
            self.lines.append(f"{pad}return 2 if {unsure_if} else 0")

    def unsure(self, pad: str) -> None:
        """A keyword or form this compiler leaves to the full validator."""
        self.lines.append(f"{pad}return {2 if self.in_helper else False}")

    def emit(self, node: Any, v: str, pad: str, depth: int) -> None:
        """Lines that answer for ``v`` against ``node`` (``schema_predicate``'s)."""
        raise NotImplementedError

    def resolve(self, node: Any) -> Any:
        """``node`` with its ``$ref`` followed (``schema_predicate``'s)."""
        raise NotImplementedError

    def guarded(self, kind: str, only: str | None, v: str, pad: str) -> str:
        """The indentation for checks that apply to one JSON type only."""
        if only == kind or (kind == "number" and only in ("integer", "number")):
            return pad
        guard = _NUMBER_GUARD if kind == "number" else TYPES[kind]
        self.lines.append(f"{pad}if {guard.format(v=v)}:")
        return pad + "    "

    def emit_values(self, node: Mapping[str, Any], v: str, pad: str) -> None:
        if "enum" not in node and "const" not in node:
            return
        allowed = node.get("enum", [node.get("const")])
        if ("enum" in node and "const" in node) or not isinstance(allowed, list) or not allowed:
            self.unsure(pad)
            return
        if any(type(a) not in (str, int, float, bool) for a in allowed):
            self.unsure(pad)  # structured or null members: the full validator compares them
            return
        odd = f"type({v}) not in _json_types"  # compared by JSON Schema its own way
        if all(type(a) is str for a in allowed):
            members = self.const(frozenset(allowed))
            self.lines.append(f"{pad}if type({v}) is not str or {v} not in {members}:")
            self.fail(pad + "    ", odd)
            return
        pairs = self.const(frozenset((type(a), a) for a in allowed))
        scalar = self.const((str, int, float, bool))
        self.lines.append(f"{pad}if type({v}) not in {scalar} or (type({v}), {v}) not in {pairs}:")
        number = f"type({v}) is int or type({v}) is float"  # 1 equals 1.0 there
        self.fail(pad + "    ", f"{odd} or {number}")

    def count(self, value: Any, pad: str) -> int | None:
        """A ``minLength``-style count, or ``None`` (and an unsure line) when it is not one."""
        if type(value) is int and value >= 0:
            return value
        self.unsure(pad)
        return None

    def sizes(self, node: Mapping[str, Any], low: str, high: str, v: str, pad: str) -> None:
        """``len(v)`` within ``node[low]`` and ``node[high]`` (each optional)."""
        for key, op in ((low, "<"), (high, ">")):
            if key in node:
                limit = self.count(node[key], pad)
                if limit is not None:
                    self.lines.append(f"{pad}if len({v}) {op} {limit}:")
                    self.fail(pad + "    ")

    def emit_string(self, node: Mapping[str, Any], v: str, pad: str, only: str | None) -> None:
        if "minLength" in node or "maxLength" in node:
            inner = self.guarded("string", only, v, pad)
            self.sizes(node, "minLength", "maxLength", v, inner)
        pattern = node.get("pattern")
        if pattern is not None:
            inner = self.guarded("string", only, v, pad)
            if pattern == ASCII_PATTERN:  # exactly the strings ``isascii`` accepts
                self.lines.append(f"{inner}if not {v}.isascii():")
                self.fail(inner + "    ")
            else:
                self.emit_pattern(pattern, v, inner)
        if "format" in node and self.conforms is not None:
            # Without a format checker a format is an annotation; with one, its answer.
            fmt = self.const(node["format"])
            self.lines.append(f"{pad}if not {self.const(self.conforms)}({v}, {fmt}):")
            self.fail(pad + "    ")

    def emit_pattern(self, pattern: Any, v: str, pad: str) -> None:
        try:
            compiled = re.compile(pattern) if isinstance(pattern, str) else None
        except re.error:
            compiled = None
        if compiled is None:
            self.unsure(pad)
        else:  # unanchored, with Python's re: as the full validator searches
            self.lines.append(f"{pad}if {self.const(compiled)}.search({v}) is None:")
            self.fail(pad + "    ")

    def emit_number(self, node: Mapping[str, Any], v: str, pad: str, only: str | None) -> None:
        keywords = (
            ("minimum", ">="),
            ("maximum", "<="),
            ("exclusiveMinimum", ">"),
            ("exclusiveMaximum", "<"),
        )
        bounds: list[tuple[Any, str]] = [(node[k], op) for k, op in keywords if k in node]
        if not bounds:
            return
        inner = self.guarded("number", only, v, pad)
        for bound, op in bounds:
            if type(bound) not in (int, float) or not math.isfinite(bound):
                self.unsure(inner)
                continue
            self.lines.append(f"{inner}if not ({v} {op} {bound!r}):")
            self.fail(inner + "    ", f"{v} != {v}")  # NaN: no bound holds, JSON Schema's pass

    def emit_array(
        self, node: Mapping[str, Any], v: str, pad: str, only: str | None, depth: int
    ) -> None:
        items = node.get("items")
        if "items" in node and items is None:
            self.unsure(pad)  # not a schema
            return
        unique = node.get("uniqueItems", False)
        if "minItems" not in node and "maxItems" not in node and items is None and not unique:
            return
        inner = self.guarded("array", only, v, pad)
        self.sizes(node, "minItems", "maxItems", v, inner)
        if unique is True:  # strings alone are compared here; other items left unsure
            u = self.name("_u")
            self.lines.append(f"{inner}{u} = {self.const(unique_strings)}({v})")
            self.lines.append(f"{inner}if {u} != 1:")
            self.fail(inner + "    ", f"{u} == 2")
        elif unique is not False:
            self.unsure(inner)
        if items is not None and items is not True and items != {}:
            item = self.name("_i")
            self.lines.append(f"{inner}for {item} in {v}:")
            self.emit(items, item, inner + "    ", depth + 1)

    def emit_object(
        self, node: Mapping[str, Any], v: str, pad: str, only: str | None, depth: int
    ) -> None:
        props = node.get("properties", {})  # a malformed value is not "none": unsure below
        required = node.get("required", [])
        extra = node.get("additionalProperties", True)
        sized = "minProperties" in node or "maxProperties" in node
        names = node.get("propertyNames", True)
        if not isinstance(props, Mapping) or not isinstance(required, list):
            self.unsure(pad)
            return
        if any(type(name) is not str for name in props):  # not a name JSON can have
            self.unsure(pad)
            return
        if not (props or required or extra is not True or sized or names is not True):
            return  # empty ones: nothing to check
        inner = self.guarded("object", only, v, pad)
        self.sizes(node, "minProperties", "maxProperties", v, inner)
        if names is not True and names != {}:
            key = self.name("_n")
            self.lines.append(f"{inner}for {key} in {v}:")
            self.emit(names, key, inner + "    ", depth + 1)
        if any(type(name) is not str for name in required):
            self.unsure(inner)
        for name in required:
            self.lines.append(f"{inner}if {name!r} not in {v}:")
            self.fail(inner + "    ")
        if extra is False:
            self.lines.append(f"{inner}if not {v}.keys() <= {self.const(frozenset(props))}:")
            self.fail(inner + "    ")
        elif extra is not True and extra != {}:
            value = self.name("_x")
            if props:
                key = self.name("_k")
                self.lines.append(f"{inner}for {key}, {value} in {v}.items():")
                self.lines.append(f"{inner}    if {key} not in {self.const(frozenset(props))}:")
                self.emit(extra, value, inner + "        ", depth + 1)
            else:  # every value is an additional one
                self.lines.append(f"{inner}for {value} in {v}.values():")
                self.emit(extra, value, inner + "    ", depth + 1)
        for name, sub in props.items():
            if (resolved := self.resolve(sub)) is True or resolved == {}:
                continue
            value = self.name("_p")
            if name in required:  # present: tested above
                self.lines.append(f"{inner}{value} = {v}[{name!r}]")
                self.emit(sub, value, inner, depth + 1)
                continue
            self.lines.append(f"{inner}if {name!r} in {v}:")
            self.lines.append(f"{inner}    {value} = {v}[{name!r}]")
            self.emit(sub, value, inner + "    ", depth + 1)
