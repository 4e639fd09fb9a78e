"""Parallel verification of many Ed25519 signatures.

No Python binding offers true batch verification, so a batch is split into
chunks verified one signature at a time on a small thread pool: libsodium
runs with the GIL released, so two threads verify about 1.9 times as fast
as one. Each result is exactly :func:`timecoin.crypto.ed25519.verify`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Final

from timecoin.crypto.ed25519 import verify

__all__ = [
    "GIL_SWITCH_INTERVAL_S",
    "BatchVerifier",
    "PendingVerification",
    "SignatureItem",
    "configure_parallel_verification",
    "verify_batch",
]

GIL_SWITCH_INTERVAL_S: Final = 0.0002
"""The interpreter switch interval a process that verifies on threads should use.

A thread coming back from libsodium must take the GIL again; while another
thread runs Python code, CPython hands the GIL over only once per switch
interval (5 ms by default), so verification threads sit idle between
signatures. At 0.2 ms, validation overlapped with pool verification reached
1.6x the single-threaded rate on 2 cores, against 1.2-1.5x at the default
(bench/ledger.py; docs/adr/0005-gil-switch-interval.md)."""


def configure_parallel_verification() -> None:
    """Set the process-wide GIL switch interval to `GIL_SWITCH_INTERVAL_S`.

    Interpreter-wide state: only composition roots (the node, benchmarks)
    call this, once, at start-up.
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


SignatureItem = tuple[bytes, bytes, bytes]
"""One check: ``(public_key, message, signature)``."""


def _verify_chunk(items: Sequence[SignatureItem]) -> list[bool]:
    check = verify
    return [check(pk, msg, sig) for pk, msg, sig in items]


class PendingVerification:
    """Results of a batch submitted to the pool, available through `result()`."""

    def __init__(self, futures: list[Future[list[bool]]]) -> None:
        self._futures = futures

    def result(self) -> list[bool]:
        """Wait for every chunk; one result per submitted item, in order."""
        results: list[bool] = []
        for future in self._futures:
            results.extend(future.result())
        return results

    def all_valid(self) -> bool:
        """Wait for every chunk; True when every signature verified."""
        return all(all(future.result()) for future in self._futures)


class BatchVerifier:
    """Verify batches of signatures on a thread pool of ``threads`` workers.

    Items are split into chunks of ``chunk_size``; a batch of fewer than two
    chunks is verified inline on the calling thread, where a pool would cost
    more than it saves. The pool is created on first use and shut down by
    :meth:`close` (or by leaving a ``with`` block). Safe to share between
    threads.
    """

    def __init__(self, threads: int = 2, chunk_size: int = 64) -> None:
        """Configure the pool; raise ``ValueError`` unless both arguments are >= 1."""
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.threads = threads
        self.chunk_size = chunk_size
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("BatchVerifier is closed")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.threads, thread_name_prefix="sigverify"
                )
            return self._executor

    def verify_all(self, items: Sequence[SignatureItem]) -> list[bool]:
        """Return one result per ``(public_key, message, signature)`` item, in order.

        Raises ``RuntimeError`` if the verifier was closed and the batch needs
        the pool.
        """
        size = self.chunk_size
        if self.threads == 1 or len(items) < 2 * size:
            return _verify_chunk(items)
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        results: list[bool] = []
        for part in self._pool().map(_verify_chunk, chunks):
            results.extend(part)
        return results

    def submit(self, items: Sequence[SignatureItem]) -> PendingVerification:
        """Start verifying `items` on the pool and return at once.

        The caller keeps working (decoding and validating the next
        transactions) while the pool checks signatures: this overlap is what
        lets validation use both cores. Raises ``RuntimeError`` if closed.
        """
        size = self.chunk_size
        pool = self._pool()
        futures = [
            pool.submit(_verify_chunk, items[i : i + size]) for i in range(0, len(items), size)
        ]
        return PendingVerification(futures)

    def all_valid(self, items: Sequence[SignatureItem]) -> bool:
        """Return whether every item carries a valid signature (``True`` when empty)."""
        return all(self.verify_all(items))

    def close(self) -> None:
        """Shut the thread pool down, waiting for running checks; idempotent."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def __enter__(self) -> BatchVerifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_default_lock = threading.Lock()
_default_verifier: BatchVerifier | None = None


def _default() -> BatchVerifier:
    global _default_verifier
    with _default_lock:
        if _default_verifier is None:
            _default_verifier = BatchVerifier()
        return _default_verifier


def verify_batch(
    items: Sequence[SignatureItem], verifier: BatchVerifier | None = None
) -> list[bool]:
    """Verify ``items`` with ``verifier``, or with a shared two-thread verifier if ``None``."""
    return (verifier if verifier is not None else _default()).verify_all(items)
