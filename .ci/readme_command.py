"""Print one of the README's marked commands, so CI runs exactly what the README says.

A marked command is an HTML comment ``<!-- readme-command: NAME -->`` directly above a
fenced ``sh`` block of one line:

    <!-- readme-command: test -->
    ```sh
    python -m pytest -q
    ```

Usage: ``python3 .ci/readme_command.py NAME [README]`` (README defaults to the repository's
``README.md``). Prints the line; exits 1 with a message if NAME is not marked exactly once
or its block is not a single command line. Standard library only: it runs before any venv.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MARKED = re.compile(
    r"^<!-- readme-command: (?P<name>[\w-]+) -->\n```sh\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)


class NotMarked(ValueError):
    """The README does not hold the named command as a single marked line."""


def readme_command(text: str, name: str) -> str:
    """The command marked ``name`` in README ``text``."""
    found = [m for m in MARKED.finditer(text) if m["name"] == name]
    if len(found) != 1:
        raise NotMarked(
            f"README: {len(found)} blocks marked '<!-- readme-command: {name} -->' "
            "(need exactly one, directly above a ```sh block)"
        )
    lines = [line for line in found[0]["body"].splitlines() if line.strip()]
    if len(lines) != 1:
        line = text[: found[0].start()].count("\n") + 1
        raise NotMarked(f"README:{line}: the '{name}' block must hold one command line")
    return lines[0].strip()


def main(argv: list[str]) -> int:
    if len(argv) not in {1, 2}:
        print("usage: readme_command.py NAME [README]", file=sys.stderr)
        return 2
    readme = Path(argv[1]) if len(argv) == 2 else Path(__file__).resolve().parents[1] / "README.md"
    try:
        print(readme_command(readme.read_text("utf-8"), argv[0]))
    except NotMarked as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
