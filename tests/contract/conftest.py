"""Contract servers for tests: puts this folder on ``sys.path`` and provides the fixtures.

``customerio_server`` and ``mparticle_server`` come from ``contract_fixtures``. Once this
file has been loaded, ``from contract_servers import CustomerIOServer`` works from any test
module; a script does ``sys.path.insert(0, "<repo>/tests/contract")`` first.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

_fixtures = importlib.import_module("contract_fixtures")
customerio_server = _fixtures.customerio_server
mparticle_server = _fixtures.mparticle_server
