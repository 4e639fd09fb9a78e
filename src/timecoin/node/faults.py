"""How the node stops itself on a storage fault (ADR 0011).

- Damage (a record or the store file is not what was written): the read
  that found it raises `StoreCorruptError` and is never served; the node
  logs it once and stops at once with `EXIT_STORE_DAMAGED`.
- A failed write or flush (`StorageWriteError`: a full disk, an I/O error,
  or free space below `MIN_FREE_DISK_BYTES`): the store takes no more
  writes; the node stops block production, finality voting and heartbeats
  at once, reports the reason in `getblockchaininfo` `warnings`, the log and
  the `timecoin_storage_failed` gauge, and exits with `EXIT_STORAGE_FAILED`
  `STORAGE_FAILURE_EXIT_S` later (so that monitoring can read why).

Both handlers may be called from any thread (store reads and writes run in
the thread pools); they hand over to the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final, Protocol

from timecoin.storage import StorageError, StorageWriteError, StoreCorruptError

log = logging.getLogger("timecoin.node")

EXIT_FAILURE: Final = 1
"""Exit status: the node could not start or stop cleanly."""
EXIT_STORE_DAMAGED: Final = 3
"""Exit status: a stored record or the store file is damaged (docs/node.md, "Damage and repair")."""
EXIT_STORAGE_FAILED: Final = 4
"""Exit status: the store could not write (disk full, I/O error)."""
MIB: Final = 1 << 20
MIN_FREE_DISK_BYTES: Final = 50 * MIB
"""Free space the node keeps on the store's file system: below it, it
refuses to start and stops writing (bitcoind stops at the same 50 MiB)."""
STARTUP_CHECK_BLOCKS: Final = 6
"""Main-chain blocks (from the tip) whose header and body are checked at start-up."""
STORAGE_FAILURE_EXIT_S: Final = 10.0
"""Seconds between a failed write and the exit, for monitoring to read why."""


class _Stoppable(Protocol):
    async def stop(self) -> None: ...


async def halt_services(*services: _Stoppable | None) -> None:
    """Stop `services` in order (block production, voting, heartbeats)."""
    for service in services:
        if service is not None:
            await service.stop()


def exit_status_of(error: BaseException) -> int:
    """The exit status of a node that could not start because of `error`."""
    if isinstance(error, StoreCorruptError):
        return EXIT_STORE_DAMAGED
    if isinstance(error, StorageWriteError):
        return EXIT_STORAGE_FAILED
    return EXIT_FAILURE


class FaultStop:
    """Stops the node on storage faults; holds the warning and the exit status."""

    def __init__(
        self,
        request_stop: Callable[[], None],
        halt: Callable[[], Coroutine[Any, Any, None]],
        *,
        exit_delay_s: float = STORAGE_FAILURE_EXIT_S,
    ) -> None:
        """`request_stop` ends the node; `halt` stops producing, voting and
        signing (both called on the loop)."""
        self._request_stop = request_stop
        self._halt = halt
        self._exit_delay_s = exit_delay_s
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._halt_task: asyncio.Task[None] | None = None
        self.exit_status = 0
        """0, or the status the node exits with because of a fault."""
        self.warning: str | None = None
        """What stopped the node's writes, for `getblockchaininfo` warnings."""

    @property
    def storage_failed(self) -> bool:
        """True once a write failed."""
        return self.exit_status == EXIT_STORAGE_FAILED

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The node runs: faults from now on stop it (before, they fail its start)."""
        self._loop = loop

    def _claim(self, status: int) -> bool:
        """Record the first fault's exit status; False if one was recorded already."""
        with self._lock:
            if self.exit_status:
                return False
            self.exit_status = status
            return True

    def on_damage(self, error: StorageError) -> None:
        """A read found damage: log it and stop the node now."""
        if not self._claim(EXIT_STORE_DAMAGED):
            return
        log.error("stored data is damaged, stopping: %s", error)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._request_stop)

    def on_write_failure(self, error: StorageWriteError) -> None:
        """A write failed: stop producing and voting now, exit after the delay."""
        reason = "disk full" if error.disk_full else "storage I/O error"
        warning = (
            f"{reason}: cannot write the chain store ({error}); block production and voting stopped"
        )
        if not self._claim(EXIT_STORAGE_FAILED):
            return
        self.warning = warning
        log.error("%s; the node exits in %.0f s", warning, self._exit_delay_s)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop_writing)

    def _stop_writing(self) -> None:
        """On the loop: halt at once, exit after the delay."""
        self._halt_task = asyncio.create_task(self._halt(), name="storage-failure-halt")
        assert self._loop is not None
        self._loop.call_later(self._exit_delay_s, self._request_stop)
