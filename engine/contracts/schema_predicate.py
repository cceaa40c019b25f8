"""A JSON Schema compiled to one plain Python function that says "certainly valid".

``compile_predicate(schema)`` returns ``f(instance) -> bool``: ``True`` only when the
instance is valid; ``False`` when it is not, *or* when the schema uses a keyword this
compiler leaves to a full validator (``patternProperties``, ``dependentRequired`` ...)
at a place the instance reaches. A caller asks the full validator whenever the answer is
``False``, so the predicate may be stricter than the schema but never more lenient:

* types are tested exactly (``type(v) is str``): a ``bool`` is no integer, and a float
  given for an integer, or a value of no JSON type (a ``str`` subclass, say) is left to
  the full validator, also where a keyword of one type applies and no ``type`` is given;
* ``number`` accepts finite floats only; no bound holds for NaN here (JSON Schema passes
  NaN through every bound: left unsure);
* ``enum`` and ``const`` compare type and value (``1`` is not ``true``; ``1`` and ``1.0``,
  equal to JSON Schema, left unsure);
* only references within the document (``#`` and ``#/...``, not percent-encoded) are
  followed, and a schema naming a draft other than 2020-12, 2019-09 or 07, or one with an
  ``$id`` or a ``$schema`` of its own below the root (or a reference through one), is left
  to the full validator;
* ``pattern`` is searched with Python's ``re`` and ``format`` asks the full validator's
  format checker, as the full validator does; the pattern that admits ASCII strings alone
  (``ASCII_PATTERN``) is ``str.isascii``, the same answer for a tenth of the cost;
* ``allOf`` checks each of its schemas on the value (a caller narrows a schema with it);
* ``anyOf``, ``oneOf`` and ``not`` need to know that a schema is *not* met, which "unsure"
  cannot say: each of their schemas becomes a helper function answering ``1`` (certainly
  valid), ``0`` (certainly invalid: a check broken by a value of a JSON type) or ``2``
  (unsure), and the keyword combines the answers (``oneOf`` is sure only when one says
  ``1`` and every other ``0``); a ``$ref`` met again inside its own expansion (a recursive
  schema, such as the mapping file's) is a helper too, called as deep as the instance goes.

The generated code is one function with the checks inlined, property by property, so a
valid payload costs a fraction of a general validator's generic machinery: it is the fast
path of ``SchemaValidator.is_valid`` on every item of the delivery path, and the mapping
file's check before ``jsonschema`` is asked (and imported) for the messages of one that fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .schema_keywords import ASCII_PATTERN, TYPES, Conforms, KeywordEmitter

__all__ = ["ASCII_PATTERN", "Conforms", "Predicate", "compile_predicate"]

Predicate = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "definitions",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_HANDLED = frozenset(
    {
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "minProperties",
        "maxProperties",
        "items",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "pattern",
        "format",
        "propertyNames",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "uniqueItems",
    }
)
"""The keywords the predicate checks itself; any other sends the instance to the full
validator."""
_TYPED = frozenset(
    {"minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum"}
    | {"exclusiveMaximum", "items", "minItems", "maxItems", "uniqueItems", "properties"}
    | {"required", "additionalProperties", "minProperties", "maxProperties", "propertyNames"}
)
"""Keywords that apply to values of one JSON type (checked behind a test of it)."""
_REBASED = frozenset({"$id", "$schema"})
"""Below the root, keywords that give a schema its own base for references, or its own
draft: such a schema is left to the full validator."""
_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_SAME_MEANING = frozenset(
    {
        f"{scheme}://json-schema.org/{draft}"
        for scheme in ("http", "https")
        for draft in ("draft/2020-12/schema", "draft/2019-09/schema", "draft-07/schema")
    }
)
"""The drafts whose meaning of every keyword compiled here is the 2020-12 one this
compiler follows (a schema naming another, draft-04 say, is left to its validator)."""
_MAX_DEPTH = 16
_MAX_LINES = 4000


class _Emitter(KeywordEmitter):
    def __init__(self, root: Mapping[str, Any], conforms: Conforms | None) -> None:
        super().__init__(conforms)
        self.root = root

    def resolve(self, node: Any) -> Any:
        for _ in range(_MAX_DEPTH):
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                return node
            fragment = node["$ref"][1:]
            if len(node) > 1 or node["$ref"][:1] != "#" or fragment[:1] not in ("", "/"):
                return None  # beside other keywords, to another document, or an anchor
            if "%" in fragment:
                return None  # percent-encoded: left to the validator's reading
            target: Any = self.root
            for part in fragment.split("/")[1:]:
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, Mapping) or part not in target:
                    return None
                target = target[part]
                if isinstance(target, Mapping) and _REBASED & set(target):
                    return None  # through a schema of its own base or draft
            node = target
        return None

    def emit(self, node: Any, v: str, pad: str, depth: int) -> None:
        """Lines that go on only while ``v`` is certainly valid against ``node``, else
        return (``False``; in a helper ``0``, or ``2`` where unsure)."""
        if isinstance(node, Mapping) and _REBASED & set(node) and node is not self.root:
            self.unsure(pad)  # a new base or draft: its references and keywords its own
            return
        alone = isinstance(node, Mapping) and not set(node) - _ANNOTATIONS - {"$ref"}
        ref = node.get("$ref") if alone else None  # beside annotations ($defs) only
        if isinstance(ref, str) and ref.startswith("#"):
            target = self.resolve({"$ref": ref})
            if target is None:
                self.unsure(pad)
            elif ref in self.expanding:  # recursion: a function of its own, called
                self.call(self.helper(ref, target, [ref], depth + 1), v, pad)
            else:
                self.expanding.append(ref)
                self.emit(target, v, pad, depth)
                self.expanding.pop()
            return
        node = self.resolve(node)
        if node is True or node == {}:
            return
        if not isinstance(node, Mapping) or depth > _MAX_DEPTH:
            self.unsure(pad)
            return
        keys = set(node) - _ANNOTATIONS
        if keys - _HANDLED:
            self.unsure(pad)  # a keyword for the full validator
            return
        kinds = node.get("type")
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if kinds is not None:
            if not isinstance(kinds, list) or not kinds or any(k not in TYPES for k in kinds):
                self.unsure(pad)
                return
            test = " or ".join(TYPES[k].format(v=v) for k in kinds)
            numeric = "integer" in kinds or "number" in kinds  # 1.0 is an integer, left unsure
            self.lines.append(f"{pad}if not ({test}):")
            # A float may be an integer (1.0); a value of no JSON type is left to the validator.
            odd = f"type({v}) not in _json_types" + (f" or type({v}) is float" if numeric else "")
            self.fail(pad + "    ", odd)
        elif keys & _TYPED:  # checked for one type only: of no JSON type, left unsure
            self.lines.append(f"{pad}if type({v}) not in _json_types:")
            self.unsure(pad + "    ")
        only = kinds[0] if kinds is not None and len(kinds) == 1 else None
        self.emit_values(node, v, pad)
        self.emit_string(node, v, pad, only)
        self.emit_number(node, v, pad, only)
        self.emit_array(node, v, pad, only, depth)
        self.emit_object(node, v, pad, only, depth)
        if "allOf" in node:
            self.emit_all_of(node["allOf"], v, pad, depth)
        self.emit_combined(node, v, pad, depth)

    def helper(self, key: Any, node: Any, expanding: list[str], depth: int) -> str:
        """The name of a helper answering for ``node`` (made once per ``key``; the node
        is kept with it, so an ``id`` key is never another node's)."""
        made = self.helper_of.get(key)
        if made is not None:
            return str(made[0])
        name = self.name("_h")
        self.helper_of[key] = (name, node)
        saved = self.lines, self.in_helper, self.expanding
        self.lines, self.in_helper, self.expanding = [], True, expanding
        self.emit(node, "v", "    ", depth)
        self.helpers.append([f"def {name}(v):", *self.lines, "    return 1"])
        self.lines, self.in_helper, self.expanding = saved
        return name

    def branch(self, node: Any, depth: int) -> str:
        """The helper of one schema of ``anyOf``, ``oneOf`` or ``not``."""
        return self.helper(id(node), node, [*self.expanding], depth + 1)

    def call(self, name: str, v: str, pad: str) -> None:
        """Lines that go on only when the helper ``name`` is sure ``v`` is valid."""
        if not self.in_helper:
            self.lines += [f"{pad}if {name}({v}) != 1:", f"{pad}    return False"]
            return
        r = self.name("_r")
        self.lines += [f"{pad}{r} = {name}({v})", f"{pad}if {r} != 1:", f"{pad}    return {r}"]

    def emit_combined(self, node: Mapping[str, Any], v: str, pad: str, depth: int) -> None:
        """``anyOf``, ``oneOf`` and ``not``: each schema a helper, their answers combined;
        an unsure answer leaves the whole unsure unless the others settle it."""
        for keyword in ("anyOf", "oneOf"):
            schemas = node.get(keyword)
            if schemas is None:
                continue
            if not isinstance(schemas, list) or not schemas:
                self.unsure(pad)
                return
            rs = self.name("_rs")
            calls = ", ".join(f"{self.branch(s, depth)}({v})" for s in schemas)
            self.lines.append(f"{pad}{rs} = ({calls},)")
            if keyword == "anyOf":
                self.lines.append(f"{pad}if 1 not in {rs}:")
                self.fail(pad + "    ", f"2 in {rs}")
                continue
            self.lines.append(f"{pad}if {rs}.count(1) > 1:")  # more than one: invalid
            self.fail(pad + "    ")
            self.lines.append(f"{pad}if 1 not in {rs} or 2 in {rs}:")
            self.fail(pad + "    ", f"2 in {rs}")
        if "not" in node:
            r = self.name("_r")
            self.lines.append(f"{pad}{r} = {self.branch(node['not'], depth)}({v})")
            self.lines.append(f"{pad}if {r} != 0:")
            self.fail(pad + "    ", f"{r} == 2")

    def emit_all_of(self, schemas: Any, v: str, pad: str, depth: int) -> None:
        if not isinstance(schemas, list) or not schemas:
            self.unsure(pad)
            return
        for schema in schemas:
            self.emit(schema, v, pad, depth + 1)


def compile_predicate(schema: Mapping[str, Any], conforms: Conforms | None = None) -> Predicate:
    """``f(instance)``: ``True`` only when ``instance`` is valid against ``schema``;
    ``conforms``: the format checker the full validator uses (none: formats annotate)."""
    emitter = _Emitter(schema, conforms)
    if str(schema.get("$schema", _DRAFT)).rstrip("#") not in _SAME_MEANING:
        emitter.lines = ["    return False"]  # another draft's keywords: its validator's
    else:
        try:
            emitter.emit(schema, "v", "    ", 0)
        except RecursionError:  # nested deeper than this compiler goes: ask the validator
            emitter.lines, emitter.helpers = ["    return False"], []
    helpers = [line for helper in emitter.helpers for line in helper]
    if len(emitter.lines) + len(helpers) > _MAX_LINES:  # too large to inline: ask the validator
        emitter.lines, helpers = ["    return False"], []
    main = ["def _valid(v):", *emitter.lines, "    return True"]
    if helpers:  # recursion follows the instance: one nested too deep is left unsure
        main = [
            "def _valid(v):",
            "    try:",
            "        return _main(v)",
            "    except RecursionError:",
            "        return False",
            "def _main(v):",
            *main[1:],
        ]
    source = "\n".join([*helpers, *main, ""])
    namespace: dict[str, Any] = dict(emitter.consts)
    try:
        code = compile(source, "<schema predicate>", "exec")
    except (SyntaxError, RecursionError, MemoryError):  # nested too deep for Python
        code = compile("def _valid(v):\n    return False\n", "<schema predicate>", "exec")
    exec(code, namespace)
    predicate: Predicate = namespace["_valid"]
    return predicate
