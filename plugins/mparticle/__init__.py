"""mParticle: the Events API v2 destination, the shapes mParticle sends us and the
endpoints it sends them to.

Hook implementations only. The destination and the sources are imported when a hook
runs, so loading the plugin stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable

from mapwire import hookimpl


@hookimpl  # type: ignore[untyped-decorator, unused-ignore]
def register_destinations(register: Callable[..., None]) -> None:
    """Register the mParticle Events API destination."""
    from .destination import MParticle

    register(MParticle())


@hookimpl  # type: ignore[untyped-decorator, unused-ignore]
def register_sources(register: Callable[..., None]) -> None:
    """Register the five mParticle input shapes."""
    from .sources import all_sources

    for source in all_sources():
        register(source)


@hookimpl  # type: ignore[untyped-decorator, unused-ignore]
def register_endpoints(register: Callable[..., None]) -> None:
    """Register the events and Firehose endpoints."""
    from .endpoints import all_endpoints

    for endpoint in all_endpoints():
        register(endpoint)
