"""Customer.io: the ``customerio`` destination (Track API), the reporting-webhook source and
the endpoint it is received on.

Hook implementations only. Importing this package loads neither httpx nor jsonschema; the
destination and source modules are imported when the registry first asks for them.

Modules: ``settings`` (connection settings), ``actions`` (payload schemas, renderers),
``validation`` (payload checks), ``limits`` (vendor limits), ``ulid`` (dedup ids),
``requests`` (batching), ``errors`` (response classifier), ``destination`` (the
``Destination``), ``webhooks`` (the ``Source`` and its ``Endpoint``).
"""

from __future__ import annotations

from collections.abc import Callable

from mapwire import hookimpl


@hookimpl
def register_destinations(register: Callable[..., None]) -> None:
    """Register the ``customerio`` destination."""
    from .destination import CustomerIO

    register(CustomerIO())


@hookimpl
def register_sources(register: Callable[..., None]) -> None:
    """Register the ``customerio.reporting_webhook`` source."""
    from .webhooks import make_source

    register(make_source())


@hookimpl
def register_endpoints(register: Callable[..., None]) -> None:
    """Register the reporting-webhook endpoint."""
    from .webhooks import make_endpoint

    register(make_endpoint())
