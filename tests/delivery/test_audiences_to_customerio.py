"""The mParticle audiences -> Customer.io flow through the installed ``mapwire`` script, into
a sink connection: the person attributes Customer.io would receive, change after change."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from delivery_helpers import run_subprocess, write_config, write_ndjson


def _change(ts: int, customer: str, *audiences: tuple[int, str, str]) -> dict[str, Any]:
    return {
        "type": "audience_membership_change_request",
        "id": f"req-{ts}",
        "timestamp_ms": ts,
        "user_profiles": [
            {
                "mpid": f"mp-{customer}",
                "user_identities": [{"type": "customer", "encoding": "raw", "value": customer}],
                "audiences": [
                    {"audience_id": aid, "audience_name": name, "action": action}
                    for aid, name, action in audiences
                ],
            }
        ],
    }


def _config(tmp_path: Path, name: str, sink: str, settings: dict[str, Any]) -> Path:
    """A config file ``name`` in ``tmp_path`` (all of them share ``state.db``)."""
    conn = {
        "name": "audiences",
        "flow": "mparticle-audiences-to-customerio",
        "settings": settings,
        "destination": {"site_id": "s", "api_key": "k"},
        "transport": f"sink:{sink}",
    }
    return write_config(tmp_path, [conn]).rename(tmp_path / name)


def _send(tmp_path: Path, config: Path, docs: list[dict[str, Any]]) -> str:
    path = write_ndjson(tmp_path / "changes.ndjson", docs)
    proc: subprocess.Popen[str] = run_subprocess(
        ["send", "--config", str(config), "--connection", "audiences", str(path)],
        env={},
        cwd=tmp_path,
    )
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return err


def _attributes(sink: Path) -> list[dict[str, Any]]:
    """The ``attributes`` of every identify recorded in ``sink``, in order."""
    out = []
    for file in sorted(sink.glob("*.ndjson")):
        for line in file.read_text().splitlines():
            for item in json.loads(line)["body"]["batch"]:
                assert item["action"] == "identify"
                out.append(item["attributes"])
    return out


def test_per_segment_a_late_older_change_never_undoes_a_newer_one(tmp_path: Path) -> None:
    config = _config(tmp_path, "c.yaml", "out", {"one_attribute_per_segment": True})
    err = _send(
        tmp_path,
        config,
        [
            _change(1000, "c1", (5, "Whales", "add")),
            _change(2000, "c1", (5, "Whales", "delete")),
            _change(1500, "c1", (5, "Whales", "add"), (6, "Dolphins", "add")),
        ],
    )
    assert _attributes(tmp_path / "out") == [
        {"In Whales": "true"},
        {"In Whales": "false"},
        {"In Dolphins": "true"},
    ]
    assert "stale audience change" in err


def test_the_membership_attribute_is_never_wiped_by_unknown_state(tmp_path: Path) -> None:
    config = _config(tmp_path, "c.yaml", "out", {"one_attribute_per_segment": False})
    attribute_only = _change(300, "c1")
    attribute_only["user_profiles"][0]["audiences"] = [
        {
            "audience_id": 5,
            "audience_name": "Whales",
            "action": "attribute_update",
            "user_attributes": [{"key": "plan", "value": "gold", "action": "upsert"}],
        }
    ]
    _send(
        tmp_path,
        config,
        [
            _change(100, "c1", (5, "Whales", "add"), (7, "Seals", "add")),
            attribute_only,
            _change(400, "c2", (5, "Whales", "delete")),  # nothing stored for c2
            _change(500, "c1", (7, "Seals", "delete")),
            _change(600, "c1", (5, "Whales", "delete")),
        ],
    )
    assert _attributes(tmp_path / "out") == [
        {"Segment Membership": "'5','7'"},
        {"plan": "gold"},
        {"Segment Membership": "'5'"},
        {"Segment Membership": ""},  # the last known membership was removed
    ]


def test_a_lost_state_store_is_rebuilt_from_an_export_without_sending(tmp_path: Path) -> None:
    rebuild = _config(
        tmp_path,
        "rebuild.yaml",
        "rebuild",
        {"one_attribute_per_segment": False, "rebuild_state": True},
    )
    live = _config(tmp_path, "live.yaml", "out", {"one_attribute_per_segment": False})
    export = [
        _change(5000, "c1", (1, "A", "add"), (2, "B", "add")),
        _change(5000, "c2", (2, "B", "add")),
    ]
    err = _send(tmp_path, rebuild, export)
    assert "membership state rebuilt" in err
    assert _attributes(tmp_path / "rebuild") == []
    _send(
        tmp_path,
        live,
        [_change(6000, "c1", (1, "A", "delete")), _change(6000, "c2", (3, "C", "add"))],
    )
    assert _attributes(tmp_path / "out") == [
        {"Segment Membership": "'2'"},
        {"Segment Membership": "'2','3'"},
    ]


def test_a_membership_list_over_the_limit_keeps_whole_ids(tmp_path: Path) -> None:
    config = _config(tmp_path, "c.yaml", "out", {"one_attribute_per_segment": False})
    audiences = [(10_000 + n, f"A{n}", "add") for n in range(200)]  # 1,599 bytes as a list
    err = _send(tmp_path, config, [_change(1000, "c1", *audiences)])
    (attributes,) = _attributes(tmp_path / "out")
    kept = attributes["Segment Membership"]
    full = ",".join(f"'{10_000 + n}'" for n in range(200))
    assert len(kept.encode()) <= 1000 and full.startswith(kept) and full[len(kept)] == ","
    assert "repaired fields (attribute value over 1000 bytes: truncated): 1" in err


def test_a_late_older_message_sends_the_newest_list_without_its_old_time(tmp_path: Path) -> None:
    config = _config(tmp_path, "c.yaml", "out", {"send_membership_attribute": "always"})
    _send(
        tmp_path,
        config,
        [
            _change(1714592702000, "c1", (11036, "Aspiring Athenians", "add")),
            _change(1714592701000, "c1", (11034, "Ibiza Dreamers", "add")),
        ],
    )
    items = [
        (item["attributes"], item.get("timestamp"))
        for file in sorted((tmp_path / "out").glob("*.ndjson"))
        for line in file.read_text().splitlines()
        for item in json.loads(line)["body"]["batch"]
    ]
    assert items == [
        ({"In Aspiring Athenians": "true"}, 1714592702),
        ({"Segment Membership": "'11036'"}, None),
        ({"In Ibiza Dreamers": "true"}, 1714592701),
        # Stamped with the older time, Customer.io would keep the incomplete list.
        ({"Segment Membership": "'11034','11036'"}, None),
    ]
