"""``mapwire send`` through the installed script: no single line of a backfill can stop it.

Lines nested deeper than the receiver's limit, lines that are not objects and documents
whose mapped actions the queue cannot store are reported by line number and skipped;
the good lines around them are delivered, and a rerun reads the file again without
crashing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import batches, cio_connection, run_subprocess, write_config

pytestmark = pytest.mark.usefixtures("secrets")


def _hostile_file(path: Path) -> Path:
    good = batches(3, 2)
    deep = batches(1, 2, prefix="deep")[0]
    value: Any = "x"
    for _ in range(260):
        value = [value]
    deep["events"][0]["data"]["custom_attributes"]["n"] = value
    lines = [
        json.dumps(good[0]),
        json.dumps(deep),  # line 2
        json.dumps(good[1]),
        '"just a string"',  # line 4
        "[1, 2]",  # line 5
        "42",  # line 6
        json.dumps(good[2]),
        '{"mpid": 123456789012345678901234567, "user_identities": {"customer_id": "big"}}',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _send(tmp_path: Path, config: Path, path: Path, *extra: str) -> tuple[int, str]:
    args = ["send", "--config", str(config), "--connection", "cio", *extra, str(path)]
    proc = run_subprocess(args, env={}, cwd=tmp_path)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr


def _delivered_users(server: Any) -> set[str]:
    return {i["identifiers"]["id"] for i in server.accepted_items("POST /api/v2/batch")}


@pytest.mark.parametrize(
    ("server_options", "deep_reason"),
    [
        ({}, "JSON nests deeper than 64 levels"),
        # past the depth check (a generous limit), the queue cannot serialise its actions
        ({"max_json_depth": 1000}, "its mapped actions cannot be stored"),
    ],
)
def test_odd_lines_are_reported_and_the_good_ones_delivered(
    tmp_path: Path, customerio_server: Any, server_options: dict[str, Any], deep_reason: str
) -> None:
    path = _hostile_file(tmp_path / "in.ndjson")
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    if server_options:
        data = json.loads(config.read_text())
        data["server"] = server_options
        config.write_text(json.dumps(data))
    status, stderr = _send(tmp_path, config, path)
    assert status == 1, stderr  # partial failure: some lines were not sent
    assert "Traceback" not in stderr
    assert f"{path}:2: {deep_reason}" in stderr
    # refused as the events endpoint refuses them (the source's check), naming no value
    assert f"{path}:4: body: expected a batch object, got a string" in stderr
    assert f"{path}:5: body[0]: expected a batch object, got a number" in stderr
    assert f"{path}:6: body: expected a batch object, got a number" in stderr
    # beyond 64 bits the parser would change the number: refused, never sent changed
    assert f"{path}:8: an integer is beyond 64 bits and cannot be carried exactly" in stderr
    assert "malformed input lines: 5" in stderr
    assert "no usable identity" not in stderr
    assert _delivered_users(customerio_server) == {"u-0", "u-1", "u-2"}
    assert "deep-0" not in stderr and "just a string" not in stderr  # no values

    again, stderr = _send(tmp_path, config, path, "--restart")
    assert again == 1, stderr
    assert "Traceback" not in stderr
    assert f"{path}:2: {deep_reason}" in stderr and "malformed input lines: 5" in stderr
    assert _delivered_users(customerio_server) == {"u-0", "u-1", "u-2"}


def test_a_line_over_the_body_size_limit_is_refused(tmp_path: Path, customerio_server: Any) -> None:
    good, big = batches(2, 2)
    big["user_attributes"]["notes"] = "n" * 4096
    path = tmp_path / "in.ndjson"
    path.write_text(json.dumps(big) + "\n" + json.dumps(good) + "\n")
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    data = json.loads(config.read_text())
    data["server"] = {"max_body_bytes": 2048}
    config.write_text(json.dumps(data))
    status, stderr = _send(tmp_path, config, path)
    assert status == 1, stderr
    assert f"{path}:1: line is larger than 2048 bytes" in stderr
    assert _delivered_users(customerio_server) == {"u-0"}


def test_odd_elements_of_a_json_array_are_reported(tmp_path: Path, customerio_server: Any) -> None:
    good = batches(2, 2)
    deep = batches(1, 2, prefix="deep")[0]
    value: Any = "x"
    for _ in range(70):
        value = {"a": value}
    deep["user_attributes"]["nested"] = value
    path = tmp_path / "in.json"
    path.write_text(json.dumps([good[0], "just a string", deep, good[1]]))
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    status, stderr = _send(tmp_path, config, path)
    assert status == 1, stderr
    assert f"{path}:element 2: body: expected a batch object, got a string" in stderr
    assert f"{path}:element 3: JSON nests deeper than 64 levels" in stderr
    assert _delivered_users(customerio_server) == {"u-0", "u-1"}
