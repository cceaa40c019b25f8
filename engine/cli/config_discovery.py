"""Which config file a command uses, the same way for every command.

``--config FILE``, else the ``MAPWIRE_CONFIG`` environment variable, else ``mapwire.yaml``
in the current directory. Only the commands that exist to try mapwire out (``serve`` and
``demo``, and ``tap``, which watches ``serve``) fall back to the bundled demo config, and
they say so; every other command
without a config stops with exit 2 and says where it looked, so a typo never sends a
backfill into a demo database.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import click

from ..contracts.errors import ConfigError, Problem
from ..runtime.config import DEMO_CONFIG, Config, load_config
from .common import EXIT_SPEC, report_problems, report_spec_error

ENV_VAR = "MAPWIRE_CONFIG"
LOCAL_NAME = "mapwire.yaml"
LOOKED_AT = f"--config, {ENV_VAR}, ./{LOCAL_NAME}"
DEMO_NOTE = (
    f"no config given ({LOOKED_AT}): running the bundled demo: state in ./mapwire-data, "
    "deliveries recorded in ./mapwire-data/delivered instead of the vendors"
)


@dataclass(frozen=True)
class Found:
    """A config file and where its name came from."""

    path: Path
    origin: str  # "--config", "MAPWIRE_CONFIG" or "./mapwire.yaml"


def find_config(given: Path | None) -> Found | None:
    """The config file to use, or None when none is given and none is in the current
    directory."""
    if given is not None:
        return Found(given, "--config")
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return Found(Path(from_env), ENV_VAR)
    if (Path.cwd() / LOCAL_NAME).is_file():
        return Found(Path(LOCAL_NAME), f"./{LOCAL_NAME}")
    return None


def no_config_message(command: str) -> str:
    who = f"mapwire {command}" if command else "mapwire"
    return (
        f"{who}: no config file: looked for --config FILE, the {ENV_VAR} "
        f"environment variable and ./{LOCAL_NAME} in {Path.cwd()}; pass --config FILE "
        f"(only `mapwire serve`, `mapwire demo` and `mapwire tap` run the bundled demo "
        f"without one)"
    )


def config_loader(given: Path | None) -> Callable[[], Config]:
    """What reads the same config file again (``serve``'s reload): the file found the way
    ``load_config_or_exit`` found it, else the bundled demo config."""
    found = find_config(given)
    if found is None:
        return partial(load_config, DEMO_CONFIG)  # its paths: the current directory's
    return partial(load_config, found.path)


def load_config_or_exit(
    given: Path | None, command: str = "", *, demo: bool = False, delivers: bool = False
) -> Config:
    """Load the discovered config, reporting problems as file:line:col (exit 2).

    With ``demo``, no config means the bundled demo config (said on stderr); without
    it, no config is an error (exit 2) naming the places looked at. With ``delivers`` (a
    command that sends vendor requests), a proxy variable vendor requests cannot use is
    such a problem too, found before anything starts.
    """
    found = find_config(given)
    warnings: list[Problem] = []  # a secret written in the file, say: said, never fatal
    try:
        if found is None:
            if not demo:
                click.echo(no_config_message(command), err=True)
                raise SystemExit(EXIT_SPEC)
            click.echo(DEMO_NOTE, err=True)
            config = load_config(DEMO_CONFIG, warnings=warnings)
        else:
            if found.origin != "--config":
                click.echo(f"config: {found.path} (from {found.origin})", err=True)
            config = load_config(found.path, warnings=warnings)
        report_problems(warnings)
        if delivers:
            check_proxies()
        return config
    except ConfigError as exc:
        report_spec_error(exc)
        raise SystemExit(EXIT_SPEC) from exc


def check_proxies() -> None:
    """Raise ``ConfigError`` when a proxy variable holds a URL vendor requests cannot use
    (``runtime.env_proxies``; its value is never shown)."""
    import httpx

    from ..runtime.env_proxies import proxy_mounts

    proxy_mounts(httpx.Limits())
