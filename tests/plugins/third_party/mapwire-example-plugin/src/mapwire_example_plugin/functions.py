"""JMESPath functions for mappings. Pure and total: a null argument gives null."""

from __future__ import annotations

SHOUT_SIGNATURE = [["string", "null"]]
"""One list of JMESPath type names per argument: ``shout(string)``, null allowed."""


def shout(text: str | None) -> str | None:
    """``text`` in capitals with ``!`` appended: ``shout('hi')`` is ``'HI!'``."""
    return None if text is None else text.upper() + "!"
