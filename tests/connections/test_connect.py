"""``mapwire connect test`` against the contract servers: OK and each failure kind."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mapwire.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
from contract_servers import CustomerIOServer


def _config(tmp_path: Path, connections: list[dict[str, Any]]) -> Path:
    path = tmp_path / "mapwire.yaml"
    path.write_text(
        json.dumps({"mapwire": 1, "store": "sqlite:///s.db", "connections": connections})
    )
    return path


def _cio(name: str, server: Any, *, key: str | None = None, region: str = "us") -> dict[str, Any]:
    return {
        "name": name,
        "flow": "mparticle-events-to-customerio",
        "destination": {
            "site_id": server.site_id,
            "api_key": key or server.api_key,
            "region": region,
            "base_url": server.origin,
        },
    }


def _mp(name: str, server: Any, *, secret: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "flow": "customerio-activity-to-mparticle",
        "destination": {
            "api_key": server.api_key,
            "api_secret": secret or server.api_secret,
            "base_url": server.base_url,
        },
    }


def test_connect_test_reports_each_outcome(
    tmp_path: Path, customerio_server: Any, mparticle_server: Any
) -> None:
    with CustomerIOServer(region="eu") as eu_server:
        config = _config(
            tmp_path,
            [
                _cio("cio-ok", customerio_server),
                _cio("cio-bad-key", customerio_server, key="wrong-key"),
                _cio("cio-wrong-region", eu_server, region="us"),
                _mp("mp-ok", mparticle_server),
                _mp("mp-bad-secret", mparticle_server, secret="wrong-secret"),
            ],
        )
        result = CliRunner().invoke(main, ["connect", "test", "--config", str(config)])
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["cio-ok"].startswith("OK - credentials accepted (region us)")
    assert lines["cio-bad-key"].startswith("BAD CREDENTIALS")
    assert lines["cio-wrong-region"].startswith("WRONG REGION - the account is in region 'eu'")
    assert lines["mp-ok"].startswith("OK")
    assert lines["mp-bad-secret"].startswith("BAD CREDENTIALS")
    assert result.exit_code == 1
    assert "wrong-key" not in result.output and "wrong-secret" not in result.output
    # The checks changed nothing in the workspaces.
    assert customerio_server.accepted == [] and mparticle_server.accepted == []


def test_connect_test_unreachable_and_exit_zero_when_all_pass(
    tmp_path: Path, customerio_server: Any
) -> None:
    config = _config(tmp_path, [_cio("cio", customerio_server)])
    ok = CliRunner().invoke(main, ["connect", "test", "--config", str(config), "cio"])
    assert ok.exit_code == 0, ok.output
    customerio_server.down()
    down = CliRunner().invoke(main, ["connect", "test", "--config", str(config), "--timeout", "2"])
    assert down.exit_code == 1
    assert down.stdout.startswith("cio: UNREACHABLE - 127.0.0.1 unreachable: connection failed")


def test_unknown_connection_name(tmp_path: Path, customerio_server: Any) -> None:
    config = _config(tmp_path, [_cio("cio", customerio_server)])
    result = CliRunner().invoke(main, ["connect", "test", "--config", str(config), "nope"])
    assert result.exit_code == 2 and "no connection named nope" in result.output


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (["email_sent", "email_opend"], "'email_opend'"),
        (["sms_clickd"], "did you mean 'sms_clicked'"),
    ],
)
def test_event_selection_is_validated_with_did_you_mean(
    tmp_path: Path, mparticle_server: Any, events: list[str], message: str
) -> None:
    conn = _mp("mp", mparticle_server)
    conn["settings"] = {"forward_events": events}
    config = _config(tmp_path, [conn])
    result = CliRunner().invoke(main, ["config", "check", str(config)])
    assert result.exit_code == 1
    assert "C104" in result.stdout and message in result.stdout


@pytest.mark.parametrize("choice", ["auto", "httpx"])
def test_connect_test_goes_the_way_delivery_goes(
    tmp_path: Path, customerio_server: Any, monkeypatch: pytest.MonkeyPatch, choice: str
) -> None:
    """The check takes the connection's own transport (``delivery.http``), so it passes
    only where the connection's requests would get through."""
    from mapwire.runtime import http1

    chosen: list[str] = []
    make = http1.make_transport

    def recording(limits: Any, http: str = "auto") -> Any:
        chosen.append(http)
        return make(limits, http)

    monkeypatch.setattr(http1, "make_transport", recording)
    connection = {**_cio("cio", customerio_server), "delivery": {"http": choice}}
    config = _config(tmp_path, [connection])
    result = CliRunner().invoke(main, ["connect", "test", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert chosen == [choice]
