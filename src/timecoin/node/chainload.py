"""Start-up of the chain store: the chain state of the tip, after a
requested reindex or a migration when there is one, and the indexes
(ADR 0010). `load_chain_state` runs in the node's I/O thread before
anything else starts; `build_indexes` and `check_utxo_set` run in
threads of their own while the node runs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from timecoin.chain import ChainState
from timecoin.crypto import verify
from timecoin.ledger import BatchVerify
from timecoin.node.config import IndexSection
from timecoin.params import ChainParams
from timecoin.storage import SCHEMA_VERSION, ChainStore, StorageError, StoreCorruptError
from timecoin.storage.chainstate import ChainStateError, read_chain_state, verify_utxo_set
from timecoin.storage.indexes import (
    ADDRESSINDEX,
    SPENTINDEX,
    TXINDEX,
    catch_up_index,
    is_index_behind,
    reset_indexes,
)
from timecoin.storage.migrate import migrate_store
from timecoin.storage.reindex import is_reindexing, reindex, request_reindex
from timecoin.types import Block

log = logging.getLogger("timecoin.node")

CHECK_PAUSE_S: Final = 0.02
"""Pause of the background UTXO set check after each chunk (about 20 ms of work)."""
REINDEX_ALL = "--reindex"
REINDEX_CHAINSTATE = "--reindex-chainstate"


def load_chain_state(
    chain: ChainStore,
    params: ChainParams,
    *,
    reindex_request: str | None,
    verify_batch: BatchVerify,
) -> ChainState:
    """The chain state of the stored tip: rebuilt first when `reindex_request`
    (REINDEX_ALL or REINDEX_CHAINSTATE) asks for it or a reindex was
    interrupted, migrated first from an older schema, else read and checked
    (never a replay). Raises StorageError (ChainStateError naming the
    repair) when the store cannot be used."""
    if reindex_request is not None:
        log.info("%s requested: rebuilding the chain state from the blocks", reindex_request)
        request_reindex(chain)
        if reindex_request == REINDEX_ALL:
            reset_indexes(chain.kv)
    if is_reindexing(chain.kv):
        return reindex(
            chain, stored_genesis(chain), params, verifier=verify, verify_batch=verify_batch
        )
    if chain.stored_schema_version < SCHEMA_VERSION:
        log.info(
            "the store has schema version %d: migrating it to %d in place",
            chain.stored_schema_version,
            SCHEMA_VERSION,
        )
        return migrate_store(chain, stored_genesis(chain), params)
    return read_chain_state(chain, params)


def stored_genesis(chain: ChainStore) -> Block:
    """The stored genesis block; ChainStateError when it is missing."""
    genesis_hash = chain.get_block_hash(0)
    stored = None if genesis_hash is None else chain.get_block(genesis_hash)
    if stored is None:
        raise ChainStateError("the chain store has no genesis block: resync")
    return stored


def enabled_indexes(section: IndexSection) -> frozenset[str]:
    """The index names `[index]` turns on."""
    flags = {
        TXINDEX: section.txindex,
        SPENTINDEX: section.spentindex,
        ADDRESSINDEX: section.addressindex,
    }
    return frozenset(name for name, on in flags.items() if on)


def open_indexes(chain: ChainStore, enabled: frozenset[str]) -> list[str]:
    """Add the `enabled` indexes that hold the tip to `chain.indexes`; return
    the others, to be built by `build_indexes`."""
    behind = []
    for name in sorted(enabled):
        if is_index_behind(chain, name):
            behind.append(name)
        else:
            catch_up_index(chain, name)
    return behind


def build_indexes(chain: ChainStore, names: list[str], should_stop: Callable[[], bool]) -> None:
    """Build the indexes `names` up to the tip while blocks commit (in a
    thread of its own); each joins the commits once it holds the tip."""
    for name in names:
        log.info("building the %s index in the background", name)
        try:
            done = catch_up_index(
                chain, name, log_progress=_log_index_progress, should_stop=should_stop
            )
        except StorageError as exc:
            log.error("cannot build the %s index: %s", name, exc)
            return
        if not done:
            return
        log.info("the %s index is built", name)


def check_utxo_set(chain: ChainStore, stopping: threading.Event) -> None:
    """Verify the whole stored UTXO set once after start-up, in a thread of
    its own that start-up does not wait for (`verify_utxo_set`: every coin
    record's check value, and the set against the tip's commitment): damage
    no request touches stops the node too, through `chain.on_damage`. It
    pauses CHECK_PAUSE_S after every chunk of coins, leaving the CPU (and
    the GIL) to the node at least half of the time."""
    started = time.monotonic()
    try:
        verified = verify_utxo_set(chain, lambda: stopping.wait(CHECK_PAUSE_S))
    except StoreCorruptError as exc:
        log.error("UTXO set check: %s", exc)
        return
    if verified:
        log.info(
            "checked the UTXO set (%d coins) against the tip's commitment in %.2f s",
            chain.utxo_count(),
            time.monotonic() - started,
        )
    elif not stopping.is_set():
        log.warning("the UTXO set check did not finish: the chain moved during each pass")


def _log_index_progress(name: str, height: int, tip_height: int, rate: float) -> None:
    left = (tip_height - height) / rate if rate > 0 else float("inf")
    log.info(
        "building the %s index: height=%d target=%d rate=%.1f blocks/s remaining_s=%.0f",
        name,
        height,
        tip_height,
        rate,
        left,
    )
