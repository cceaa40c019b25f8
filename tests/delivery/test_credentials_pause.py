"""A vendor refusing the credentials (401/403) pauses the connection instead of
dead-lettering what is in flight: through the installed ``mapwire`` script, against the
contract servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import (
    MAPPINGS,
    batches,
    cio_connection,
    mp_connection,
    run_subprocess,
    write_config,
    write_ndjson,
)

pytestmark = pytest.mark.usefixtures("secrets")


def _mapwire(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    proc = run_subprocess(list(args), env={}, cwd=tmp_path)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_refused_credentials_pause_until_they_work_again(
    tmp_path: Path, customerio_server: Any
) -> None:
    customerio_server.fail_next(2, 401)
    path = write_ndjson(tmp_path / "in.ndjson", batches(4, 2))
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    status, _, err = _mapwire(
        tmp_path, "send", "--config", str(config), "--connection", "cio", str(path)
    )
    assert status == 0, err
    assert [r.status for r in customerio_server.requests][:3] == [401, 401, 200]
    assert len(customerio_server.accepted_items("POST /api/v2/batch")) == 12
    assert "dead-lettered: 0" in err
    assert err.count("connection 'cio': delivery paused") == 1
    assert err.count("connection 'cio': delivery resumed") == 1
    assert customerio_server.api_key not in err


def test_credentials_refused_past_the_hold_are_dead_lettered_with_the_reason(
    tmp_path: Path, mparticle_server: Any
) -> None:
    mparticle_server.fail_next(1000, 403)
    config = write_config(
        tmp_path, [mp_connection(mparticle_server)], delivery={"credentials_hold_minutes": 0.05}
    )
    sample = MAPPINGS / "samples" / "customerio_reporting_webhook.json"
    status, _, err = _mapwire(
        tmp_path, "send", "--config", str(config), "--connection", "mp", str(sample)
    )
    assert status == 1, err
    assert "connection 'mp': delivery paused" in err
    assert len([r for r in mparticle_server.requests if r.status == 403]) >= 2  # tried again
    _, listed, _ = _mapwire(tmp_path, "dlq", "list", "--config", str(config), "--format", "json")
    rows = json.loads(listed)
    assert rows and all(
        r["reason"].startswith("credentials refused for 0.05 minutes") for r in rows
    ), rows
    assert mparticle_server.api_secret not in listed
