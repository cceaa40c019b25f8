"""The command line loads each command's module when the command is used."""

from __future__ import annotations

import subprocess
import sys

import click

from mapwire.cli import COMMANDS, main


def test_every_listed_command_loads_under_its_own_name() -> None:
    ctx = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name, name
    assert main.list_commands(ctx) == sorted(COMMANDS)


def test_map_does_not_load_the_server_the_http_client_or_the_stores() -> None:
    probe = (
        "import sys, click\n"
        "from mapwire.cli import main\n"
        "main.get_command(click.Context(main), 'map')\n"
        "print(sorted(m for m in ('httpx', 'starlette', 'uvicorn', 'redis', 'sqlite3')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
