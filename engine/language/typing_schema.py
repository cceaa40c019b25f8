"""The types of JSON values a mapping expression may produce, read from JSON Schemas.

A ``Ty`` is what the static checker knows about a value: the set of JSON kinds it may be
(``null boolean integer number string array object``; ``integer`` is kept apart because
destinations care), the finite set of scalar values it can take when the schema says so
(``enum``/``const``/literals), the element type of arrays, and the shapes of objects.

``from_schema`` turns a JSON Schema node into a ``Ty``, following ``$ref`` (local ones),
``allOf``/``anyOf``/``oneOf``, ``type`` lists, ``nullable``, ``enum``/``const``,
``properties``, ``patternProperties``, ``additionalProperties`` and ``items``; an open
enum (``x-extensible-enum``: the values known today, others allowed) is kept as hints. Object shapes
read their properties lazily, so recursive schemas cost nothing until a path goes there.

``lookup(ty, key)`` is one path step: the type of ``ty.key`` and whether some object shape
declares the key. An object that declares ``properties`` (and does not allow other keys
through an ``additionalProperties`` schema) is *closed*: a key it does not declare is
a typo. An object without declared properties (``user_attributes``, ``custom_attributes``)
is a free-form map: any key is fine and its value has the map's value type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..contracts.value_types import json_kind

KINDS = frozenset({"null", "boolean", "integer", "number", "string", "array", "object"})
_SCALARS = frozenset({"null", "boolean", "integer", "number", "string"})
_MAX_DEPTH = 64


@dataclass(frozen=True, eq=False)
class Shape:
    """One possible object: declared properties, pattern properties, and the rest."""

    props: Mapping[str, Ty] | None = None
    patterns: tuple[tuple[str, Ty], ...] = ()
    extra: Ty | None = None
    extra_declared: bool = False
    closed: bool = False
    exact: bool = False
    _schema: Mapping[str, Any] | None = field(default=None, repr=False)
    _root: Mapping[str, Any] | None = field(default=None, repr=False)

    def declared(self) -> Mapping[str, Ty] | None:
        """The declared properties (computed from the schema on first use), or None."""
        if self.props is None and self._schema is not None:
            raw = self._schema.get("properties")
            if isinstance(raw, Mapping) and raw:
                root = self._root or self._schema
                required = set(self._schema.get("required") or ())
                props = {
                    k: from_schema(v, root) if k in required else from_schema(v, root).with_null()
                    for k, v in raw.items()
                }
                object.__setattr__(self, "props", props)
        return self.props

    def step(self, key: str) -> tuple[Ty, bool | None]:
        """``(type of the key's value, declared?)``; declared is None for free-form maps."""
        props = self.declared()
        if props is not None and key in props:
            return props[key], True
        for pattern, ty in self.patterns:
            if re.search(pattern, key):
                return ty, True
        if self.extra_declared:
            return (self.extra or ANY).with_null(), True
        if props is not None or self.closed:
            return NULL, False
        return ANY, None


@dataclass(frozen=True, eq=False)
class Ty:
    kinds: frozenset[str]
    values: frozenset[Any] = frozenset()  # every value of the kinds in ``valued``
    items: Ty | None = None  # element type of arrays (None: anything)
    shapes: tuple[Shape, ...] = ()  # object shapes (none: any object)
    checked: bool = True  # False: an error was reported upstream; say nothing more
    valued: frozenset[str] | None = None  # scalar kinds whose values are all known
    hints: frozenset[Any] = frozenset()  # values an open enum (x-extensible-enum) names

    def __post_init__(self) -> None:
        valued = self.valued
        if valued is None:
            valued = frozenset(kind_of(v) for v in self.values) & self.kinds
        if "null" in self.kinds and "null" not in valued:  # null has one value
            valued = valued | {"null"}
            object.__setattr__(self, "values", self.values | {None})
        object.__setattr__(self, "valued", valued)

    @property
    def known(self) -> frozenset[str]:
        """The kinds whose possible values are all listed in ``values``."""
        return self.valued or frozenset()

    @property
    def is_any(self) -> bool:
        """Nothing is known (null aside)."""
        return KINDS - {"null"} <= self.kinds and not self.known - {"null"} and not self.shapes

    @property
    def only_null(self) -> bool:
        return self.kinds == frozenset({"null"})

    @property
    def may_be_null(self) -> bool:
        return "null" in self.kinds

    def replace(self, kinds: frozenset[str], values: frozenset[Any], known: frozenset[str]) -> Ty:
        known = known & kinds
        values = frozenset(v for v in values if kind_of(v) in known)
        return Ty(kinds, values, self.items, self.shapes, self.checked, known, self.hints)

    def with_null(self) -> Ty:
        return self.replace(self.kinds | {"null"}, self.values | {None}, self.known | {"null"})

    def without_null(self) -> Ty:
        if "null" not in self.kinds:
            return self
        return self.replace(self.kinds - {"null"}, self.values, self.known)

    def describe(self) -> str:
        if self.is_any:
            return "any"
        names = [k for k in _ORDER if k in self.kinds]
        return " or ".join(names) if names else "nothing"


_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")


kind_of = json_kind
"""A value's JSON Schema type name (``integer`` told from ``number``)."""


ANY = Ty(KINDS)
NULL = Ty(frozenset({"null"}), frozenset({None}))
NOTHING = Ty(frozenset())
UNCHECKED = Ty(KINDS, checked=False)
BOOLEAN = Ty(frozenset({"boolean"}))
STRING = Ty(frozenset({"string"}))
INTEGER = Ty(frozenset({"integer"}))
NUMBER = Ty(frozenset({"integer", "number"}))


def of_value(value: Any) -> Ty:
    """The exact type of a literal JSON value."""
    kind = kind_of(value)
    if kind in _SCALARS:
        return Ty(frozenset({kind}), frozenset({value}))
    if kind == "array":
        return array_of(union(*(of_value(v) for v in value)) if value else NOTHING)
    props = {str(k): of_value(v) for k, v in value.items()}
    return object_of(props, exact=True)


def array_of(items: Ty | None) -> Ty:
    return Ty(frozenset({"array"}), items=items)


def object_of(props: Mapping[str, Ty], *, exact: bool = False) -> Ty:
    """An object the mapping builds: exactly these keys (``exact``) or at least these."""
    return Ty(frozenset({"object"}), shapes=(Shape(dict(props), closed=exact, exact=exact),))


def from_kinds(names: Iterable[str]) -> Ty:
    """A type from JSON type names (``number`` includes integers; ``any`` is anything)."""
    kinds: set[str] = set()
    for name in names:
        if name == "any":
            return ANY
        kinds.add(name)
        if name == "number":
            kinds.add("integer")
    return ANY if not kinds else Ty(frozenset(kinds))


def union(*types: Ty) -> Ty:
    if not types:
        return NOTHING
    if len(types) == 1:
        return types[0]
    kinds = frozenset().union(*(t.kinds for t in types))
    known = frozenset(k for k in kinds if all(k in t.known for t in types if k in t.kinds))
    values = frozenset(v for t in types for v in t.values if kind_of(v) in known)
    arrays = [t for t in types if "array" in t.kinds]
    items: Ty | None = None
    if arrays and all(t.items is not None for t in arrays):
        items = union(*(t.items for t in arrays if t.items is not None))
    objects = [t for t in types if "object" in t.kinds]
    shapes: tuple[Shape, ...] = ()
    if objects and all(t.shapes for t in objects):
        shapes = tuple(s for t in objects for s in t.shapes)
    hints = frozenset(v for t in types for v in t.hints)
    return Ty(kinds, values, items, shapes, all(t.checked for t in types), known, hints)


def lookup(ty: Ty, key: str) -> tuple[Ty, bool | None]:
    """The type of ``ty.key``, and whether the key is declared.

    ``declared`` is True when some object shape declares ``key``, False when ``ty`` can
    only be objects that all declare their properties and none has ``key`` (a typo), and
    None when nothing can be said (free-form objects, or ``ty`` is not an object at all).
    """
    if not ty.checked:
        return UNCHECKED, None
    parts: list[Ty] = []
    declared: bool | None = None
    if ty.kinds - {"object"}:
        parts.append(NULL)
    if "object" in ty.kinds:
        if not ty.shapes:
            return ANY, None
        found = [shape.step(key) for shape in ty.shapes]
        parts.extend(t for t, _ in found)
        flags = [d for _, d in found]
        declared = True if True in flags else (None if None in flags else False)
    return union(*parts), declared


def element(ty: Ty) -> Ty:
    """The type of one element of ``ty`` when it is an array."""
    if not ty.checked:
        return UNCHECKED
    if "array" not in ty.kinds:
        return NOTHING
    return ty.items if ty.items is not None else ANY


def declared_keys(ty: Ty) -> list[str]:
    keys: list[str] = []
    for shape in ty.shapes:
        keys.extend(shape.declared() or {})
    return list(dict.fromkeys(keys))


# -- JSON Schema -> Ty --------------------------------------------------------------------
def _resolve(node: Any, root: Mapping[str, Any], depth: int) -> Any:
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and depth < _MAX_DEPTH:
        ref: str = node["$ref"]
        if not ref.startswith("#"):
            return {}
        target: Any = root
        for part in ref[1:].split("/")[1:] if ref != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        rest = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **rest} if rest and isinstance(target, Mapping) else target
        depth += 1
    return node


def from_schema(node: Any, root: Mapping[str, Any] | None = None, depth: int = 0) -> Ty:
    """The type of the values that JSON Schema ``node`` (inside ``root``) accepts."""
    root = root if root is not None else (node if isinstance(node, Mapping) else {})
    if depth > _MAX_DEPTH:
        return ANY
    node = _resolve(node, root, depth)
    if node is True or node is None:
        return ANY
    if node is False:
        return NOTHING
    if not isinstance(node, Mapping):
        return ANY
    for combinator in ("anyOf", "oneOf"):
        branches = node.get(combinator)
        if isinstance(branches, list) and branches:
            base = {k: v for k, v in node.items() if k != combinator}
            merged = [_merge(base, _resolve(b, root, depth)) for b in branches]
            return union(*(from_schema(b, root, depth + 1) for b in merged))
    all_of = node.get("allOf")
    if isinstance(all_of, list) and all_of:
        base = {k: v for k, v in node.items() if k != "allOf"}
        for part in all_of:
            part = _resolve(part, root, depth)
            if isinstance(part, Mapping) and not ({"if", "then", "else"} & set(part)):
                base = _merge(base, part)
        return from_schema(base, root, depth + 1)
    if "const" in node:
        return of_value(node["const"])
    if isinstance(node.get("enum"), list):
        enum = node["enum"]
        ty = union(*(of_value(v) for v in enum)) if enum else NOTHING
        return ty
    raw = node.get("type")
    names = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
    ty = from_kinds(names) if names else _implied(node)
    if node.get("nullable") is True:
        ty = ty.with_null()
    items: Ty | None = None
    shapes: tuple[Shape, ...] = ()
    if "array" in ty.kinds:
        item_node = node.get("items")
        prefix = node.get("prefixItems")
        if isinstance(item_node, Mapping | bool):
            items = from_schema(item_node, root, depth + 1)
        if isinstance(prefix, list) and prefix:
            parts = [from_schema(p, root, depth + 1) for p in prefix]
            items = union(*parts, *([items] if items is not None else [ANY]))
    if "object" in ty.kinds:
        shapes = (_shape(node, root, depth),)
    hints = node.get("x-extensible-enum")
    known_values = frozenset(hints) if isinstance(hints, list) else frozenset()
    return Ty(ty.kinds, ty.values, items, shapes, True, ty.known, known_values)


def _implied(node: Mapping[str, Any]) -> Ty:
    """The kinds a schema without ``type`` allows (all, unless it only describes objects)."""
    return ANY


def _merge(a: Mapping[str, Any], b: Any) -> dict[str, Any]:
    if not isinstance(b, Mapping):
        return dict(a)
    out = dict(a)
    for key, value in b.items():
        if key == "properties" and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        elif key == "type" and "type" in out:
            mine = {out["type"]} if isinstance(out["type"], str) else set(out["type"])
            theirs = {value} if isinstance(value, str) else set(value)
            both = mine & theirs or (
                {"integer"} if "integer" in mine | theirs and "number" in mine | theirs else set()
            )
            out["type"] = sorted(both)
        else:
            out[key] = value
    return out


def _shape(node: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> Shape:
    extra_node = node.get("additionalProperties", True)
    patterns = tuple(
        (p, from_schema(s, root, depth + 1))
        for p, s in (node.get("patternProperties") or {}).items()
    )
    declared_extra = isinstance(extra_node, Mapping)
    props = node.get("properties")
    has_props = isinstance(props, Mapping) and bool(props)
    return Shape(
        props=None,
        patterns=patterns,
        extra=from_schema(extra_node, root, depth + 1) if declared_extra else None,
        extra_declared=declared_extra,
        closed=has_props or extra_node is False,
        _schema=node,
        _root=root,
    )
