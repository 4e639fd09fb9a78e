"""Heap snapshots of a running node, for `bench/soak.py --heap-profile`.

Put this directory on PYTHONPATH and set TIMECOIN_HEAP_DUMP_DIR: every
Python process started so (the testnet's nodes) traces its allocations with
tracemalloc (TIMECOIN_HEAP_DUMP_FRAMES frames, default 1) and, on SIGUSR2, writes a snapshot to
`DIR/heap-<pid>-<n>.snapshot`. Not part of the node: a profiling aid only.
"""

from __future__ import annotations

import os
import signal
import tracemalloc
from pathlib import Path
from types import FrameType

_DIR = os.environ.get("TIMECOIN_HEAP_DUMP_DIR")
_FRAMES = int(os.environ.get("TIMECOIN_HEAP_DUMP_FRAMES", "1"))

if _DIR:
    tracemalloc.start(_FRAMES)
    _count = [0]

    def _dump(signum: int, frame: FrameType | None) -> None:
        _count[0] += 1
        target = Path(_DIR) / f"heap-{os.getpid()}-{_count[0]}.snapshot"
        partial = target.with_suffix(".partial")
        tracemalloc.take_snapshot().dump(str(partial))
        partial.replace(target)

    signal.signal(signal.SIGUSR2, _dump)
