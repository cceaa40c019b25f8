"""``mapwire demo post`` (the installed script) against a server with inbound auth:
``--token`` for a bearer token, ``--basic`` for Basic credentials, and a hint on a 401."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from server_helpers import INBOUND_TOKEN, SIGNING_KEY, RunningServer, sink_flows, write_config

MAPWIRE = shutil.which("mapwire", path=str(Path(sys.executable).parent)) or "mapwire"


def demo_post(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAPWIRE_")}
    return subprocess.run(
        [
            MAPWIRE,
            "demo",
            "post",
            "--url",
            url,
            "--sink",
            "out",
            "--signing-key",
            SIGNING_KEY,
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("auth", "credentials"),
    [
        ({"bearer_token": {"env": "TEST_INBOUND_TOKEN"}}, ["--token", INBOUND_TOKEN]),
        (
            {"username": "mparticle", "password": {"env": "TEST_INBOUND_TOKEN"}},
            ["--basic", f"mparticle:{INBOUND_TOKEN}"],
        ),
    ],
    ids=["token", "basic"],
)
def test_demo_post_sends_the_servers_inbound_credentials(
    tmp_path: Path,
    serve: Callable[[Path], RunningServer],
    auth: dict[str, object],
    credentials: list[str],
) -> None:
    server = serve(write_config(tmp_path, sink_flows(), server={"auth": auth}))
    refused = demo_post(server.url, cwd=tmp_path)
    assert refused.returncode == 1
    assert "-> POST /mparticle/events: 401" in refused.stdout
    assert "pass its server.auth with --token TOKEN or --basic USER:PASS" in refused.stderr

    done = demo_post(server.url, *credentials, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mparticle_events_api_batch.json -> POST /mparticle/events: 202" in done.stdout
    assert "-> POST /mparticle/firehose: 200" in done.stdout
    assert "POST track.customer.io/api/v2/batch" in done.stdout  # mapped and delivered
    assert INBOUND_TOKEN not in done.stdout + done.stderr
