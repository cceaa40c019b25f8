"""``mapwire tap``: attach to a running ``mapwire serve`` and stream, live, the documents it
receives and the actions they become (the serving side is ``engine.server.tap``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson

from ..language.schema_errors import did_you_mean
from ..runtime.config import Config
from ..server.tap import MAX_BYTES, SOCKET_SUFFIX, tap_folder
from .common import EXIT_SPEC
from .config_discovery import load_config_or_exit

EXIT_NOTHING_TO_TAP = 1
#: How often the folder is looked at again for intake processes started since.
RESCAN_SECONDS = 1.0
#: With every intake process gone, how long to wait for one to come back before ending.
GONE_SECONDS = 5.0
#: Records read ahead of stdout; past it the tap stops reading and serve drops (and counts).
READ_AHEAD = 1000


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="The config `mapwire serve` runs with (default: $MAPWIRE_CONFIG, else "
    "./mapwire.yaml, else the bundled demo).",
)
@click.option("--connection", help="Only this connection's documents and actions.")
@click.option("--rule", help="Only the actions (and failures) of this rule, with their documents.")
@click.option(
    "--redact",
    is_flag=True,
    help="Show *** for the values of fields that look like personal data (email, phone, "
    "name, address, IP, identities ...). Secrets are always masked.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Stop after N records.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "pretty"]),
    default="json",
    show_default=True,
    help="JSON lines, or one readable line per record.",
)
def tap(
    config_path: Path | None,
    connection: str | None,
    rule: str | None,
    redact: bool,
    limit: int | None,
    fmt: str,
) -> None:
    """Watch, live, what a running `mapwire serve` receives and what it maps it to.

    Attaches to every intake process of the serve that runs with the same config and
    prints, as they happen, the documents it receives, the actions each one becomes
    (with the rule that made it), the items it skipped or failed to map. Until Ctrl-C or
    --limit records. Secrets are always masked; --redact masks personal data too.

    Serve drops records (and says how many) rather than wait for a tap that reads
    slowly: tapping never slows intake. Only the user running serve may tap it.

    \b
    Examples:
      mapwire tap --config mapwire.yaml
      mapwire tap --connection cio-events --rule person --format pretty
      mapwire tap --redact --limit 50 > sample.ndjson
    """
    config = load_config_or_exit(config_path, "tap", demo=True)
    _check_filter(config, connection, rule)
    folder = tap_folder(config)
    if folder is None:
        click.echo(
            f"mapwire tap: server.tap is false in {config.path}: serve offers no tap", err=True
        )
        raise SystemExit(EXIT_NOTHING_TO_TAP)
    hello = orjson.dumps({"connection": connection, "rule": rule, "redact": redact}) + b"\n"
    emit = _pretty if fmt == "pretty" else _json
    try:
        code = asyncio.run(Tapping(folder, hello, limit, emit).run())
    except KeyboardInterrupt:
        code = 0
    except BrokenPipeError:  # stdout closed (| head): nothing more to say
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    raise SystemExit(code)


def _check_filter(config: Config, connection: str | None, rule: str | None) -> None:
    names = [c.name for c in config.connections]
    if connection is not None and connection not in names:
        click.echo(
            f"mapwire tap: no connection named {connection!r} in {config.path}"
            f"{did_you_mean(connection, names)}",
            err=True,
        )
        raise SystemExit(EXIT_SPEC)
    if rule is None:
        return
    rules = {
        r.name
        for c in config.connections
        if connection in (None, c.name)
        for r in c.plan.all_rules()
    }
    if rule not in rules:
        click.echo(f"mapwire tap: no rule named {rule!r}{did_you_mean(rule, rules)}", err=True)
        raise SystemExit(EXIT_SPEC)


def _sockets(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.name.endswith(SOCKET_SUFFIX))
    except OSError:
        return []


def _say(text: str) -> None:
    click.echo(f"mapwire tap: {text}", err=True)


class Tapping:
    """The attached intake processes, and the records they send, in arrival order."""

    def __init__(
        self, folder: Path, hello: bytes, limit: int | None, emit: Callable[[bytes], bytes]
    ) -> None:
        self.folder = folder
        self.hello = hello
        self.limit = limit
        self.emit = emit
        self.records: asyncio.Queue[bytes | None] = asyncio.Queue(READ_AHEAD)
        self.attached: dict[Path, asyncio.Task[None]] = {}
        self.refused: list[str] = []

    async def run(self) -> int:
        pids = await self.attach_new()
        if not pids:
            _say(self.nothing_to_tap())
            return EXIT_NOTHING_TO_TAP
        _say(f"tapping {len(pids)} intake process(es) (pid {', '.join(pids)}); Ctrl-C to stop")
        watcher = asyncio.create_task(self.watch())
        try:
            return await self.copy()
        finally:
            watcher.cancel()
            for task in self.attached.values():
                task.cancel()

    def nothing_to_tap(self) -> str:
        if self.refused:
            return f"cannot tap ({'; '.join(self.refused)}): run it as the user running serve"
        return (
            f"no running `mapwire serve` to tap: no tap socket in {self.folder} "
            "(start serve with this config; server.tap: false turns the tap off)"
        )

    async def copy(self) -> int:
        """Write records to stdout until --limit, or until serve is gone."""
        out = sys.stdout.buffer
        written = 0
        while True:
            line = await self.records.get()
            if line is None:
                _say("serve stopped")
                return 0
            out.write(self.emit(line))
            written += 1
            if self.limit is not None and written >= self.limit:
                out.flush()
                return 0
            if self.records.empty():
                out.flush()

    async def attach_new(self) -> list[str]:
        """Attach to the sockets not attached yet; the pids of the processes attached."""
        pids = []
        for path in _sockets(self.folder):
            if path in self.attached:
                continue
            attached = await self.attach(path)
            if attached is not None:
                pids.append(attached)
        return pids

    async def attach(self, path: Path) -> str | None:
        try:
            reader, writer = await asyncio.open_unix_connection(str(path))
        except ConnectionRefusedError:  # left by a process that was killed
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        except PermissionError:
            self.refused.append(f"permission denied on {path}")
            return None
        except OSError:
            return None
        try:
            writer.write(self.hello)
            await writer.drain()
            answer: dict[str, Any] = orjson.loads(await reader.readline())
        except (OSError, ValueError):
            writer.close()
            return None
        if answer.get("type") != "tapping":
            _say(f"{path.name}: {answer.get('message', 'refused')}")
            writer.close()
            return None
        self.attached[path] = asyncio.create_task(self.read(path, reader, writer))
        return str(answer.get("pid", path.stem))

    async def read(
        self, path: Path, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while line := await _line(reader):
                await self.records.put(line)
        except (OSError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            self.attached.pop(path, None)

    async def watch(self) -> None:
        """Attach intake processes started later; end the stream when all are gone."""
        gone_for = 0.0
        while True:
            await asyncio.sleep(RESCAN_SECONDS)
            pids = await self.attach_new()
            if pids:
                _say(f"tapping intake process(es) {', '.join(pids)} too")
            if self.attached:
                gone_for = 0.0
                continue
            gone_for += RESCAN_SECONDS
            if gone_for >= GONE_SECONDS:
                await self.records.put(None)
                return


async def _line(reader: asyncio.StreamReader) -> bytes:
    """The next line, however long (serve sends none over ``MAX_BYTES``); b"" at the end.
    The reader's own buffer stays small, so a tap that falls behind soon stops reading."""
    parts: list[bytes] = []
    size = 0
    while True:
        try:
            parts.append(await reader.readuntil(b"\n"))
            return b"".join(parts)
        except asyncio.LimitOverrunError as exc:
            parts.append(await reader.readexactly(exc.consumed))
            size += exc.consumed
            if size > MAX_BYTES:
                raise
        except asyncio.IncompleteReadError:  # the end: no partial line is a record
            return b""


def _json(line: bytes) -> bytes:
    return line


def _pretty(line: bytes) -> bytes:
    """One readable line per record."""
    record = orjson.loads(line)
    kind, conn = record.get("type"), record.get("connection", "")
    if kind == "document":
        text = f"{conn} <- {record['source']}: {_compact(record['document'])}"
    elif kind == "action":
        text = (
            f"{conn} -> {record['destination']} {record['action']} (rule {record['rule']!r}): "
            f"{_compact(record['payload'])}"
        )
    elif kind == "skipped":
        reasons = ", ".join(f"{r} x{n}" for r, n in record["reasons"].items())
        text = f"{conn}    skipped: {reasons}"
    elif kind == "failed":
        where = f"rule {record['rule']!r}" + (
            f", field {record['field']!r}" if record["field"] else ""
        )
        text = f"{conn}    failed ({where}): {record['code']}: {record['message']}"
    elif kind == "dropped":
        text = f"... {record['count']} records dropped: the tap fell behind"
    else:
        text = _compact(record)
    return text.encode() + b"\n"


def _compact(value: Any) -> str:
    return orjson.dumps(value).decode()
