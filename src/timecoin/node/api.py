"""`NodeApiImpl`: the RPC layer's `NodeApi` over a running `Node`.

Reads that touch the store run in the node's thread pool; everything else
reads the node's in-memory state on the event loop. The chain has no
transaction index yet: `get_transaction` looks in the pool and the final
backlog, then in the last TX_LOOKUP_BLOCKS blocks. Finality statuses come
from the node's `FinalityService`; a status the service does not know is
completed by a search of recent blocks (so a transaction confirmed before a
restart is reported confirmed).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TypeVar

from timecoin import __version__
from timecoin.masternode import RegistryState
from timecoin.p2p.handshake import PROTOCOL_VERSION
from timecoin.p2p.peer import Direction
from timecoin.params import ChainParams
from timecoin.rpc.api import (
    AddNodeCommand,
    AttestationStats,
    ChainState,
    ConsensusInfo,
    ConsensusStep,
    HeartbeatEntry,
    InvalidPeerAddressError,
    LocalMasternode,
    MempoolEntry,
    MempoolInfo,
    NetworkInfo,
    NodeApiError,
    PeerInfo,
    TransactionAlreadyInChainError,
    TransactionFinality,
    TransactionLookup,
    UtxoLookup,
    UtxoSetInfo,
    WalletBalance,
    WalletCoin,
    WalletUnavailableError,
    WarmingUpError,
)
from timecoin.storage import StoreCorruptError
from timecoin.types import Block, BlockHeader, Coin, OutPoint, Transaction, compute_txid
from timecoin.wallet import Wallet

if TYPE_CHECKING:
    from timecoin.node.driver import ConsensusDriver
    from timecoin.node.finality import FinalityService
    from timecoin.node.node import Node
    from timecoin.storage import ChainStore

T = TypeVar("T")

TX_LOOKUP_BLOCKS: Final = 1_000
"""How many recent blocks `get_transaction` searches (there is no tx index yet)."""
_STEP_NAMES: Final[dict[int, ConsensusStep]] = {1: "propose", 2: "prevote", 3: "precommit"}


def _version_number() -> int:
    parts = [int(p) if p.isdigit() else 0 for p in __version__.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    return 10_000 * parts[0] + 100 * parts[1] + parts[2]


class NodeApiImpl:
    """The node operations behind the RPC methods."""

    def __init__(self, node: Node) -> None:
        """The API of `node` (usable once it is started)."""
        self._node = node

    # --------------------------------------------------------------- helpers

    @property
    def params(self) -> ChainParams:
        """The chain parameters of the node's network."""
        return self._node.params

    def _driver(self) -> ConsensusDriver:
        driver = self._node.driver
        if driver is None or not self._node.ready:
            raise WarmingUpError("the node is starting")
        return driver

    def _finality(self) -> FinalityService:
        finality = self._node.finality
        if finality is None or finality.machine is None:
            raise WarmingUpError("the node is starting")
        return finality

    def _chain(self) -> ChainStore:
        chain = self._node.chain
        if chain is None:
            raise WarmingUpError("the node is starting")
        return chain

    def _wallet(self) -> Wallet:
        wallet = self._node.wallet
        if wallet is None:
            raise WalletUnavailableError("this node runs without a wallet")
        return wallet

    async def _io(self, func: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._node.rpc_executor, func)
        except StoreCorruptError as exc:
            # never served; the node is stopping (`Node._on_store_damage`)
            raise NodeApiError(f"the node's store is damaged: {exc}") from None

    # ----------------------------------------------------------------- chain

    async def get_chain_state(self) -> ChainState:
        """The tip and sync progress."""
        driver = self._driver()
        state = driver.state
        syncer = self._node.syncer
        best = state.height
        best_header = state.height
        ibd = False
        if syncer is not None:
            progress = syncer.machine.progress()
            best = max(best, progress.best_known_height)
            best_header = max(best_header, progress.best_header_height)
            ibd = progress.initial_block_download
        kv = self._node.kv
        size = 0
        if kv is not None:
            data = kv.path
            size = await self._io(lambda: _dir_size(data))
        return ChainState(
            tip_hash=state.block_hash,
            tip_header=state.header,
            best_header_height=best_header,
            verification_progress=1.0 if best <= 0 else min(1.0, state.height / best),
            initial_block_download=ibd,
            size_on_disk_bytes=size,
            best_known_height=best,
            warnings=self._node.warnings(),
        )

    async def get_block_hash(self, height: int) -> bytes | None:
        """The hash of the block at `height`, or None above the tip."""
        chain = self._chain()
        return await self._io(lambda: chain.get_block_hash(height))

    async def get_block(self, block_hash: bytes) -> Block | None:
        """The stored block with `block_hash`, or None."""
        chain = self._chain()
        return await self._io(lambda: chain.get_block(block_hash))

    async def get_header(self, block_hash: bytes) -> BlockHeader | None:
        """The stored header with `block_hash`, or None."""
        chain = self._chain()
        return await self._io(lambda: chain.get_header(block_hash))

    async def verify_chain(self, blocks: int) -> bool:
        """Check the last `blocks` main-chain blocks (0: all); False on damage
        (`ChainStore.on_damage` has then logged it and is stopping the node)."""
        chain = self._chain()

        def verify() -> bool:
            tip = chain.get_tip()
            count = blocks or (0 if tip is None else tip.height + 1)
            try:
                chain.verify_blocks(count)
            except StoreCorruptError:
                return False
            return True

        return await asyncio.get_running_loop().run_in_executor(self._node.rpc_executor, verify)

    async def get_transaction(self, txid: bytes) -> TransactionLookup | None:
        """The transaction from the pool, the final backlog or a recent block, or None."""
        known = self._finality().get_transaction(txid)
        if known is not None:
            return TransactionLookup(tx=known[0], block_hash=None, is_final=known[1])
        chain = self._chain()
        tip_height = self._driver().state.height
        return await self._io(lambda: _find_in_blocks(chain, txid, tip_height))

    async def get_coin(self, outpoint: OutPoint, *, include_mempool: bool) -> UtxoLookup | None:
        """The unspent coin at `outpoint`, or None."""
        finality = self._finality()
        mempool = finality.mempool
        if include_mempool and mempool.spenders_of(outpoint):
            return None
        chain = self._chain()
        coin = await self._io(lambda: chain.get_coin(outpoint))
        if coin is not None:
            return UtxoLookup(coin=coin, in_block=True)
        if include_mempool:
            entry = mempool.get(outpoint.txid)
            if entry is not None and outpoint.index < len(entry.tx.outputs):
                out = entry.tx.outputs[outpoint.index]
                height = self._driver().state.height + 1
                return UtxoLookup(Coin(out.amount, out.address, height), in_block=False)
        return None

    async def get_utxo_set_info(self) -> UtxoSetInfo:
        """Statistics of the UTXO set at the tip (scans the set)."""
        chain = self._chain()
        state = self._driver().state

        def scan() -> tuple[int, int]:
            count = total = 0
            for _, coin in chain.iter_utxos():
                count += 1
                total += coin.amount
            return count, total

        count, total = await self._io(scan)
        return UtxoSetInfo(
            height=state.height,
            best_block_hash=state.block_hash,
            txout_count=count,
            total_amount_units=total,
            commitment=state.header.utxo_commitment,
            disk_size_bytes=None,
        )

    # --------------------------------------------------------------- mempool

    async def get_mempool_info(self) -> MempoolInfo:
        """Size and limits of the mempool."""
        mempool = self._finality().mempool
        entries = mempool.entries()
        return MempoolInfo(
            loaded=True,
            tx_count=len(entries),
            total_bytes=sum(e.size_bytes for e in entries),
            usage_bytes=mempool.memory_bytes,
            total_fee_units=sum(e.fee for e in entries),
            max_bytes=mempool.policy.max_memory_bytes,
            min_fee_per_kb_units=self.params.min_fee_per_kb,
            min_relay_fee_per_kb_units=self.params.min_fee_per_kb,
            final_count=sum(1 for e in entries if e.final),
        )

    async def get_mempool_entries(self) -> list[MempoolEntry]:
        """Every pooled transaction."""
        mempool = self._finality().mempool
        height = self._driver().state.height
        return [
            MempoolEntry(
                txid=e.txid,
                size_bytes=e.size_bytes,
                fee_units=e.fee,
                time_ms=e.time_ms,
                height=height,
                depends=tuple(
                    dict.fromkeys(i.prevout.txid for i in e.tx.inputs if i.prevout.txid in mempool)
                ),
                is_final=e.final,
            )
            for e in mempool.entries()
        ]

    async def submit_transaction(self, tx: Transaction) -> bytes:
        """Validate, pool and announce `tx`; return its txid."""
        self._driver()
        txid = compute_txid(tx)
        finality = self._finality()
        if txid not in finality.mempool and (
            finality.is_confirmed(txid)
            or (tx.outputs and self._chain().get_coin(OutPoint(txid=txid, index=0)) is not None)
        ):
            # In a recent block, or its first output is an unspent coin of
            # the chain: two lookups, never a scan of blocks (that ran for
            # every child of an unblocked parent and starved the thread
            # pool under load).
            raise TransactionAlreadyInChainError(f"transaction {txid.hex()} is in a block")
        await finality.preverify([tx])
        return self._node.submit_transaction(tx)

    # -------------------------------------------------------------- finality

    async def get_transaction_finality(self, txid: bytes) -> TransactionFinality:
        """The finality status of `txid`; an unknown one is looked for in
        recent blocks (confirmed before this node's start)."""
        status = self._finality().get_status(txid)
        if status.status != "unknown":
            return status
        chain = self._chain()
        tip_height = self._driver().state.height
        found = await self._io(lambda: _find_in_blocks(chain, txid, tip_height))
        if found is None or found.block_hash is None:
            return status
        block_hash = found.block_hash
        header = await self._io(lambda: chain.get_header(block_hash))
        return TransactionFinality(
            txid=txid,
            status="confirmed",
            epoch=status.epoch,
            block_hash=block_hash,
            height=None if header is None else header.height,
        )

    async def wait_transaction_finality(self, txid: bytes, timeout_s: float) -> TransactionFinality:
        """Wait up to `timeout_s` for `txid` to settle; its status then."""
        status = await self._finality().wait_settled(txid, timeout_s)
        if status.status == "unknown":
            return await self.get_transaction_finality(txid)
        return status

    async def get_heartbeat_history(self, count: int) -> list[HeartbeatEntry]:
        """This node's last `count` heartbeats, oldest first."""
        heartbeats = self._node.heartbeats
        if heartbeats is None:
            raise WarmingUpError("the node is starting")
        records = list(heartbeats.history)[-count:] if count > 0 else []
        return [
            HeartbeatEntry(
                sequence=r.sequence,
                timestamp_ms=r.timestamp_ms,
                window=r.window,
                witnesses=r.witnesses,
                attestations=r.attestations,
                included_height=r.included_height,
            )
            for r in records
        ]

    async def get_attestation_stats(self) -> AttestationStats:
        """Heartbeat and attestation counters, and the registry's record of this node."""
        heartbeats = self._node.heartbeats
        if heartbeats is None:
            raise WarmingUpError("the node is starting")
        stats = heartbeats.stats
        masternode_id = heartbeats.masternode_id
        entry = None
        if masternode_id is not None:
            for candidate in self._driver().state.registry.entries:
                if candidate.masternode_id == masternode_id:
                    entry = candidate
        return AttestationStats(
            masternode_id=masternode_id,
            heartbeats_sent=stats.heartbeats_sent,
            heartbeats_included=stats.heartbeats_included,
            heartbeats_received=stats.heartbeats_received,
            invalid_heartbeats=stats.invalid_heartbeats,
            attestations_given=stats.attestations_given,
            attestations_received=stats.attestations_received,
            last_included_height=stats.last_included_height,
            pooled_heartbeats=len(heartbeats.pool),
            last_sequence_on_chain=None if entry is None else entry.last_heartbeat_sequence,
            last_window_on_chain=None if entry is None else entry.last_heartbeat_window,
        )

    # --------------------------------------------------------------- network

    async def get_network_info(self) -> NetworkInfo:
        """Software version and connection counts."""
        peers = self._node.peers.peers()
        inbound = sum(1 for p in peers if p.direction is Direction.INBOUND)
        listen = self._node.peers.listen_address
        warnings = self._node.warnings()
        return NetworkInfo(
            version=_version_number(),
            subversion=f"/timecoin:{__version__}/",
            protocol_version=PROTOCOL_VERSION,
            network_active=True,
            connections_in=inbound,
            connections_out=len(peers) - inbound,
            local_addresses=() if listen is None else (listen,),
            relay_fee_per_kb_units=self.params.min_fee_per_kb,
            warnings=warnings,
        )

    async def get_peers(self) -> list[PeerInfo]:
        """Every connected peer."""
        now_ms = int(time.time() * 1000)
        result: list[PeerInfo] = []
        for index, peer in enumerate(self._node.peers.peers()):
            info = peer.info()
            connected_ms = now_ms - int(info.connected_for_s * 1000)
            rtt = info.ping_rtt_s
            result.append(
                PeerInfo(
                    peer_id=index,
                    address=f"{info.remote_host}:{info.remote_port}",
                    local_address=None,
                    inbound=info.direction is Direction.INBOUND,
                    connection_type="inbound"
                    if info.direction is Direction.INBOUND
                    else "outbound-full-relay",
                    connected_ms=connected_ms,
                    last_send_ms=now_ms,
                    last_recv_ms=now_ms,
                    bytes_sent=info.bytes_out,
                    bytes_received=info.bytes_in,
                    ping_ms=None if rtt is None else rtt * 1000,
                    protocol_version=info.protocol_version,
                    user_agent=info.user_agent,
                    start_height=self._peer_height(info.peer_id),
                    synced_height=self._peer_height(info.peer_id),
                    node_key=bytes.fromhex(info.peer_id),
                    masternode_id=None,
                )
            )
        return result

    async def add_node(self, address: str, command: AddNodeCommand) -> None:
        """Dial or keep connected the peer `address`."""
        try:
            if command == "remove":
                raise NodeApiError("removing an added peer is not supported by this node")
            if command == "add":
                self._node.peers.add_persistent_peer(address)
            self._node.peers.connect(address)
        except ValueError as exc:
            raise InvalidPeerAddressError(str(exc)) from None

    # ------------------------------------------------------------- consensus

    def _peer_height(self, peer_id: str) -> int:
        syncer = self._node.syncer
        return 0 if syncer is None else max(0, syncer.machine.peer_height(peer_id))

    async def get_consensus_info(self) -> ConsensusInfo:
        """The block consensus state."""
        driver = self._driver()
        machine = driver.machine
        if machine is None:
            raise WarmingUpError("consensus is starting")
        context = machine.context
        step: ConsensusStep = (
            "commit" if machine.is_decided else _STEP_NAMES.get(int(machine.step), "propose")
        )
        voters = context.voting_set.voters
        proposer_index = machine.get_proposer_index(machine.round)
        key = self._node.operator_key
        return ConsensusInfo(
            height=machine.height,
            round=machine.round,
            step=step,
            epoch=self.params.epoch_of(machine.height),
            locked_round=machine.locked_round,
            valid_round=machine.valid_round,
            proposer=voters[proposer_index].operator_key if voters else None,
            voting_set=context.voting_set,
            local_operator_key=None if key is None else key.public_key,
            fork_alert=None if self._node.syncer is None else self._node.syncer.alert,
        )

    async def get_masternode_registry(self) -> RegistryState:
        """The masternode registry after the tip."""
        return self._driver().state.registry

    async def get_local_masternode(self) -> LocalMasternode | None:
        """This node's masternode identity."""
        key = self._node.operator_key
        if key is None:
            return None
        masternode_id = None
        for entry in self._driver().state.registry.entries:
            if entry.operator_key == key.public_key:
                masternode_id = entry.masternode_id
        heartbeats = self._node.heartbeats
        history = None if heartbeats is None else heartbeats.history
        return LocalMasternode(
            operator_key=key.public_key,
            masternode_id=masternode_id,
            last_heartbeat_ms=history[-1].timestamp_ms if history else None,
        )

    # ---------------------------------------------------------------- wallet

    async def wallet_new_address(self) -> bytes:
        """Derive a new receiving address and save it durably."""
        wallet = self._wallet()
        return await self._io(wallet.new_address)

    async def wallet_get_balance(self) -> WalletBalance:
        """The wallet's balances."""
        wallet = self._wallet()
        return WalletBalance(
            spendable_units=wallet.spendable_balance(), locked_units=wallet.locked_balance()
        )

    async def wallet_list_unspent(self) -> list[WalletCoin]:
        """Every coin the wallet owns; outputs of final transactions not yet
        in a block are spendable but not `in_block`."""
        wallet = self._wallet()
        finality = self._node.finality
        unblocked = set() if finality is None else finality.final_txids()
        return [
            WalletCoin(
                outpoint=o, coin=c, locked=wallet.is_marked(o), in_block=o.txid not in unblocked
            )
            for o, c in wallet.coins()
        ]

    async def wallet_send_to_address(self, address: bytes, amount_units: int) -> bytes:
        """Build, sign and submit a payment; return its txid."""
        wallet = self._wallet()
        tx = await self._io(lambda: wallet.build_and_sign(address, amount_units))
        try:
            return await self.submit_transaction(tx)
        except BaseException:
            await self._io(lambda: wallet.release(compute_txid(tx)))
            raise

    # ------------------------------------------------------------------ node

    def get_uptime_s(self) -> int:
        """Seconds since the node started."""
        return int(time.monotonic() - self._node.started_monotonic)

    def request_stop(self) -> None:
        """Begin a graceful shutdown (after this reply is sent)."""
        asyncio.get_running_loop().call_later(0.05, self._node.request_stop)


def _find_in_blocks(
    chain: ChainStore, txid: bytes, tip_height: int, depth: int = TX_LOOKUP_BLOCKS
) -> TransactionLookup | None:
    for height in range(tip_height, max(-1, tip_height - depth), -1):
        block_hash = chain.get_block_hash(height)
        block = None if block_hash is None else chain.get_block(block_hash)
        if block is None or block_hash is None:
            continue
        for tx in block.transactions:
            if compute_txid(tx) == txid:
                return TransactionLookup(tx=tx, block_hash=block_hash, is_final=True)
    return None


def _dir_size(path: str) -> int:
    total = 0
    for entry in os.scandir(path):
        if entry.is_file():
            total += entry.stat().st_size
    return total
