"""``mapwire plugins``: what is loaded, what each plugin provides, and what failed."""

from __future__ import annotations

import json
from typing import Any

import click

from ..contracts.errors import MapwireError
from ..runtime.registry import get_registry


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def plugins(fmt: str) -> None:
    """List loaded plugins (name, version, hooks, what they provide) and those that failed.

    What a plugin provides includes the HTTP endpoints its sources are received on by
    mapwire serve (method and path, and what each takes).

    \b
    Example:
      mapwire plugins --format json
    """
    reg = get_registry()
    provides: dict[str, dict[str, list[str]]] = {p.name: {} for p in reg.plugins}
    described: dict[str, str] = {}
    try:
        for name in reg.destinations():
            provides.setdefault(reg.destination_owner(name), {}).setdefault(
                "destinations", []
            ).append(name)
        for name, owner in reg.source_owners().items():
            provides.setdefault(owner, {}).setdefault("sources", []).append(name)
        owners = reg.endpoint_owners()
        for path, endpoint in reg.endpoints().items():
            for route in endpoint.paths:
                name = f"{' '.join(endpoint.methods)} {route}"
                provides.setdefault(owners[path], {}).setdefault("endpoints", []).append(name)
                described[name] = endpoint.description
        for fdef in reg.functions().values():
            provides.setdefault(fdef.plugin, {}).setdefault("functions", []).append(fdef.name)
    except MapwireError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from exc
    rows: list[dict[str, Any]] = [
        {
            "name": p.name,
            "distribution": p.distribution,
            "version": p.version,
            "hooks": list(p.hooks),
            "provides": provides.get(p.name, {}),
        }
        for p in reg.plugins
    ]
    failed = [
        {"name": f.name, "distribution": f.distribution, "error": f.error} for f in reg.failed
    ]
    if fmt == "json":
        click.echo(json.dumps({"plugins": rows, "failed": failed}, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']} ({row['distribution']} {row['version']})")
        click.echo(f"  hooks: {', '.join(row['hooks']) or '-'}")
        for kind, names in sorted(row["provides"].items()):
            if kind == "endpoints":
                click.echo("  endpoints:")
                for name in names:
                    click.echo(f"    {name}  {described[name]}".rstrip())
                continue
            click.echo(f"  {kind}: {', '.join(sorted(names))}")
    for f in failed:
        click.echo(f"FAILED {f['name']} ({f['distribution']}): {f['error']}")
