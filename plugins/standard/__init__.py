"""The standard library: JMESPath functions for mappings, and the shipped mapping files."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from mapwire import hookimpl

from .functions import FUNCTIONS, RETURNS
from .user_attributes import FUNCTIONS as ATTRIBUTE_FUNCTIONS
from .user_attributes import RETURNS as ATTRIBUTE_RETURNS


@hookimpl
def register_functions(register: Callable[..., None]) -> None:
    """Register every function of ``functions`` and ``user_attributes`` under its name,
    with the type it returns (their ``RETURNS``; "any" when not declared)."""
    returns = {**RETURNS, **ATTRIBUTE_RETURNS}
    for name, (function, signature) in {**FUNCTIONS, **ATTRIBUTE_FUNCTIONS}.items():
        register(name, function, signature, returns=returns.get(name, "any"))


@hookimpl
def register_mappings(register: Callable[..., None]) -> None:
    """Register the mapping specs shipped in the ``mapwire.mappings`` package."""
    register(Path(str(files("mapwire.mappings"))))
