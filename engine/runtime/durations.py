"""Durations written in config files: a number and a unit, ``90s``, ``30m``, ``12h``, ``30d``."""

from __future__ import annotations

import re
from typing import Final

#: The JSON Schema pattern of a duration (kept in step with ``schemas/config.schema.json``).
DURATION_PATTERN: Final = r"^[0-9]+(\.[0-9]+)?[smhd]$"
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``30d`` -> seconds. Raises ``ValueError`` for anything else."""
    m = re.fullmatch(DURATION_PATTERN[1:-1], text.strip())
    if not m:
        raise ValueError(f"not a duration: use a number and s, m, h or d, e.g. 30d (got {text!r})")
    return float(text.strip()[:-1]) * _UNITS[text.strip()[-1]]
