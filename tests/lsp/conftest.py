"""Fixtures for the language server's tests (the stdio client lives in lsp_client.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
