"""``mapwire demo post``: send the bundled sample payloads to a running ``mapwire serve``.

Each sample (package data of ``mapwire.mappings``, ``samples/*.json``) goes to the first
endpoint the installed sources declare that recognizes it (``Endpoint.recognizes``). An
endpoint whose source verifies each request gets the headers its ``sign`` makes with the
signing key; the others get the server's inbound credentials. The command then waits until
the server has delivered what it queued (read from ``/metrics``) and prints what the local
sink recorded.
"""

from __future__ import annotations

import base64
import json
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import click

from ..contracts.endpoint import Endpoint
from ..runtime.config import DEMO_CONFIG
from ..runtime.registry import get_registry

DEMO_SIGNING_KEY = "demo-signing-key"
DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_SINK = Path("mapwire-data") / "delivered"


def samples() -> list[tuple[str, bytes]]:
    """(file name, raw bytes) of every bundled sample, sorted by name."""
    folder = files("mapwire.mappings") / "samples"
    found = [(p.name, p.read_bytes()) for p in folder.iterdir() if p.name.endswith(".json")]
    return sorted(found)


def endpoint_for(document: Any, endpoints: list[Endpoint]) -> Endpoint | None:
    """The first endpoint that recognizes ``document``, if any does."""
    for endpoint in endpoints:
        if endpoint.recognizes is not None and endpoint.recognizes(document):
            return endpoint
    return None


#: What becomes a dead letter: an action a vendor refused, a document item that failed to map.
DEAD_LETTER_METRICS = ("mapwire_dead_lettered_actions_total", "mapwire_mapping_failures_total")


def metric_total(text: str, name: str) -> float:
    """The sum of every sample of one Prometheus metric in an exposition text."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_delivered(client: Any, timeout: float) -> bool:
    """Poll ``/metrics`` until everything queued is delivered or dead-lettered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = client.get("/metrics").text
        mapped = metric_total(text, "mapwire_mapped_actions_total")
        settled = metric_total(text, "mapwire_delivered_actions_total") + metric_total(
            text, "mapwire_dead_lettered_actions_total"
        )
        if settled >= mapped:
            return True
        time.sleep(0.1)
    return False


def describe(record: dict[str, Any]) -> str:
    """One short line for a request the sink recorded."""
    body = record.get("body")
    url = str(record.get("url", "")).split("://", 1)[-1]
    if isinstance(body, dict) and isinstance(body.get("batch"), list):
        kinds = [
            str(i.get("action", i.get("type", "?"))) for i in body["batch"] if isinstance(i, dict)
        ]
        what = f"{len(kinds)} item(s): " + ", ".join(sorted(set(kinds)))
    elif isinstance(body, list):
        events = sum(len(b.get("events") or []) for b in body if isinstance(b, dict))
        what = f"{len(body)} batch(es), {events} event(s)"
    else:
        what = "1 item"
    return f"  {record.get('method', '?')} {url}  {what}"


def sink_summary(folder: Path, since: float) -> list[str]:
    lines = []
    files_found = sorted(folder.glob("*.ndjson")) if folder.is_dir() else []
    if not files_found:
        return [f"nothing recorded under {folder} (is the server using the demo config?)"]
    total = 0
    recent: list[str] = []
    for path in files_found:
        records = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
        total += len(records)
        lines.append(f"  {path}: {len(records)} request(s)")
        recent.extend(describe(r) for r in records if float(r.get("time", 0)) >= since)
    head = f"the sink recorded {total} request(s) in {len(files_found)} file(s):"
    return [head, *lines, f"requests recorded by this run: {len(recent)}", *recent]


@click.group()
def demo() -> None:
    """Try mapwire end to end on this machine, with no vendor account.

    \b
    Examples:
      mapwire serve              (in one terminal: the bundled demo)
      mapwire demo post          (in another: post the samples, see what was delivered)
    """


@demo.command("post")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The server's base URL.")
@click.option(
    "--sink",
    type=click.Path(path_type=Path),
    default=DEFAULT_SINK,
    show_default=True,
    help="The folder the demo config delivers into (relative to where the server runs).",
)
@click.option("--wait", default=10.0, show_default=True, help="Seconds to wait for delivery.")
@click.option(
    "--token",
    metavar="TOKEN",
    help="The server's inbound bearer token (server.auth.bearer_token).",
)
@click.option(
    "--basic",
    metavar="USER:PASS",
    help="The server's inbound Basic credentials (server.auth.username / password).",
)
@click.option(
    "--signing-key",
    default=DEMO_SIGNING_KEY,
    show_default=True,
    help="The key the server checks signed requests with (endpoints whose source verifies "
    "a signature).",
)
def post(
    url: str, sink: Path, wait: float, token: str | None, basic: str | None, signing_key: str
) -> None:
    """Post the bundled samples to a running mapwire serve and show what was delivered.

    The bundled demo asks no credentials (server.auth none), but a webhook source that
    checks signatures still does: the samples for it are signed with the demo config's
    signing key (--signing-key, as the vendor signs them), and a request to that endpoint
    without a valid signature is refused. A server whose config sets server.auth needs
    --token or --basic for the endpoints it guards.

    \b
    Examples:
      mapwire serve              (in one terminal)
      mapwire demo post          (in another)
      mapwire demo post --url http://127.0.0.1:8080 --token "$TOKEN"
                                 (a server whose config sets server.auth)
    """
    import httpx

    inbound = inbound_auth_headers(token, basic)
    endpoints = list(get_registry().endpoints().values())
    started = time.time() - 1
    failed = refused = False
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for name, body in samples():
            endpoint = endpoint_for(json.loads(body), endpoints)
            if endpoint is None:
                click.echo(f"{name}: no installed endpoint takes it; skipped", err=True)
                continue
            path = endpoint.path
            headers = {"Content-Type": "application/json"}
            if endpoint.sign is not None:
                headers.update(endpoint.sign(body, signing_key))
            else:
                headers.update(inbound)
            try:
                response = client.post(path, content=body, headers=headers)
            except httpx.TransportError as exc:
                raise click.ClickException(
                    f"cannot reach {url} ({type(exc).__name__}); start it with: mapwire serve"
                ) from exc
            failed |= response.status_code >= 300
            refused |= response.status_code == 401
            click.echo(f"{name} -> POST {path}: {response.status_code} {_short(response)}")
        if refused:
            click.echo(
                "the server refused the credentials (401): pass its server.auth with "
                "--token TOKEN or --basic USER:PASS (and --signing-key for webhooks)",
                err=True,
            )
        if not wait_delivered(client, wait):
            click.echo(f"still delivering after {wait:g}s; the sink may be incomplete", err=True)
        text = client.get("/metrics").text
        dead = sum(metric_total(text, name) for name in DEAD_LETTER_METRICS)
    for line in sink_summary(sink, started):
        click.echo(line)
    if dead:
        click.echo(
            f"{dead:g} dead letter(s) since the server started; from the folder it runs in, "
            f"with the bundled demo config: mapwire dlq list --config {DEMO_CONFIG}"
        )
    if failed:
        raise SystemExit(1)


def inbound_auth_headers(token: str | None, basic: str | None) -> dict[str, str]:
    """The ``Authorization`` header for the endpoints ``server.auth`` guards, if given."""
    if token and basic:
        raise click.UsageError("give --token or --basic, not both")
    if token:
        return {"Authorization": f"Bearer {token}"}
    if basic:
        if ":" not in basic:
            raise click.BadParameter("expected USER:PASS", param_hint="--basic")
        encoded = base64.b64encode(basic.encode("utf-8")).decode("ascii")
        return {"Authorization": f"Basic {encoded}"}
    return {}


def _short(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and "queued" in body:
        skipped = ", ".join(f"{k}: {v}" for k, v in body.get("skipped", {}).items())
        return f"queued {body['queued']}" + (f" (skipped {skipped})" if skipped else "")
    if isinstance(body, dict) and "error" in body:
        return str(body["error"].get("message", ""))
    if isinstance(body, dict) and "type" in body:
        return f"replied {body['type']}"
    return ""
