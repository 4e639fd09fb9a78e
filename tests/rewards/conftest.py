"""The reward tests run on the heartbeat tests' chain (tests/heartbeat)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "heartbeat"))
