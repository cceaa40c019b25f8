"""Runtime support for the Python code that ``jmespath_codegen`` generates.

Generated code handles the common cases inline (plain ``dict``/``list``/``str`` values)
and calls the helpers here for everything else, so that the rare cases (subclasses,
exotic objects) behave exactly as jmespath's ``TreeInterpreter`` does. The helpers are
copies of the interpreter's own rules, not approximations of them.

It also holds the function table shared by generated code and the interpreter fallback:
``make_functions_class`` builds a jmespath ``Functions`` subclass with the builtins plus
plugin-contributed functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from numbers import Number
from typing import Any, cast

from jmespath import exceptions as jexceptions
from jmespath import functions as jfunctions
from jmespath import visitor

#: Returned by ``values_of`` when the value has no ``.values()``.
NO_VALUES: Any = object()

#: The value of a local that sibling rules share before one of them has computed it.
UNSET: Any = object()

#: jmespath type names that a custom function signature may use.
TYPE_NAMES = frozenset(jfunctions.REVERSE_TYPES_MAP)


_NO_GET = frozenset({type(None), bool, int, float, str, list, tuple})


def field_of(value: Any, name: str) -> Any:
    """``visit_field``: any object with ``.get``; everything else gives null."""
    if type(value) in _NO_GET:
        return None
    try:
        return value.get(name)
    except AttributeError:
        return None


def index_of(value: Any, index: int) -> Any:
    """``visit_index``: lists (and subclasses) only; out of range gives null."""
    if not isinstance(value, list):
        return None
    try:
        return value[index]
    except IndexError:
        return None


def slice_of(value: Any, start: int | None, stop: int | None, step: int | None) -> Any:
    """``visit_slice``: a step of 0 raises ``ValueError`` like the interpreter."""
    if not isinstance(value, list):
        return None
    return value[slice(start, stop, step)]


def values_of(value: Any) -> Any:
    """``visit_value_projection``'s ``base.values()``, or ``NO_VALUES``."""
    try:
        return value.values()
    except AttributeError:
        return NO_VALUES


def is_actual_number(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, Number)


def comparable(x: Any) -> bool:
    """Ordering comparisons apply only to numbers (not booleans) and strings."""
    return is_actual_number(x) or isinstance(x, str)


def ordered(x: Any, y: Any) -> bool:
    """Whether ``x`` and ``y`` order: two numbers (not booleans) or two strings. Any other
    pair compares to null, as JMESPath has it for values that do not order (Python's
    ``<`` would raise for a string against a number)."""
    if is_actual_number(x):
        return is_actual_number(y)
    return isinstance(x, str) and isinstance(y, str)


def equals(x: Any, y: Any) -> bool:
    """``==`` except that 0/1 never equal false/true."""
    if is_actual_number(x) and x in (0, 1):
        if isinstance(y, bool):
            return False
    elif is_actual_number(y) and y in (0, 1) and isinstance(x, bool):
        return False
    result: bool = x == y
    return result


def jp_not(x: Any) -> bool:
    """``!x``: Python's ``not``, except that no number is negated to true."""
    if is_actual_number(x) and x == 0:
        return False
    return not x


def is_false(value: Any) -> bool:
    """JMESPath falsiness: null, false, "", [] and {} (0 is true)."""
    return value == "" or value == [] or value == {} or value is None or value is False


class _Expression(visitor._Expression):
    """An expression reference (``&expr``), also callable: ``ref(value)``.

    The class keeps jmespath's name because its type checks go by the class name.
    """

    def __call__(self, value: Any) -> Any:
        return self.visit(self.expression, value)  # type: ignore[arg-type]


Expression = _Expression


class CompiledVisitor(visitor.Visitor):
    """Makes ``expref.visit(expref.expression, x)`` run generated code for one node."""

    def __init__(self, node: Any, fn: Callable[[Any], Any], fallback: visitor.Visitor) -> None:
        super().__init__()
        self._node = node
        self._fn = fn
        self._fallback = fallback

    def visit(self, node: Any, *args: Any, **kwargs: Any) -> Any:
        if node is self._node and len(args) == 1 and not kwargs:
            return self._fn(args[0])
        return self._fallback.visit(node, *args, **kwargs)


#: What ``any`` stands for: every JSON type (not an expression reference).
ANY_TYPE = ("string", "number", "boolean", "array", "object", "null")


def _types(raw: Any) -> list[str]:
    names = [raw] if isinstance(raw, str) else [str(t) for t in raw]
    names = [t for n in names for t in (ANY_TYPE if n == "any" else [n])]
    names = list(dict.fromkeys("array" if t == "array-any" else t for t in names))
    for name in names:
        base, _, sub = name.partition("-")
        if base not in TYPE_NAMES or (sub and (base != "array" or sub not in TYPE_NAMES)):
            raise ValueError(f"unknown JMESPath type in function signature: {name!r}")
    return names


def jmespath_signature(signature: tuple[Any, ...]) -> list[dict[str, Any]]:
    """``(["string"], ["number", "null"], {"variadic": True})`` -> jmespath's form.

    ``{"variadic": True}`` as the last element makes the previous argument repeatable;
    ``any`` means every JSON type, an empty list accepts anything (even ``&expr``).
    """
    out: list[dict[str, Any]] = []
    for arg in signature:
        if isinstance(arg, Mapping):
            if "types" in arg:
                out.append({"types": _types(arg["types"])})
                if arg.get("variadic"):
                    out[-1]["variadic"] = True
            elif arg.get("variadic") and out:
                out[-1]["variadic"] = True
            else:
                raise ValueError(f"bad function signature element: {arg!r}")
        else:
            out.append({"types": _types(arg)})
    return out


def arity_ok(signature: Sequence[Mapping[str, Any]], n: int) -> bool:
    """``n`` arguments fit a jmespath ``signature`` (its last entry may say ``variadic``)."""
    if signature and signature[-1].get("variadic"):
        return n >= len(signature)
    return n == len(signature)


def arity_text(signature: Sequence[Mapping[str, Any]]) -> str:
    """How many arguments ``signature`` takes, in words: ``2 arguments``, ``at least 1``."""
    n = len(signature)
    at_least = "at least " if signature and signature[-1].get("variadic") else ""
    return f"{at_least}{n} argument{'' if n == 1 else 's'}"


def signature_of(name: str, functions: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The jmespath signature of the builtin or custom (``functions``: name -> FunctionDef)
    function ``name``; None if there is none."""
    fdef = functions.get(name)
    if fdef is not None:
        return jmespath_signature(tuple(fdef.signature))
    method = getattr(Builtins, f"_func_{name}", None)
    signature = getattr(method, "signature", None)
    return list(signature) if signature is not None else None


def _plain(arg: Any) -> Any:
    if type(arg) is visitor._Expression:
        return _Expression(arg.expression, arg.interpreter)
    return arg


def _method(function: Callable[..., Any], signature: list[dict[str, Any]]) -> Any:
    def call(self: jfunctions.Functions, *args: Any) -> Any:
        return function(*[_plain(a) for a in args])

    call.signature = signature  # type: ignore[attr-defined]
    return call


class Interpreter(visitor.TreeInterpreter):
    """jmespath's interpreter, but ordering a string against a number is null (``ordered``)
    instead of Python's ``TypeError`` out of the mapping."""

    def visit_comparator(self, node: Any, value: Any) -> Any:
        if node["value"] in ("eq", "ne"):
            return super().visit_comparator(node, value)
        left = self.visit(node["children"][0], value)
        right = self.visit(node["children"][1], value)
        if not ordered(left, right):
            return None
        return self.COMPARATOR_FUNC[node["value"]](left, right)


class Builtins(jfunctions.Functions):
    """jmespath's builtin functions, but where they would raise Python's ``TypeError`` out
    of the mapping: ``contains`` on a string with a search that is not a string answers
    false (as the Go implementation does), and ``merge`` refuses an argument after the
    first that is not an object as it refuses the first (jmespath's type error)."""

    @jfunctions.signature({"types": ["array", "string"]}, {"types": []})  # type: ignore[misc, unused-ignore]
    def _func_contains(self, subject: Any, search: Any) -> bool:
        if type(subject) is str and type(search) is not str:
            return False
        return search in subject

    @jfunctions.signature({"types": ["object"], "variadic": True})  # type: ignore[misc, unused-ignore]
    def _func_merge(self, *arguments: Any) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for argument in arguments:  # jmespath checks the first against the signature only
            if not isinstance(argument, dict):
                name = jfunctions.TYPES_MAP.get(type(argument).__name__, "unknown")
                raise jexceptions.JMESPathTypeError("merge", argument, name, ["object"])
            merged.update(argument)
        return merged


def make_functions_class(functions: Mapping[str, Any]) -> type[jfunctions.Functions]:
    """A jmespath ``Functions`` subclass: the ``Builtins`` plus ``functions`` (name ->
    FunctionDef).

    A custom function receives plain Python values; an ``&expr`` argument arrives as an
    object with jmespath's ``.visit``/``.expression`` interface that can also be called.
    """
    attrs: dict[str, Any] = {}
    for name, fdef in functions.items():
        attrs[f"_func_{name}"] = _method(fdef.function, jmespath_signature(tuple(fdef.signature)))
    cls = type("MapwireFunctions", (Builtins,), attrs)  # its metaclass fills the table
    return cast("type[jfunctions.Functions]", cls)


#: Globals every piece of generated code can use.
BASE_NAMESPACE: dict[str, Any] = {
    "_fld": field_of,
    "_idx": index_of,
    "_slc": slice_of,
    "_vals": values_of,
    "_NOVALS": NO_VALUES,
    "_UNSET": UNSET,
    "_eq": equals,
    "_cmpable": comparable,
    "_ordered": ordered,
    "_not": jp_not,
    "_isf": is_false,
    "_NUM": frozenset({int, float}),
    "_NUMSTR": frozenset({int, float, str}),
    "_SIZED": frozenset({str, list, dict}),
    "_NOTFAST": frozenset({type(None), bool, str, list, dict}),
    "_TYPENAME": {
        str: "string",
        bool: "boolean",
        list: "array",
        dict: "object",
        int: "number",
        float: "number",
        type(None): "null",
    },
}
