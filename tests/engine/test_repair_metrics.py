"""Repaired fields are counted per connection and reason, for ``/metrics`` and ``send``."""

from __future__ import annotations

from mapwire.contracts.destination import PreparedItem
from mapwire.runtime.metrics import Metrics


def test_repaired_fields_are_counted_by_connection_and_reason() -> None:
    metrics = Metrics()
    metrics.repair("cio", {"event name over 100 bytes: truncated": 2})
    metrics.repair("cio", {"event name over 100 bytes: truncated": 1, "other": 1})
    assert metrics.snapshot("cio")["repaired"] == {
        "event name over 100 bytes: truncated": 3,
        "other": 1,
    }
    assert metrics.snapshot("mp")["repaired"] == {}
    text = metrics.render().decode()
    assert (
        'mapwire_repaired_fields_total{connection="cio",'
        'reason="event name over 100 bytes: truncated"} 3.0'
    ) in text


def test_a_prepared_item_starts_without_repairs() -> None:
    first, second = PreparedItem(key=1, body={}, size=2), PreparedItem(key=2, body={}, size=2)
    first.repairs.append("x")
    assert second.repairs == []
