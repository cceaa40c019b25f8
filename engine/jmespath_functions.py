"""Plugin-contributed JMESPath functions as a jmespath ``Functions`` class.

The interpreter (``explain``, the fallback for anything the code generator does not
specialise) and the generated code must call the same functions with the same argument
checks; both get them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jmespath
from jmespath import functions as jfunctions


ANY_TYPE = ["string", "number", "boolean", "array", "object", "null"]


def jmespath_signature(signature: tuple[Any, ...]) -> list[dict[str, Any]]:
    """``(["string"], ["any"], {"variadic": True})`` -> jmespath's signature dicts.

    ``any`` (which jmespath has no name for) means every JSON type.
    """
    out: list[dict[str, Any]] = []
    for arg in signature:
        if isinstance(arg, dict):
            if arg.get("variadic") and out:
                out[-1]["variadic"] = True
            continue
        types = list(
            dict.fromkeys(t for name in arg for t in (ANY_TYPE if name == "any" else [name]))
        )
        out.append({"types": types})
    return out


def make_functions_class(functions: Mapping[str, Any]) -> type[jfunctions.Functions]:
    """A ``Functions`` subclass with the builtins plus ``functions`` (name -> FunctionDef)."""
    namespace: dict[str, Any] = {}
    for name, fdef in functions.items():
        fn = fdef.function

        def method(self: Any, *args: Any, _fn: Any = fn) -> Any:
            return _fn(*args)

        method.signature = jmespath_signature(tuple(fdef.signature))  # type: ignore[attr-defined]
        namespace[f"_func_{name}"] = method
    return type("MapwireFunctions", (jfunctions.Functions,), namespace)


def make_options(functions: Mapping[str, Any]) -> jmespath.Options:
    return jmespath.Options(custom_functions=make_functions_class(functions)())
