"""The explorer's store reads are bounded: a read keeps its thread after its
request gives up, so beyond MAX_PENDING_READS queued or running reads a new
one is refused at once instead of queued behind them."""

from __future__ import annotations

import asyncio
import threading

import pytest

from timecoin.crypto import address_from_public_key
from timecoin.explorer.source import SourceUnavailableError
from timecoin.node.explorer_source import MAX_PENDING_READS, NodeExplorerSource
from timecoin.node.lookups import key_address


async def test_reads_beyond_the_bound_are_refused_then_accepted_again() -> None:
    source = NodeExplorerSource(node=None, api=None)  # type: ignore[arg-type]  # reads use neither
    release = threading.Event()
    try:
        blocked = [
            asyncio.ensure_future(source._io(lambda: release.wait(10)))
            for _ in range(MAX_PENDING_READS)
        ]
        await asyncio.sleep(0)
        with pytest.raises(SourceUnavailableError):
            await source._io(lambda: True)
        for task in blocked:
            task.cancel()  # the requests give up; their reads still hold the thread
        with pytest.raises(SourceUnavailableError):
            await source._io(lambda: True)
        release.set()
        deadline = asyncio.get_running_loop().time() + 10
        while source._pending_reads and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert await source._io(lambda: 42) == 42
    finally:
        release.set()
        source.close()


def test_key_address_is_the_address_of_the_key() -> None:
    key = bytes(range(32))
    assert key_address(key) == address_from_public_key(key) == key_address(key)
