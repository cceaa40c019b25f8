"""The config file: named connections, where state and the queue live, server options.

``load_config(path)`` validates the YAML against ``schemas/config.schema.json`` and then
checks what only the plugins know (``config_checks``): every flow exists, every flow
setting is valid for that flow, destination settings match the destination's settings
schema, every ``{env: NAME}`` is set. Every problem is reported at once as
``file:line:col`` (``ConfigError``): the schema's, and those of every part of the file
whose shape the schema accepted. A secret written in the file instead of ``{env: NAME}``
is a warning (``config_secrets``), never an error.

Secret values are read from the environment by the checks and handed only to plugins; the
config object's ``repr`` and every message name the variable, never its value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path as FsPath
from typing import Any

import jsonschema

from ..contracts.errors import ConfigError, Problem
from ..language.plan import Plan
from ..language.schema_errors import did_you_mean, schema_problems
from ..language.yaml_loader import load
from .config_checks import Checked, ConfigChecker, check_config
from .config_secrets import SINK_PREFIX
from .durations import parse_duration
from .registry import Registry, get_registry

DEFAULT_STORE = "sqlite:///mapwire.db"
#: How long a dedup key is remembered unless a connection says otherwise: 30 days, well
#: past the week senders commonly retry a webhook for, so a redelivery is always still
#: recognised, while old keys are removed instead of piling up.
DEFAULT_DEDUP_TTL = "30d"
DEMO_CONFIG = FsPath(__file__).parent.parent / "defaults" / "demo.yaml"


@dataclass(frozen=True)
class DeliveryOptions:
    rate_limit: float | None = None
    max_backlog: int = 1_000_000
    retry_window_hours: float = 24.0
    max_backoff_seconds: float = 300.0
    batch_wait_ms: int = 50
    timeout_seconds: float = 10.0
    lease_seconds: float = 30.0
    credentials_hold_minutes: float = 60.0
    concurrency: int = 4
    http: str = "auto"
    """The HTTP client's transport: ``auto`` (``runtime/http1.py`` where httptools is
    installed) or ``httpx`` (httpx's own)."""


@dataclass(frozen=True)
class Connection:
    """One named flow into one destination account."""

    name: str
    flow: str
    plan: Plan
    settings: dict[str, Any]
    destination: dict[str, Any] = field(repr=False)
    source: dict[str, Any] = field(repr=False)
    enabled: bool = True
    when_disabled: str = "hold"
    transport: str | None = None
    delivery: DeliveryOptions = DeliveryOptions()
    dedup_ttl: float = parse_duration(DEFAULT_DEDUP_TTL)
    """Seconds a dedup key is remembered (``dedup_ttl`` in the config; default 30 days)."""

    @property
    def state_namespace(self) -> str:
        """The prefix of this connection's names in the state store (its sets are apart
        from every other connection's)."""
        return f"{self.name}:"

    @property
    def delivers(self) -> bool:
        """Whether queued items for this connection are being delivered."""
        return self.enabled or self.when_disabled == "drain"


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 5_000_000
    max_json_depth: int = 64
    max_parse_bytes: int = 32_000_000
    offload_bytes: int = 1_000_000
    """Bodies larger than this are parsed, mapped and queued by a helper process, so the
    serving process never holds them (0: never; they are parsed in a thread)."""
    header_timeout_seconds: float = 10.0
    keepalive_timeout_seconds: int = 5
    max_connections: int = 1000
    workers: int = 1
    """Intake processes sharing the listening socket (1: intake runs in ``serve`` itself)."""
    deliverers: int = 0
    """Delivery processes (0: each intake process delivers too)."""
    http: str = "auto"
    """The HTTP parser: ``httptools`` (C, installed with mapwire where it builds, under
    mapwire's own HTTP/1.1 protocol, ``server/http_protocol.py``), ``h11`` (pure Python,
    uvicorn's protocol), or ``auto`` (httptools when importable)."""
    loop: str = "auto"
    """The event loop: ``uvloop`` (installed with mapwire on POSIX), ``asyncio``, or
    ``auto`` (uvloop when importable)."""
    tap: bool | str = True
    """``mapwire tap``: True (its folder beside the queue or the config file), a folder, or
    False (no tap)."""
    auth: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Config:
    path: str
    store: str
    queue: str
    connections: tuple[Connection, ...]
    server: ServerOptions = ServerOptions()
    #: The folder relative paths in the file were resolved against (``load_config``'s base).
    base: str = ""

    def connection(self, name: str) -> Connection:
        for c in self.connections:
            if c.name == name:
                return c
        hint = did_you_mean(name, [c.name for c in self.connections])
        raise KeyError(f"no connection named {name!r}{hint}")


@lru_cache(maxsize=1)
def config_schema() -> dict[str, Any]:
    text = resources.files("mapwire.schemas").joinpath("config.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def ordered(problems: list[Problem], file: str | FsPath) -> list[Problem]:
    """``problems`` once each, the config file's first, in ``line:col`` order."""
    unique = {(p.path, p.line, p.col, p.code, p.message): p for p in reversed(problems)}
    return sorted(
        reversed(unique.values()), key=lambda p: (p.path != str(file), p.path, p.line, p.col)
    )


def _delivery(raw: Mapping[str, Any], base: DeliveryOptions) -> DeliveryOptions:
    return DeliveryOptions(**{**base.__dict__, **raw})


def _is_demo(file: FsPath) -> bool:
    try:
        return file.resolve() == DEMO_CONFIG.resolve()
    except OSError:
        return False


def load_config(
    path: str | FsPath,
    registry: Registry | None = None,
    *,
    base: FsPath | None = None,
    warnings: list[Problem] | None = None,
) -> Config:
    """Read, validate and resolve a config file; raise ``ConfigError`` with every problem.

    Relative paths in it (SQLite files, sink folders, extra mappings) are relative to the
    file's folder, or to ``base`` when given. The bundled demo config's are relative to
    the current directory, however it is named (``serve`` without a config, or
    ``--config`` with its installed path: ``dlq list`` then reads the demo's store).
    ``warnings``, when given, receives the warnings (a secret written in the file), with
    or without errors; a warning never makes loading fail.
    """
    file = FsPath(path)
    if base is None and _is_demo(file):
        base = FsPath.cwd()
    base = base or file.parent
    try:
        text = file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(file), 1, 1, "C000", f"cannot read file: {exc}")]) from exc
    value, positions, problems = load(text, str(file))
    if not isinstance(value, dict):
        if value is not None or not problems:
            problems.append(Problem(str(file), 1, 1, "C001", "a config file must be an object"))
        raise ConfigError(problems)
    checker = ConfigChecker(positions, base, registry or get_registry())
    errors = list(jsonschema.Draft202012Validator(config_schema()).iter_errors(value))
    checker.problems = [*problems, *schema_problems(errors, positions)]
    checker.refused = [tuple(e.absolute_path) for e in errors]
    try:
        checked = check_config(checker, value)
    except (TypeError, ValueError, KeyError, AttributeError):
        if not checker.problems:  # a shape the schema accepted: a bug, not the file's
            raise
        checked = []
    if warnings is not None:
        warnings += ordered(checker.warnings, file)
    if checker.problems:
        raise ConfigError(ordered(checker.problems, file))
    return _build(file, value, base, checked, checker.auth)


def _build(
    file: FsPath,
    value: Mapping[str, Any],
    base: FsPath,
    checked: list[tuple[Any, Checked]],
    auth: dict[str, Any],
) -> Config:
    """The ``Config`` of a file without problems."""
    defaults = _delivery(value.get("delivery", {}), DeliveryOptions())
    connections = []
    for raw, (plan, settings, destination, source) in checked:
        assert plan is not None  # no plan is a problem reported
        transport = raw.get("transport")
        if transport and transport.startswith(SINK_PREFIX):
            transport = SINK_PREFIX + str((base / transport[len(SINK_PREFIX) :]).resolve())
        connections.append(
            Connection(
                name=raw["name"],
                flow=raw["flow"],
                plan=plan,
                settings=settings,
                destination=destination,
                source=source,
                enabled=raw.get("enabled", True),
                when_disabled=raw.get("when_disabled", "hold"),
                transport=transport,
                delivery=_delivery(raw.get("delivery", {}), defaults),
                dedup_ttl=parse_duration(raw.get("dedup_ttl", DEFAULT_DEDUP_TTL)),
            )
        )
    server_raw = dict(value.get("server", {}))
    if isinstance(server_raw.get("tap"), str):
        server_raw["tap"] = str((base / server_raw["tap"]).resolve())
    server_raw.pop("auth", None)
    store = _relative_url(value.get("store", DEFAULT_STORE), base)
    return Config(
        path=str(file),
        store=store,
        queue=_relative_url(value["queue"], base) if "queue" in value else store,
        connections=tuple(connections),
        server=ServerOptions(**server_raw, auth=auth),
        base=str(base),
    )


def _relative_url(url: str, base: FsPath) -> str:
    """``sqlite:///x.db`` is relative to the config file's folder; absolute paths stay."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url
