"""Evaluate the standard functions through real JMESPath, with a small adapter of our own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jmespath
import jmespath.functions
import pytest

from mapwire.plugins.standard.functions import FUNCTIONS, Signature


def jmespath_signature(signature: Signature) -> list[dict[str, Any]]:
    """Our ``(["string", "null"], {"variadic": True})`` as jmespath's own signature list."""
    args: list[dict[str, Any]] = []
    for entry in signature:
        if isinstance(entry, dict):
            args[-1]["variadic"] = bool(entry.get("variadic"))
        else:
            args.append({"types": [] if "any" in entry else list(entry)})
    return args


def functions_class(
    table: Mapping[str, tuple[Callable[..., Any], Signature]],
) -> type[jmespath.functions.Functions]:
    """A ``jmespath.functions.Functions`` subclass with ``table`` added to the builtins.

    jmespath collects every ``_func_<name>`` method carrying a ``signature`` attribute.
    """
    namespace: dict[str, Any] = {}
    for name, (function, signature) in table.items():

        def method(self: object, *args: Any, _function: Callable[..., Any] = function) -> Any:
            return _function(*args)

        method.signature = jmespath_signature(signature)  # type: ignore[attr-defined]
        namespace[f"_func_{name}"] = method
    return type("StandardFunctions", (jmespath.functions.Functions,), namespace)


@pytest.fixture(scope="session")
def options() -> jmespath.Options:
    return jmespath.Options(custom_functions=functions_class(FUNCTIONS)())


@pytest.fixture(scope="session")
def call(options: jmespath.Options) -> Callable[..., Any]:
    """``call("ms_to_s", 1500)`` evaluates ``ms_to_s(a0)`` against ``{"a0": 1500}``."""

    def call_(name: str, *args: Any) -> Any:
        params = ", ".join(f"a{i}" for i in range(len(args)))
        data = {f"a{i}": arg for i, arg in enumerate(args)}
        return jmespath.search(f"{name}({params})", data, options=options)

    return call_
