"""The engine knows no vendor: no file under ``engine/`` names one.

Vendor knowledge (endpoints, protocols, credentials, schemas) lives in ``plugins/`` and
``mappings/``. Every file under ``engine/`` is read (code, docstrings, help texts, the
bundled YAML) and every line naming a vendor fails the test, except these, each for a
reason:

* ``engine/defaults/demo.yaml``: the bundled demo config is data, not engine code: it runs
  the shipped flows into a local sink, so it names them and their connections.
* Command lines in the ``Examples:`` of a command's help (a line starting ``mapwire `` or
  ``cat ``): they show a user commands to paste, with the shipped flows, destinations and
  sources; nothing in the engine depends on them.
* ``engine/server/committer.py``: one comment (the small webhook bodies a group may carry,
  as an example) in a file another change is rewriting; it goes with that change.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "engine"
VENDOR = re.compile(r"mparticle|customerio|customer\.io|firehose", re.IGNORECASE)

#: Files that may name vendors (see the module's notes).
ALLOWED_FILES = {"engine/defaults/demo.yaml"}
#: (file, the line's text stripped) pairs that may name vendors.
ALLOWED_LINES = {
    (
        "engine/server/committer.py",
        "are counted exactly (Customer.io webhooks: one small event each).",
    ),
}
EXAMPLE_COMMAND = re.compile(r"^(mapwire|cat) ")


def vendor_lines() -> list[str]:
    found = []
    for path in sorted(ENGINE.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        name = path.relative_to(ROOT).as_posix()
        text = path.read_text("utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not VENDOR.search(line) or name in ALLOWED_FILES:
                continue
            if (name, stripped) in ALLOWED_LINES:
                continue
            if name.startswith("engine/cli/") and EXAMPLE_COMMAND.match(stripped):
                continue
            found.append(f"{name}:{number}: {stripped}")
    return found


def test_no_file_under_engine_names_a_vendor() -> None:
    assert vendor_lines() == []


def test_the_check_sees_every_kind_of_file() -> None:
    """The walk reads Python and YAML alike (the demo config is the allowed YAML)."""
    kinds = {path.suffix for path in ENGINE.rglob("*") if path.is_file()}
    assert {".py", ".yaml"} <= kinds
    demo = (ENGINE / "defaults" / "demo.yaml").read_text("utf-8")
    assert VENDOR.search(demo), "the allowed demo config is read, and allowed, by name"
