"""The config file: named connections, where state and the queue live, server options.

``load_config(path)`` validates the YAML against ``schemas/config.schema.json`` and then
checks what only the plugins know: every flow exists, every flow setting is valid for that
flow, destination settings match the destination's settings schema, every ``{env: NAME}``
is set. Every problem is reported at once as ``file:line:col`` (``ConfigError``).

Secret values are read from the environment here and handed only to plugins; the config
object's ``repr`` and every message name the variable, never its value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path as FsPath
from typing import Any

import jsonschema

from ..contracts.errors import ConfigError, Problem, SpecError
from ..language.mapping_settings import setting_type_error
from ..language.plan import Plan
from ..language.schema_errors import did_you_mean, schema_problems
from ..language.yaml_loader import Path, Positions, load
from .durations import parse_duration
from .mapping_files import compile_with_plugins, find_files, search_path_index
from .registry import Registry, get_registry

DEFAULT_STORE = "sqlite:///mapwire.db"
#: How long a dedup key is remembered unless a connection says otherwise: 30 days, well
#: past the week senders commonly retry a webhook for, so a redelivery is always still
#: recognised, while old keys are removed instead of piling up.
DEFAULT_DEDUP_TTL = "30d"
#: Stands in for a secret whose environment variable is missing (already reported), so
#: the same value does not draw a second, confusing error from the settings schema.
UNSET = "<unset>"
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
    """The HTTP parser: ``httptools`` (C, installed with mapwire where it builds), ``h11``
    (pure Python), or ``auto`` (httptools when importable)."""
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


class _Checker:
    def __init__(self, positions: Positions, base: FsPath, registry: Registry) -> None:
        self.positions = positions
        self.base = base
        self.registry = registry
        self.problems: list[Problem] = []
        self._flows: dict[str, FsPath] | None = None
        self.extra_mappings: list[FsPath] = []
        self._plans: dict[FsPath, Plan | SpecError] = {}
        self.reported: set[FsPath] = set()

    def problem(self, path: Path, code: str, message: str, *, key: bool = False) -> None:
        self.problems.append(self.positions.problem(path, code, message, key=key))

    def resolve(self, value: Any, path: Path) -> Any:
        """A plain value, or the environment variable an ``{env: NAME}`` names."""
        if isinstance(value, dict) and "env" in value:
            name = value["env"]
            found = os.environ.get(name, value.get("default"))
            if found is None:
                self.problem(path, "C201", f"environment variable {name} is not set")
                return UNSET
            return found
        return value

    def flows(self) -> dict[str, FsPath]:
        if self._flows is None:
            index = search_path_index(self.extra_mappings, self.registry)
            self.problems.extend(index.problems)
            self._flows = index.paths()
        return self._flows

    def compiled(self, file: FsPath) -> Plan | SpecError:
        """The mapping at ``file`` compiled (once), or the error listing its problems."""
        key = file.resolve()
        if key not in self._plans:
            try:
                self._plans[key] = compile_with_plugins(file, self.registry)
            except SpecError as exc:
                self._plans[key] = exc
        return self._plans[key]

    def check_mapping_folders(self) -> None:
        """Names on the whole search path, then every file of the ``mappings:`` folders
        in full: all their problems at once, not the first of the first bad file."""
        self.flows()
        for file in find_files(self.extra_mappings):
            result = self.compiled(file)
            if isinstance(result, SpecError):
                self.problems.extend(result.problems)
                self.reported.add(file.resolve())

    def plan_for(self, flow: str, path: Path) -> Plan | None:
        candidate = (self.base / flow) if flow.endswith((".yaml", ".yml", ".json")) else None
        file = candidate if candidate is not None and candidate.exists() else self.flows().get(flow)
        if file is None:
            hint = did_you_mean(flow, self.flows())
            self.problem(path, "C101", f"unknown flow {flow!r}{hint}")
            return None
        result = self.compiled(file)
        if isinstance(result, SpecError):
            if file.resolve() not in self.reported:
                self.problem(path, "C102", f"flow {flow!r} is invalid: {result.problems[0]}")
            return None
        return result

    def settings(self, plan: Plan, given: Mapping[str, Any], path: Path) -> dict[str, Any]:
        resolved = {n: d.default for n, d in plan.settings.items()}
        for name, value in given.items():
            decl = plan.settings.get(name)
            if decl is None:
                hint = did_you_mean(name, plan.settings)
                self.problem(
                    (*path, name),
                    "C103",
                    f"flow {plan.name!r} has no setting {name!r}{hint}",
                    key=True,
                )
                continue
            err = setting_type_error(decl, value)
            if err:
                self.problem((*path, name), "C104", err)
                continue
            resolved[name] = value
        return resolved

    def destination_settings(
        self, plan: Plan, given: Mapping[str, Any], path: Path
    ) -> dict[str, Any]:
        values = {k: self.resolve(v, (*path, k)) for k, v in given.items()}
        destination = self.registry.destinations().get(plan.destination)
        if destination is None:
            return values
        schema = dict(destination.settings_schema)
        validator = jsonschema.Draft202012Validator(schema)
        for error in validator.iter_errors(values):
            where = (*path, *error.absolute_path)
            if error.validator == "additionalProperties":
                allowed = sorted(schema.get("properties", {}))
                for extra in [k for k in error.instance if k not in allowed]:
                    hint = did_you_mean(extra, allowed)
                    self.problem(
                        (*path, extra),
                        "C105",
                        f"destination {plan.destination!r} has no setting {extra!r}{hint}",
                        key=True,
                    )
                continue
            if error.validator == "required":
                self.problem(path, "C106", f"destination {plan.destination!r}: {error.message}")
                continue
            self.problem(where, "C107", f"destination {plan.destination!r}: {_safe(error)}")
        return values


def _safe(error: jsonschema.ValidationError) -> str:
    """A validation message that does not quote the (possibly secret) value."""
    field_name = ".".join(str(p) for p in error.absolute_path) or "settings"
    if error.validator in ("enum", "const"):
        return f"{field_name}: must be one of {error.validator_value!r}"
    if error.validator == "type":
        return f"{field_name}: must be of type {error.validator_value}"
    if error.validator == "pattern":
        return f"{field_name}: does not have the expected format"
    return f"{field_name}: invalid value ({error.validator})"


def _delivery(raw: Mapping[str, Any], base: DeliveryOptions) -> DeliveryOptions:
    return DeliveryOptions(**{**base.__dict__, **raw})


def _is_demo(file: FsPath) -> bool:
    try:
        return file.resolve() == DEMO_CONFIG.resolve()
    except OSError:
        return False


def load_config(
    path: str | FsPath, registry: Registry | None = None, *, base: FsPath | None = None
) -> Config:
    """Read, validate and resolve a config file; raise ``ConfigError`` with every problem.

    Relative paths in it (SQLite files, sink folders, extra mappings) are relative to the
    file's folder, or to ``base`` when given. The bundled demo config's are relative to
    the current directory, however it is named (``serve`` without a config, or
    ``--config`` with its installed path: ``dlq list`` then reads the demo's store).
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
    if problems:
        raise ConfigError(problems)
    if not isinstance(value, dict):
        raise ConfigError([Problem(str(file), 1, 1, "C001", "a config file must be an object")])
    validator = jsonschema.Draft202012Validator(config_schema())
    problems = schema_problems(validator.iter_errors(value), positions)
    if problems:
        raise ConfigError(problems)
    reg = registry or get_registry()
    checker = _Checker(positions, base, reg)
    checker.extra_mappings = [base / m for m in value.get("mappings", [])]
    checker.check_mapping_folders()
    defaults = _delivery(value.get("delivery", {}), DeliveryOptions())
    connections = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(value["connections"]):
        where: Path = ("connections", i)
        name = raw["name"]
        if name in seen:
            checker.problem(
                (*where, "name"),
                "C108",
                f"duplicate connection name {name!r} (also #{seen[name] + 1})",
            )
        seen[name] = i
        plan = checker.plan_for(raw["flow"], (*where, "flow"))
        if plan is None:
            continue
        transport = raw.get("transport")
        if transport and transport.startswith("sink:"):
            transport = "sink:" + str((base / transport[len("sink:") :]).resolve())
        connections.append(
            Connection(
                name=name,
                flow=raw["flow"],
                plan=plan,
                settings=checker.settings(plan, raw.get("settings", {}), (*where, "settings")),
                destination=checker.destination_settings(
                    plan, raw.get("destination", {}), (*where, "destination")
                ),
                source={
                    k: checker.resolve(v, (*where, "source", k))
                    for k, v in raw.get("source", {}).items()
                },
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
    auth = {
        k: checker.resolve(v, ("server", "auth", k)) for k, v in server_raw.pop("auth", {}).items()
    }
    for key in ("bearer_token", "username", "password"):
        if isinstance(auth.get(key), str) and not auth[key].strip():  # an empty env var, say
            checker.problem(("server", "auth", key), "C202", f"server.auth.{key} is empty")
    if checker.problems:
        raise ConfigError(
            sorted(checker.problems, key=lambda p: (p.path != str(file), p.path, p.line, p.col))
        )
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
