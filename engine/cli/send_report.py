"""What ``mapwire send`` tells its user: the progress line while it runs and the summary
at the end (also after Ctrl-C, as a partial summary)."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any

import click


class Progress:
    """A live status line on a terminal; a plain line every few seconds otherwise.

    Bytes are counted per file: a resumed file starts at its resume point and a finished
    (or already sent) file counts whole, so the last line of a complete run says 100%.
    """

    def __init__(self, total_bytes: int, stream: IO[str] = sys.stderr) -> None:
        self.total = total_bytes
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0
        self.bytes = 0
        self.documents = 0
        self._file_start = 0
        self._file_size = 0

    def start_file(self, size: int, already_done: int = 0) -> None:
        """A new input of ``size`` bytes, of which ``already_done`` were sent before."""
        self._file_start, self._file_size = self.bytes, size
        self.bytes += min(already_done, size)

    def end_file(self) -> None:
        """The current input is read to its end."""
        self.bytes = self._file_start + self._file_size

    def update(self, snapshot: dict[str, Any], queued_now: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        rate = self.documents / elapsed
        done = min(self.bytes, self.total)
        pct = f"{100 * done / self.total:5.1f}%" if self.total else "  -  "
        eta = ""
        if self.total and done and done < self.total:
            eta = f" ETA {(self.total - done) / (done / elapsed):.0f}s"
        line = (
            f"{pct} {self.documents:,} docs {rate:,.0f}/s{eta} | queued {snapshot['mapped']:,} "
            f"delivered {snapshot['delivered']:,} waiting {queued_now:,} "
            f"dead-lettered {snapshot['dead_lettered']:,}"
        )
        if self.tty:
            self.stream.write("\r" + line.ljust(100) + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


@dataclass
class Tally:
    """What one ``send`` run read and how it went, beside the delivery metrics."""

    carried_over: int = 0  # queued for the connection before this run started
    documents: int = 0
    bad_lines: int = 0
    errors: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, n: int) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n


def print_summary(
    snap: dict[str, Any], tally: Tally, waiting: int, *, interrupted: bool = False
) -> None:
    """The end-of-run summary on stderr: queued by this run versus delivered by it."""

    def say(text: str) -> None:
        click.echo(text, err=True)

    say("summary (interrupted):" if interrupted else "summary:")
    say(f"  documents read: {tally.documents:,}")
    say(f"  queued: {snap['mapped']:,} new action(s) from this run's input")
    for reason, n in sorted(tally.skipped.items()):
        say(f"  skipped ({reason}): {n:,}")
    say(f"  malformed input lines: {tally.bad_lines:,}")
    say(f"  items that failed to map: {tally.errors:,}")
    delivered = int(snap["delivered"])
    line = f"  delivered: {delivered:,} in {int(snap['requests']):,} request(s)"
    earlier = min(tally.carried_over, delivered)  # the queue is oldest first
    if earlier:
        line += f" (including {earlier:,} carried over from earlier runs / retried)"
    say(line)
    for endpoint, n in sorted(snap.get("endpoints", {}).items()):
        say(f"    to {endpoint}: {n:,} request(s)")
    for reason, n in sorted(snap.get("repaired", {}).items()):
        say(f"  repaired fields ({reason}): {n:,}")
    say(f"  retried: {int(snap['retried']):,}")
    say(f"  dead-lettered: {int(snap['dead_lettered']):,}")
    say(
        f"  still queued: {waiting:,}"
        + (" (delivered by the next run, or by mapwire serve)" if waiting else "")
    )


class DeliveryNotices(logging.Handler):
    """Delivery's pause/resume log records as plain stderr lines (``serve`` logs JSON)."""

    TEXTS = {
        "connection_paused": "delivery paused: the vendor refused the credentials ({detail}); "
        "items stay queued and the credentials are tried again with backoff",
        "connection_resumed": "delivery resumed: the credentials are accepted again",
    }

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "mapwire_fields", None) or {}
        text = self.TEXTS.get(str(record.msg))
        if text is not None and "connection" in fields:
            detail = fields.get("detail", "")
            click.echo(
                f"connection {fields['connection']!r}: {text.format(detail=detail)}", err=True
            )
