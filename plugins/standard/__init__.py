"""The standard library: JMESPath functions for mappings, and the shipped mapping files."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from mapwire import hookimpl
from mapwire.plugins.standard.functions import FUNCTIONS, RETURNS


@hookimpl
def register_functions(register: Callable[..., None]) -> None:
    """Register every function of ``functions.FUNCTIONS`` under its name, with the type it
    returns (``functions.RETURNS``)."""
    for name, (function, signature) in FUNCTIONS.items():
        register(name, function, signature, returns=RETURNS.get(name, "any"))


@hookimpl
def register_mappings(register: Callable[..., None]) -> None:
    """Register the mapping specs shipped in the ``mapwire.mappings`` package."""
    register(Path(str(files("mapwire.mappings"))))
