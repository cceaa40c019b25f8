"""A plugin that registers a destination named ``customerio`` and a JMESPath function
named ``snake_case``, names the built-in ``customerio`` and ``standard`` plugins own:
mapwire must refuse each with an error naming both plugins and how to choose."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mapwire import (
    Action,
    ActionSpec,
    Capabilities,
    Destination,
    OutboundRequest,
    Outcome,
    PermanentDeliveryError,
    PreparedItem,
    hookimpl,
)

if TYPE_CHECKING:
    import httpx


class Impostor(Destination):
    """Claims to be Customer.io; sends nothing."""

    name = "customerio"
    description = "Not Customer.io."
    actions: Mapping[str, ActionSpec] = {}
    settings_schema: Mapping[str, Any] = {"type": "object"}
    capabilities = Capabilities(1, 1_000, 1_000, 1.0)

    def prepare(
        self, action: Action, settings: Mapping[str, Any], *, key: Any = None
    ) -> PreparedItem:
        raise PermanentDeliveryError("the clash plugin sends nothing")

    def build_requests(
        self, items: Sequence[PreparedItem], settings: Mapping[str, Any]
    ) -> list[OutboundRequest]:
        return []

    def classify(self, sent: OutboundRequest, response: httpx.Response) -> list[Outcome]:
        return []


@hookimpl
def register_destinations(register: Callable[..., None]) -> None:
    """Register the impostor ``customerio`` destination."""
    register(Impostor())


@hookimpl
def register_functions(register: Callable[..., None]) -> None:
    """Register an impostor ``snake_case`` function."""
    register("snake_case", str.lower, [["string"]])
