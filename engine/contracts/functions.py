"""Functions plugins add to the mapping language (the ``register_functions`` hook)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FunctionDef:
    """A JMESPath function contributed by a plugin.

    ``returns`` is the JSON type name (or list of names) of its result, read by the static
    type checks; ``"any"`` when the plugin did not say.
    """

    name: str
    function: Callable[..., Any]
    signature: tuple[Any, ...]
    plugin: str
    returns: str | tuple[str, ...] = "any"
