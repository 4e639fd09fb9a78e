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
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TypeVar

from timecoin import __version__
from timecoin.masternode import RegistryState
from timecoin.node.explorer_source import RestServiceMixin
from timecoin.node.lookups import RECENT_BLOCKS, find_transaction
from timecoin.node.proofs import ProofApiMixin
from timecoin.node.wallet_api import WalletApiMixin
from timecoin.node.walletstate import rescan_blocks
from timecoin.p2p import BanKind
from timecoin.p2p.addrbook import normalize_host
from timecoin.p2p.config import parse_peer_address
from timecoin.p2p.handshake import PROTOCOL_VERSION
from timecoin.p2p.peer import Direction
from timecoin.params import ChainParams
from timecoin.rpc.api import (
    AddNodeCommand,
    AttestationStats,
    BanInfo,
    ChainState,
    ConsensusInfo,
    ConsensusStep,
    HeartbeatEntry,
    IndexDisabledError,
    InvalidPeerAddressError,
    LocalMasternode,
    MempoolEntry,
    MempoolInfo,
    NetworkInfo,
    PeerAlreadyAddedError,
    PeerInfo,
    PeerNotAddedError,
    StoreDamagedError,
    TransactionAlreadyInChainError,
    TransactionFinality,
    TransactionLookup,
    UtxoLookup,
    UtxoSetInfo,
    WalletBalance,
    WalletCoin,
    WarmingUpError,
)
from timecoin.storage import StoreCorruptError
from timecoin.storage.indexes import (
    ADDRESSINDEX,
    INDEX_NAMES,
    SPENTINDEX,
    TXINDEX,
    AddressEvent,
    IndexState,
    Spender,
    get_address_events,
    get_index_state,
    get_spender,
    get_tx_location,
)
from timecoin.types import Block, BlockHeader, Coin, OutPoint, Transaction, compute_txid
from timecoin.wallet import FeePolicy, Wallet
from timecoin.wallet.masternode import (
    RegistrationRequest,
    UpdateRequest,
    build_operator_update,
    build_registration,
    build_unlock,
    live_collaterals,
)

if TYPE_CHECKING:
    from timecoin.node.driver import ConsensusDriver
    from timecoin.node.finality import FinalityService
    from timecoin.node.node import Node
    from timecoin.storage import ChainStore

T = TypeVar("T")

TX_LOOKUP_BLOCKS: Final = RECENT_BLOCKS
"""How many recent blocks `get_transaction` searches (there is no tx index yet)."""
_STEP_NAMES: Final[dict[int, ConsensusStep]] = {1: "propose", 2: "prevote", 3: "precommit"}


def _version_number() -> int:
    parts = [int(p) if p.isdigit() else 0 for p in __version__.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    return 10_000 * parts[0] + 100 * parts[1] + parts[2]


class NodeApiImpl(WalletApiMixin, ProofApiMixin, RestServiceMixin):
    """The node operations behind the RPC methods (the wallet's in `WalletApiMixin`)."""

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

    async def _io(self, func: Callable[[], T]) -> T:
        """Run a store read on the RPC thread; a damaged record is an error
        reply naming it, never a value."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._node.rpc_executor, func)
        except StoreCorruptError as exc:
            raise StoreDamagedError(str(exc)) from None

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
            warnings=self._node.chain_warnings(),
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
        return await self._io(lambda: _find_in_chain(chain, txid, tip_height))

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

    # --------------------------------------------------------------- indexes

    async def get_index_info(self) -> list[IndexState]:
        """Every index: whether it is kept, and the last block it holds."""
        chain = self._chain()
        kept = chain.indexes | set(self._node.indexes_to_build)
        return await self._io(
            lambda: [get_index_state(chain.kv, name, name in kept) for name in INDEX_NAMES]
        )

    async def get_spender(self, outpoint: OutPoint) -> Spender | None:
        """The block transaction that spent `outpoint` (spent index), or None."""
        chain = self._require_index(SPENTINDEX)
        return await self._io(lambda: get_spender(chain.kv, outpoint))

    async def get_address_events(
        self, address: bytes, start_height: int, limit: int
    ) -> list[AddressEvent]:
        """The history of `address` (address index), in chain order."""
        chain = self._require_index(ADDRESSINDEX)
        return await self._io(
            lambda: get_address_events(chain.kv, address, start_height=start_height, limit=limit)
        )

    def _require_index(self, name: str) -> ChainStore:
        chain = self._chain()
        if name in chain.indexes:
            return chain
        if name in self._node.indexes_to_build:
            state = get_index_state(chain.kv, name, True)
            raise IndexDisabledError(
                f"the {name} index is being built (at height {state.height} of "
                f"{self._driver().state.height}): see getindexinfo"
            )
        raise IndexDisabledError(f"this node does not keep the {name} ([index] {name} = true)")

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
        found = await self._io(lambda: _find_in_chain(chain, txid, tip_height))
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
        warnings = self._node.chain_warnings()
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
                    last_send_ms=now_ms - int(info.idle_send_s * 1000),
                    last_recv_ms=now_ms - int(info.idle_recv_s * 1000),
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
                if not self._node.peers.remove_persistent_peer(address):
                    raise PeerNotAddedError(f"Node {address} has not been added")
                return
            if command == "add" and not self._node.peers.add_persistent_peer(address):
                raise PeerAlreadyAddedError(f"Node already added: {address}")
            self._node.peers.connect(address)
        except ValueError as exc:
            raise InvalidPeerAddressError(str(exc)) from None

    async def wallet_rescan(self, start_height: int, stop_height: int | None) -> tuple[int, int]:
        """Read a range of blocks again for coins of the wallet."""
        wallet = self._wallet()
        chain = self._chain()
        stop = self._driver().state.height if stop_height is None else stop_height
        added = await self._io(lambda: rescan_blocks(wallet, chain, start_height, stop))
        logging.getLogger("timecoin.node").info(
            "rescanned blocks %d..%d: %d coins found", start_height, stop, added
        )
        return start_height, stop

    async def disconnect_node(self, address: str) -> int:
        """Close the connections with "host:port"; return how many."""
        try:
            host, port = parse_peer_address(address, self.params.default_p2p_port)
        except ValueError as exc:
            raise InvalidPeerAddressError(str(exc)) from None
        return self._node.peers.disconnect(host, port)

    def list_banned(self) -> list[BanInfo]:
        """The current bans, soonest expiry first (expiries in Unix seconds)."""
        offset_s = time.time() - time.monotonic()
        return [
            BanInfo(
                target=entry.value,
                is_node_key=entry.kind is BanKind.NODE,
                banned_until_s=int(entry.until + offset_s),
                reason=entry.reason,
            )
            for entry in self._node.peers.banned()
        ]

    async def set_ban(self, target: str, add: bool, until_s: float | None) -> bool:
        """Ban an IP address or a node key until `until_s`, or lift its ban."""
        peers = self._node.peers
        is_key = len(target) == 64 and all(c in "0123456789abcdef" for c in target.lower())
        host = None if is_key else normalize_host(target)
        if not is_key and host is None:
            raise InvalidPeerAddressError(f"{target!r} is neither an IP address nor a node key")
        lifted = False
        if not add:
            kind = BanKind.NODE if is_key else BanKind.HOST
            lifted = peers.unban(kind, target.lower() if is_key else str(host))
        else:
            seconds = peers.config.ban_duration_s if until_s is None else until_s - time.time()
            if seconds <= 0:
                raise InvalidPeerAddressError("the ban would already have expired")
            if is_key:
                peers.ban(target.lower(), "manually added", seconds)
            else:
                peers.ban_host(str(host), "manually added", seconds)
        self._node.save_bans()
        return lifted

    async def clear_banned(self) -> int:
        """Lift every ban; return how many."""
        peers = self._node.peers
        entries = peers.banned()
        for entry in entries:
            peers.unban(entry.kind, entry.value)
        self._node.save_bans()
        return len(entries)

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
        # A live entry wins over one whose collateral is spent: after a tier
        # upgrade both name the key until the old one leaves at the boundary.
        masternode_id = None
        for entry in self._driver().state.registry.entries:
            if entry.operator_key == key.public_key and (
                masternode_id is None or not entry.is_deregistered
            ):
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

    async def wallet_send_to_address(
        self, address: bytes, amount_units: int, *, fee_per_kb_units: int = 0
    ) -> bytes:
        """Build, sign and submit a payment; return its txid."""
        wallet = self._wallet()
        collaterals = live_collaterals(self._driver().state.registry)
        policy = FeePolicy(fee_per_kb=fee_per_kb_units)
        tx = await self._io(
            lambda: wallet.build_and_sign(address, amount_units, policy, exclude=collaterals)
        )
        return await self._submit_signed(wallet, tx)

    async def _submit_signed(self, wallet: Wallet, tx: Transaction) -> bytes:
        """Submit a transaction `wallet` signed; release its coins if refused."""
        try:
            return await self.submit_transaction(tx)
        except BaseException:
            await self._io(lambda: wallet.release(compute_txid(tx)))
            raise

    async def wallet_register_masternode(self, request: RegistrationRequest) -> bytes:
        """Build, sign and submit a masternode registration; its txid."""
        wallet = self._wallet()
        registry = self._driver().state.registry
        tx = await self._io(lambda: build_registration(wallet, registry, request))
        return await self._submit_signed(wallet, tx)

    async def wallet_update_masternode(self, request: UpdateRequest) -> bytes:
        """Build, sign and submit an operator update; its txid."""
        wallet = self._wallet()
        registry = self._driver().state.registry
        tx = await self._io(lambda: build_operator_update(wallet, registry, request))
        return await self._submit_signed(wallet, tx)

    async def wallet_unlock_masternode(self, collateral: OutPoint) -> bytes:
        """Build, sign and submit the spend of a collateral; its txid."""
        wallet = self._wallet()
        registry = self._driver().state.registry
        tx = await self._io(lambda: build_unlock(wallet, registry, collateral))
        return await self._submit_signed(wallet, tx)

    # ------------------------------------------------------------------ node

    def get_uptime_s(self) -> int:
        """Seconds since the node started."""
        return int(time.monotonic() - self._node.started_monotonic)

    def request_stop(self) -> None:
        """Begin a graceful shutdown (after this reply is sent)."""
        asyncio.get_running_loop().call_later(0.05, self._node.request_stop)


def _find_in_chain(chain: ChainStore, txid: bytes, tip_height: int) -> TransactionLookup | None:
    """The block transaction `txid`: through the tx index at any depth when
    the node keeps it, else by a scan of the last TX_LOOKUP_BLOCKS blocks."""
    if TXINDEX not in chain.indexes:
        return _find_in_blocks(chain, txid, tip_height)
    location = get_tx_location(chain.kv, txid)
    if location is None or location.height > tip_height:
        return None
    block_hash = chain.get_block_hash(location.height)
    tx = None if block_hash is None else chain.get_block_transaction(block_hash, location.position)
    if block_hash is None or tx is None:
        raise StoreCorruptError(
            f"the tx index places {txid.hex()} at block {location.height} position "
            f"{location.position}, which does not exist: run `timecoin node --reindex`"
        )
    if compute_txid(tx) != txid:
        raise StoreCorruptError(
            f"the tx index places {txid.hex()} at block {location.height} position "
            f"{location.position}, which holds another transaction: run `timecoin node --reindex`"
        )
    return TransactionLookup(tx=tx, block_hash=block_hash, is_final=True)


def _find_in_blocks(
    chain: ChainStore, txid: bytes, tip_height: int, depth: int = TX_LOOKUP_BLOCKS
) -> TransactionLookup | None:
    found = find_transaction(chain, txid, tip_height, depth)
    if found is None:
        return None
    return TransactionLookup(tx=found.tx, block_hash=found.block_hash, is_final=True)


def _dir_size(path: str) -> int:
    total = 0
    for entry in os.scandir(path):
        if entry.is_file():
            total += entry.stat().st_size
    return total
