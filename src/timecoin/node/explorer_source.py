"""`NodeExplorerSource`: the REST API's `ExplorerSource` over a running `Node`.

Store reads run in a thread of their own (`REST_IO_THREADS`), so a client
asking for costly scans never delays the node's RPC reads. Transactions, spends and
address histories come from `node.lookups` (the last RECENT_BLOCKS blocks)
plus the pool and the final backlog; the coins a block's transactions spent
come from the block's undo data, so fees and prevouts need no index.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final, TypeVar, cast

from timecoin.encoding import encode
from timecoin.explorer.rest import RestConfig, RestServer
from timecoin.explorer.source import (
    Finality,
    FinalityActivity,
    FoundTransaction,
    Placement,
    PooledTransaction,
    SourceUnavailableError,
    Spend,
    SubmitRejectedError,
)
from timecoin.explorer.web import EVENTS_PATH, explorer_routes
from timecoin.masternode import RegistryState
from timecoin.node.lookups import (
    RECENT_BLOCKS,
    BlockTx,
    find_address_transactions,
    find_spender,
    find_transaction,
    touches_addresses,
)
from timecoin.params import ChainParams
from timecoin.rpc.api import WarmingUpError
from timecoin.rpc.rawtx_handlers import compute_smart_fee_per_kb
from timecoin.storage.indexes import ADDRESSINDEX, SPENTINDEX, TXINDEX
from timecoin.types import Block, Coin, OutPoint, TimecoinError, Transaction, compute_txid

if TYPE_CHECKING:
    from timecoin.node.api import NodeApiImpl
    from timecoin.node.finality import FinalityService
    from timecoin.node.node import Node
    from timecoin.storage import ChainStore

T = TypeVar("T")

REST_IO_THREADS: Final = 1
MAX_PENDING_READS: Final = 8
UNDO_CACHE_BLOCKS: Final = 64
RECENT_LATENCIES: Final = 200
"""Finality latencies the explorer's figures cover (the last ones this node saw)."""
MAX_ADDRESS_TRANSACTIONS: Final = 10_000
"""The most transactions an address lookup returns (newest kept)."""


def _placed(found: BlockTx) -> FoundTransaction:
    return FoundTransaction(
        found.tx,
        found.txid,
        Placement(found.block_hash, found.height, found.index, found.block_time_ms, True),
    )


def _touches(tx: Transaction, address: bytes) -> bool:
    return touches_addresses(tx, frozenset((address,)))


class NodeExplorerSource:
    """The node reads behind the REST API."""

    def __init__(self, node: Node, api: NodeApiImpl) -> None:
        """Read `node`; submit through `api` (the RPC's checks and errors)."""
        self._node = node
        self._api = api
        self._undo: OrderedDict[bytes, dict[OutPoint, Coin]] = OrderedDict()
        self._executor = ThreadPoolExecutor(REST_IO_THREADS, thread_name_prefix="rest-io")
        self._pending_reads = 0
        self._pending_lock = threading.Lock()
        self._version = 0
        self._changed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self) -> None:
        """Follow the node's commits and final transactions (for `wait_for_change`);
        call on the event loop once the driver and finality service exist."""
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        driver, finality = self._node.driver, self._node.finality
        if driver is not None:
            driver.listeners.append(lambda *_: self._notify())
        if finality is not None:
            finality.final_listeners.append(lambda *_: self._notify())

    def _notify(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._bump)

    def _bump(self) -> None:
        self._version += 1
        changed = self._changed
        if changed is not None:
            changed.set()
            self._changed = asyncio.Event()

    async def wait_for_change(self, seen: int, timeout_s: float) -> int:
        """The change counter once it differs from `seen`, or after `timeout_s`."""
        changed = self._changed
        if self._version != seen or changed is None:
            return self._version
        try:
            async with asyncio.timeout(timeout_s):
                await changed.wait()
        except TimeoutError:
            pass
        return self._version

    @property
    def params(self) -> ChainParams:
        """The chain parameters."""
        return self._node.params

    @property
    def history_depth_blocks(self) -> int | None:
        """Lookups reach any depth with the store's indexes, else RECENT_BLOCKS blocks."""
        chain = self._node.chain
        if chain is not None and {TXINDEX, SPENTINDEX, ADDRESSINDEX} <= chain.indexes:
            return None
        return RECENT_BLOCKS

    async def _io(self, func: Callable[[], T]) -> T:
        """Run a store read in the reader thread. A read keeps running when
        its request times out, so at most MAX_PENDING_READS may be queued or
        running; beyond, the request is refused (503) instead of queued."""
        with self._pending_lock:
            if self._pending_reads >= MAX_PENDING_READS:
                raise SourceUnavailableError("the explorer's reads are saturated")
            self._pending_reads += 1
        future = self._executor.submit(func)
        future.add_done_callback(self._read_done)
        return await asyncio.wrap_future(future)

    def _read_done(self, _: object) -> None:
        with self._pending_lock:
            self._pending_reads -= 1

    def close(self) -> None:
        """Stop the reader thread once its reads are done (after the server stopped)."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _chain(self) -> ChainStore:
        chain = self._node.chain
        if chain is None or not self._node.ready:
            raise SourceUnavailableError("the node is starting")
        return chain

    def _finality(self) -> FinalityService:
        finality = self._node.finality
        if finality is None or finality.machine is None:
            raise SourceUnavailableError("the node is starting")
        return finality

    def _tip_height(self) -> int:
        driver = self._node.driver
        if driver is None:
            raise SourceUnavailableError("the node is starting")
        return driver.state.height

    async def get_tip(self) -> tuple[int, bytes]:
        """(height, hash) of the last committed block."""
        driver = self._node.driver
        if driver is None or not self._node.ready:
            raise SourceUnavailableError("the node is starting")
        return driver.state.height, driver.state.block_hash

    async def get_block_hash(self, height: int) -> bytes | None:
        """The block hash at `height`."""
        chain = self._chain()
        return await self._io(lambda: chain.get_block_hash(height))

    async def get_block(self, block_hash: bytes) -> Block | None:
        """The stored block."""
        chain = self._chain()
        return await self._io(lambda: chain.get_block(block_hash))

    async def get_transaction(self, txid: bytes) -> FoundTransaction | None:
        """From the pool or final backlog, else from the recent blocks."""
        finality = self._finality()
        known = finality.get_transaction(txid)
        if known is not None:
            entry = finality.mempool.get(txid)
            return FoundTransaction(
                known[0],
                txid,
                Placement(None, None, None, None, known[1]),
                None if entry is None else entry.time_ms,
            )
        chain, tip = self._chain(), self._tip_height()
        found = await self._io(lambda: find_transaction(chain, txid, tip))
        return None if found is None else _placed(found)

    def _undo_coins(self, chain: ChainStore, block_hash: bytes) -> dict[OutPoint, Coin]:
        coins = self._undo.get(block_hash)
        if coins is None:
            undo = chain.get_undo(block_hash)
            coins = {} if undo is None else {s.outpoint: s.coin for s in undo.spent}
            self._undo[block_hash] = coins
            if len(self._undo) > UNDO_CACHE_BLOCKS:
                self._undo.popitem(last=False)
        return coins

    async def get_prevouts(self, found: FoundTransaction) -> list[Coin | None]:
        """A block's transaction: its block's undo data (or an output of an
        earlier transaction of the block); otherwise the UTXO set or the pool."""
        tx = found.tx
        if not tx.inputs:
            return []
        chain = self._chain()
        block_hash = found.placement.block_hash
        if block_hash is not None:
            return await self._io(lambda: self._block_prevouts(chain, block_hash, tx))
        mempool = self._finality().mempool
        tip = self._tip_height()

        def read() -> list[Coin | None]:
            coins: list[Coin | None] = []
            for txin in tx.inputs:
                coin = chain.get_coin(txin.prevout)
                entry = mempool.get(txin.prevout.txid)
                if coin is None and entry is not None:
                    outputs = entry.tx.outputs
                    if txin.prevout.index < len(outputs):
                        out = outputs[txin.prevout.index]
                        coin = Coin(out.amount, out.address, tip + 1)
                coins.append(coin)
            return coins

        return await self._io(read)

    def _block_prevouts(
        self, chain: ChainStore, block_hash: bytes, tx: Transaction
    ) -> list[Coin | None]:
        spent = self._undo_coins(chain, block_hash)
        coins: list[Coin | None] = [spent.get(txin.prevout) for txin in tx.inputs]
        if all(coin is not None for coin in coins):
            return coins
        block = chain.get_block(block_hash)
        if block is None:
            return coins
        created = {compute_txid(other): other for other in block.transactions}
        for position, txin in enumerate(tx.inputs):
            parent = created.get(txin.prevout.txid)
            index = txin.prevout.index
            if coins[position] is None and parent is not None and index < len(parent.outputs):
                out = parent.outputs[index]
                coins[position] = Coin(out.amount, out.address, block.header.height)
        return coins

    async def get_spend(self, outpoint: OutPoint) -> Spend | None:
        """The pool's or final backlog's spender, else one in the recent blocks."""
        finality = self._finality()
        for txid in sorted(finality.mempool.spenders_of(outpoint)):
            entry = finality.mempool.get(txid)
            if entry is not None:
                return self._spend_of(
                    entry.tx,
                    txid,
                    outpoint,
                    Placement(None, None, None, None, entry.final or finality.has_proof(txid)),
                )
        for tx in finality.final_transactions():
            if any(txin.prevout == outpoint for txin in tx.inputs):
                return self._spend_of(
                    tx, compute_txid(tx), outpoint, Placement(None, None, None, None, True)
                )
        chain, tip = self._chain(), self._tip_height()
        found = await self._io(lambda: find_spender(chain, outpoint, tip))
        if found is None:
            return None
        block_tx, vin = found
        return Spend(block_tx.txid, vin, _placed(block_tx).placement)

    @staticmethod
    def _spend_of(tx: Transaction, txid: bytes, outpoint: OutPoint, placement: Placement) -> Spend:
        vin = next(i for i, txin in enumerate(tx.inputs) if txin.prevout == outpoint)
        return Spend(txid, vin, placement)

    async def get_address_transactions(self, address: bytes) -> list[FoundTransaction]:
        """Pool and final backlog first (newest first), then the recent blocks."""
        finality = self._finality()
        outside: list[FoundTransaction] = []
        pooled = set()
        for entry in finality.mempool.entries():
            pooled.add(entry.txid)
            if _touches(entry.tx, address):
                final = entry.final or finality.has_proof(entry.txid)
                outside.append(
                    FoundTransaction(
                        entry.tx,
                        entry.txid,
                        Placement(None, None, None, None, final),
                        entry.time_ms,
                    )
                )
        outside.sort(key=lambda f: f.first_seen_ms or 0, reverse=True)
        for tx in finality.final_transactions():
            txid = compute_txid(tx)
            if txid not in pooled and _touches(tx, address):
                outside.append(FoundTransaction(tx, txid, Placement(None, None, None, None, True)))
        chain, tip = self._chain(), self._tip_height()
        in_blocks = await self._io(
            lambda: find_address_transactions(
                chain, tip, frozenset((address,)), MAX_ADDRESS_TRANSACTIONS
            )
        )
        confirmed = {found.txid for found in in_blocks}
        outside = [found for found in outside if found.txid not in confirmed]
        return outside + [_placed(found) for found in in_blocks]

    async def get_mempool(self) -> list[PooledTransaction]:
        """Every pooled transaction."""
        finality = self._finality()
        return [
            PooledTransaction(e.tx, e.txid, e.size_bytes, e.fee, e.time_ms, e.final)
            for e in finality.mempool.entries()
        ]

    async def get_min_fee_per_kb(self) -> int:
        """The pool's admission rate, as `estimatesmartfee` computes it."""
        try:
            info = await self._api.get_mempool_info()
            entries = await self._api.get_mempool_entries()
        except WarmingUpError as exc:
            raise SourceUnavailableError(str(exc)) from None
        admission = max(info.min_fee_per_kb_units, info.min_relay_fee_per_kb_units)
        return compute_smart_fee_per_kb(entries, admission, info.usage_bytes, info.max_bytes)

    async def get_finality(self, txid: bytes) -> Finality:
        """The node's finality status, with the proof's voters' operator keys."""
        try:
            status = await self._api.get_transaction_finality(txid)
        except WarmingUpError as exc:
            raise SourceUnavailableError(str(exc)) from None
        proof = status.proof
        voters: tuple[bytes, ...] = ()
        encoded = None
        if proof is not None:
            encoded = encode(proof)
            driver = self._node.driver
            voting_set = None if driver is None else driver.voting_set_of_epoch(proof.epoch)
            if voting_set is not None:
                keys = [voter.operator_key for voter in voting_set.voters]
                voters = tuple(
                    keys[vote.voter_index] for vote in proof.votes if vote.voter_index < len(keys)
                )
        return Finality(
            status=status.status,
            epoch=status.epoch,
            vote_weight_units=status.vote_weight_units,
            quorum_weight_units=status.quorum_weight_units,
            total_weight_units=status.total_weight_units,
            proof=encoded,
            proof_epoch=None if proof is None else proof.epoch,
            proof_voters=voters,
            block_hash=status.block_hash,
            height=status.height,
        )

    async def get_finality_activity(self) -> FinalityActivity:
        """The finality service's counter and its last RECENT_LATENCIES latencies."""
        finality = self._finality()
        recent = sorted(finality.final_latencies_ms[-RECENT_LATENCIES:])

        def rank(p: float) -> float | None:
            return recent[min(len(recent) - 1, int(p * len(recent)))] if recent else None

        return FinalityActivity(finality.finalized, rank(0.5), rank(0.99), len(recent))

    async def get_registry(self) -> RegistryState:
        """The masternode registry after the tip."""
        driver = self._node.driver
        if driver is None:
            raise SourceUnavailableError("the node is starting")
        return driver.state.registry

    async def submit(self, tx: Transaction) -> bytes:
        """Submit through the RPC path (same checks, same reject codes)."""
        try:
            return await self._api.submit_transaction(tx)
        except WarmingUpError as exc:
            raise SourceUnavailableError(str(exc)) from None
        except TimecoinError as exc:
            raise SubmitRejectedError(exc.reject_code, str(exc)) from None


class RestServiceMixin:
    """Starts and stops the REST API and explorer of a running `Node` when
    its configuration turns them on (mixed into `NodeApiImpl`, so the
    composition root stays one call each way)."""

    _node: Node
    _rest: tuple[RestServer, NodeExplorerSource] | None = None

    async def start_rest(self) -> None:
        """Serve `[rest]` if enabled: the REST API under /api, the explorer at /."""
        rest = self._node.config.rest
        if not rest.enabled:
            return
        config = RestConfig(
            host=rest.host, port=rest.port, requests_per_s=rest.requests_per_s, burst=rest.burst
        )
        source = NodeExplorerSource(self._node, cast("NodeApiImpl", self))
        source.attach()
        server = RestServer(
            source,
            config,
            extra_routes=explorer_routes(source),
            streaming_paths=frozenset({EVENTS_PATH}),
        )
        await server.start()
        self._rest = (server, source)

    @property
    def rest_server(self) -> RestServer | None:
        """The running REST server, or None."""
        return None if self._rest is None else self._rest[0]

    async def stop_rest(self) -> None:
        """Stop the REST server, then its reader thread (idempotent)."""
        started, self._rest = self._rest, None
        if started is not None:
            server, source = started
            await server.stop()
            await asyncio.get_running_loop().run_in_executor(None, source.close)
