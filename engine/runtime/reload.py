"""Loading a new config and mapping set next to the running one (``serve``'s reload).

``load_checked`` reads the config again (every mapping it names is compiled and checked
on the way, exactly as at startup: a problem raises ``ConfigError`` listing each one at
``file:line:col``) and keeps the settings a running process cannot change: the store,
the queue, and the server options that the listening socket, the process count or the
HTTP server were made from (``RESTART_ONLY_SERVER``). Those keep their running values
and are named in ``needs_restart`` so the caller can say so.

``prepare`` also builds the new intake pipeline (each flow compiled to its generated
code) over the running store and queue. Nothing here touches what is running: the
caller swaps the result in (``Runtime.adopt``) only once all of it succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from .config import Config
from .pipeline import Pipeline

#: Server options a reload cannot apply (the socket, the processes and the HTTP server
#: were made from them): a changed one is reported and keeps its running value.
RESTART_ONLY_SERVER = (
    "host",
    "port",
    "workers",
    "deliverers",
    "max_connections",
    "header_timeout_seconds",
    "keepalive_timeout_seconds",
    "max_parse_bytes",
    "http",
    "loop",
    "tap",
)


class PipelineMaker(Protocol):
    def build_pipeline(self, config: Config) -> Pipeline: ...


@dataclass(frozen=True)
class Prepared:
    """A checked new config, the pipeline compiled from it, and what it could not change."""

    config: Config
    pipeline: Pipeline | None
    needs_restart: tuple[str, ...]


def keep_fixed(running: Config, new: Config) -> tuple[Config, tuple[str, ...]]:
    """``new`` with the running values of what only a restart can change, and the names
    of the settings that differed (``store``, ``queue``, ``server.port`` ...)."""
    changed = [name for name in ("store", "queue") if getattr(new, name) != getattr(running, name)]
    kept: dict[str, Any] = {}
    for name in RESTART_ONLY_SERVER:
        if getattr(new.server, name) != getattr(running.server, name):
            changed.append(f"server.{name}")
        kept[name] = getattr(running.server, name)
    server = replace(new.server, **kept)
    return replace(new, store=running.store, queue=running.queue, server=server), tuple(changed)


def load_checked(running: Config, load: Callable[[], Config]) -> Prepared:
    """The config ``load`` reads now, every mapping compiled and checked (raises
    ``ConfigError`` with every problem), with the restart-only settings kept."""
    config, needs_restart = keep_fixed(running, load())
    return Prepared(config, None, needs_restart)


def prepare(running: Config, load: Callable[[], Config], maker: PipelineMaker) -> Prepared:
    """``load_checked`` and the pipeline for the new config (its flows compiled)."""
    checked = load_checked(running, load)
    return replace(checked, pipeline=maker.build_pipeline(checked.config))


def watched_files(config: Config) -> list[Path]:
    """The files a config is made of: the config file and each connection's mapping."""
    files = [Path(config.path)]
    files += [Path(c.plan.file) for c in config.connections if c.plan.file]
    return list(dict.fromkeys(p.resolve() for p in files))
