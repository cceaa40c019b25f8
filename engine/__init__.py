"""mapwire: a declarative mapping engine with plugins; the plugins know the vendors.

This module is the public API for plugin authors and integrators: plugins import from
``mapwire`` alone. Everything else is internal and may change. The engine's rooms, in the
order they may import each other: ``contracts`` (the plugin contract: hooks, destination,
source, queue, store, actions, errors) <- ``language`` (mapping files -> compiled plans) <-
``runtime`` (config, registry, pipeline, delivery) <- ``server`` and ``cli``.
"""

from __future__ import annotations

from .contracts.actions import DELIVERED, Action, Forget, MapResult, Outcome
from .contracts.claim_owner import claim_owner_id, claim_owner_is_dead
from .contracts.dedup import actions_kept
from .contracts.destination import (
    ActionSpec,
    Capabilities,
    Check,
    Destination,
    OutboundRequest,
    PreparedItem,
    person_key,
)
from .contracts.endpoint import Answering, Credentials, Documents, Endpoint, Reply, accepted
from .contracts.errors import (
    ConfigError,
    DeliveryError,
    DuplicateNameError,
    InputError,
    ItemError,
    MapwireError,
    PermanentDeliveryError,
    PluginError,
    Problem,
    QueueUnavailable,
    SkipItem,
    SpecError,
    StoreSchemaError,
    StoreUnavailable,
)
from .contracts.grouped_enqueue import EnqueueByGroups, group_results
from .contracts.hookspecs import hookimpl, hookspec
from .contracts.queue import (
    DELIVERY,
    MAPPING,
    DeadLetter,
    EnqueueResult,
    FailedAttempt,
    Failure,
    MappingFailure,
    Queue,
    QueueEntry,
    history_from,
)
from .contracts.schema_predicate import ASCII_PATTERN
from .contracts.schema_validator import SchemaValidator
from .contracts.source import Source
from .contracts.store import (
    Change,
    ChangeOutcome,
    MembershipUpdate,
    MemoryStore,
    StateStore,
    apply_in_order,
    first_seen_all,
    undo_seen_on_failure,
)
from .contracts.value_types import a_json_type
from .contracts.wire_json import wire_json

__version__ = "0.1.0"

__all__ = [
    "ASCII_PATTERN",
    "DELIVERED",
    "DELIVERY",
    "MAPPING",
    "Action",
    "ActionSpec",
    "Answering",
    "Capabilities",
    "Change",
    "ChangeOutcome",
    "Check",
    "ConfigError",
    "Credentials",
    "DeadLetter",
    "DeliveryError",
    "Destination",
    "Documents",
    "DuplicateNameError",
    "Endpoint",
    "EnqueueByGroups",
    "EnqueueResult",
    "FailedAttempt",
    "Failure",
    "Forget",
    "InputError",
    "ItemError",
    "MapResult",
    "MappingFailure",
    "MapwireError",
    "MembershipUpdate",
    "MemoryStore",
    "OutboundRequest",
    "Outcome",
    "PermanentDeliveryError",
    "PluginError",
    "PreparedItem",
    "Problem",
    "Queue",
    "QueueEntry",
    "QueueUnavailable",
    "Reply",
    "SchemaValidator",
    "SkipItem",
    "Source",
    "SpecError",
    "StateStore",
    "StoreSchemaError",
    "StoreUnavailable",
    "__version__",
    "a_json_type",
    "accepted",
    "actions_kept",
    "apply_in_order",
    "claim_owner_id",
    "claim_owner_is_dead",
    "first_seen_all",
    "group_results",
    "history_from",
    "hookimpl",
    "hookspec",
    "person_key",
    "undo_seen_on_failure",
    "wire_json",
]
