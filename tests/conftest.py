"""Fixtures every test folder may use: the vendor contract servers (``tests/contract``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "contract"))

from contract_fixtures import customerio_server, mparticle_server

__all__ = ["customerio_server", "mparticle_server"]
