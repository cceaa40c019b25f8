"""The README's "Command reference" table lists every command of the click tree (groups'
subcommands included) and nothing else: a new command needs a row, a removed one loses it."""

from __future__ import annotations

import re
from pathlib import Path

import click

from mapwire.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"
WORD = re.compile(r"[a-z][a-z0-9-]*")


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> set[str]:
    """Every command that runs something, as its words after ``mapwire``."""
    found: set[str] = set()
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        path = (*prefix, name)
        if isinstance(command, click.Group):
            found |= commands(command, path)
        else:
            found.add(" ".join(path))
    return found


def table_rows() -> list[str]:
    """The command of each row of the table: the words after ``mapwire`` up to the first
    option, argument or metavar."""
    text = README.read_text("utf-8")
    section = text.split("## Command reference", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cell = re.match(r"\|\s*`mapwire ([^`]*)`", line)
        if cell is None:
            continue
        words = []
        for word in cell.group(1).split():
            if not WORD.fullmatch(word):
                break
            words.append(word)
        rows.append(" ".join(words))
    return rows


def test_the_command_table_lists_every_command_once() -> None:
    rows = table_rows()
    assert len(rows) == len(set(rows)), (
        f"listed twice: {sorted(r for r in rows if rows.count(r) > 1)}"
    )
    tree = commands(main)
    assert {"dlq list", "config check", "connect test", "demo post"} <= tree
    assert sorted(tree - set(rows)) == [], "commands missing from the README's table"
    assert sorted(set(rows) - tree) == [], "rows of the README's table that are no command"
