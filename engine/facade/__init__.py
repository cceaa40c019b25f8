"""mapwire: a declarative mapping engine with plugins, for mParticle <-> Customer.io.

This module is the public API for plugin authors and integrators; everything else is
internal and may change.
"""

from __future__ import annotations

from mapwire.engine.actions import DELIVERED, Action, MapResult, Outcome
from mapwire.engine.destination import (
    ActionSpec,
    Capabilities,
    Check,
    Destination,
    OutboundRequest,
    PreparedItem,
    person_key,
)
from mapwire.engine.errors import (
    ConfigError,
    DeliveryError,
    DuplicateNameError,
    InputError,
    ItemError,
    MapwireError,
    PermanentDeliveryError,
    PluginError,
    Problem,
    RetryableDeliveryError,
    SkipItem,
    SpecError,
)
from mapwire.engine.hookspecs import hookimpl, hookspec
from mapwire.engine.queue import DeadLetter, EnqueueResult, Failure, Queue, QueueEntry
from mapwire.engine.schema_validator import SchemaValidator
from mapwire.engine.source import Source
from mapwire.engine.store import MemoryStore, StateStore

__version__ = "0.1.0"

__all__ = [
    "DELIVERED",
    "Action",
    "ActionSpec",
    "Capabilities",
    "Check",
    "ConfigError",
    "DeadLetter",
    "DeliveryError",
    "Destination",
    "DuplicateNameError",
    "EnqueueResult",
    "Failure",
    "InputError",
    "ItemError",
    "MapResult",
    "MapwireError",
    "MemoryStore",
    "OutboundRequest",
    "Outcome",
    "PermanentDeliveryError",
    "PluginError",
    "PreparedItem",
    "Problem",
    "Queue",
    "QueueEntry",
    "RetryableDeliveryError",
    "SchemaValidator",
    "SkipItem",
    "Source",
    "SpecError",
    "StateStore",
    "__version__",
    "hookimpl",
    "hookspec",
    "person_key",
]
