"""Make ``store_contract`` importable, here and in the worker processes it spawns.

Tests run with ``--import-mode=importlib``, so test folders are not on ``sys.path``. The
contract is a plain module rather than a fixture because store test classes inherit from
it, and ``spawn`` children import its workers by module name; a child gets the parent's
``sys.path``, so adding this folder once covers both.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)
