"""pytest fixtures that run the contract servers: a fresh server for each test.

The credentials are fixed and exposed on the server (``site_id``/``api_key`` for
Customer.io, ``api_key``/``api_secret`` for mParticle, and ``auth`` as a tuple for httpx).
A server that failed internally during the test (see ``server_errors``) fails the test at
teardown, so a bug in the stand-in is never mistaken for a client bug.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from contract_base import VendorServer
from contract_servers import CustomerIOServer, MParticleServer, VendorFilesMissing

ServerT = TypeVar("ServerT", bound=VendorServer)


def _serve(factory: Callable[[], ServerT]) -> Iterator[ServerT]:
    try:
        server = factory()
    except VendorFilesMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with server:
        yield server
    if server.server_errors:
        pytest.fail(f"{server.name} contract server failed:\n" + "\n".join(server.server_errors))


@pytest.fixture
def customerio_server() -> Iterator[CustomerIOServer]:
    """Customer.io's Track API (US region), started for this test and stopped after it."""
    yield from _serve(CustomerIOServer)


@pytest.fixture
def mparticle_server() -> Iterator[MParticleServer]:
    """mParticle's Events API, started for this test and stopped after it."""
    yield from _serve(MParticleServer)
