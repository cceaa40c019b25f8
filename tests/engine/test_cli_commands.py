"""The command line loads each command's module when the command is used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_map_runs_without_asyncio_and_freezes_the_collector_at_exit() -> None:
    """``map`` runs no event loop (asyncio alone is ~15 ms of its start-up), and once its
    output is flushed it leaves the start-up objects out of the collector's passes at exit."""
    samples = Path(__file__).resolve().parents[2] / "mappings" / "samples"
    probe = (
        "import atexit, gc, sys\n"
        "from mapwire.cli import main\n"
        # atexit runs last-registered first: this runs after the command's own callback.
        "atexit.register(lambda: print(gc.get_freeze_count() > 0, file=sys.stderr))\n"
        "try:\n"
        "    main(['map', '--mapping', 'mparticle-events-to-customerio', sys.argv[1]])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('asyncio' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(samples / "mparticle_events_api_batch.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.count("\n") >= 1, done.stderr
    assert done.stderr.split()[-2:] == ["False", "True"], done.stderr
