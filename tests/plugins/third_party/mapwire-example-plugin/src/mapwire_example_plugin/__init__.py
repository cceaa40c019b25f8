"""mapwire-example-plugin: the ``example`` destination, the ``shout()`` JMESPath function,
the ``example.note_posted`` source with its endpoint, and mappings that use them.

Hook implementations only. The destination module, and httpx with it, is imported when
the registry first asks for destinations, so loading the plugin stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from mapwire import hookimpl

from .functions import SHOUT_SIGNATURE, shout


@hookimpl
def register_destinations(register: Callable[..., None]) -> None:
    """Register the ``example`` destination."""
    from .destination import ExampleDestination

    register(ExampleDestination())


@hookimpl
def register_sources(register: Callable[..., None]) -> None:
    """Register the ``example.note_posted`` source."""
    from .inbox import make_source

    register(make_source())


@hookimpl
def register_endpoints(register: Callable[..., None]) -> None:
    """Register ``POST /example/notes``, where the notes app posts its notes."""
    from .inbox import make_endpoint

    register(make_endpoint())


@hookimpl
def register_functions(register: Callable[..., None]) -> None:
    """Register ``shout()`` for mapping expressions."""
    register("shout", shout, SHOUT_SIGNATURE)


@hookimpl
def register_mappings(register: Callable[..., None]) -> None:
    """Register the folder of mappings (and their test cases) shipped in this package."""
    register(Path(str(files(__name__).joinpath("mappings"))))
