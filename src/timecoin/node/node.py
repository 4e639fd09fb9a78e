"""The composition root: one node on the real network, clock and LMDB store.

`Node.start()` opens the store (writing genesis on first start), rebuilds
the chain state, opens the keys and the wallet, and starts the finality
service (pool and finality machine), the consensus driver, the heartbeat
service, the peer manager, the RPC server and the metrics endpoint; `stop()`
stops accepting requests and messages, lets the commit in progress finish,
flushes and closes the store within `shutdown_timeout_s`.
`run_node(config, datadir)` runs a node until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import signal
import statistics
import sys
import threading
import time
from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

from timecoin import __version__
from timecoin.chain import AppliedBlock, ChainState, chain_state_from_genesis
from timecoin.crypto import SigningKey, verify
from timecoin.crypto.batch import BatchVerifier
from timecoin.encoding import DecodeError, decode
from timecoin.mempool import MempoolPolicy
from timecoin.node import faults as fault_policy
from timecoin.node.api import NodeApiImpl
from timecoin.node.bans import BanKeeper
from timecoin.node.bounds import bound_p2p_caches, compute_signature_cache_entries
from timecoin.node.chainload import (
    build_indexes,
    check_utxo_set,
    enabled_indexes,
    load_chain_state,
    open_indexes,
)
from timecoin.node.config import NodeConfig, parse_checkpoint
from timecoin.node.driver import ConsensusDriver
from timecoin.node.finality import CountingSignatureCache, FinalityNetwork, FinalityService
from timecoin.node.heartbeats import HeartbeatService
from timecoin.node.keys import load_or_create_key
from timecoin.node.metrics import NodeMetrics, NodeSnapshot
from timecoin.node.store import (
    FinalityWalLog,
    FinalTxStore,
    StoreAddressBook,
    WalLog,
    load_tip_certificate,
)
from timecoin.node.syncer import Syncer, sync_class_rate
from timecoin.node.walletfeed import apply_block, apply_final_transaction
from timecoin.node.walletstate import record_block, restore_wallet
from timecoin.p2p import PeerManager
from timecoin.p2p.messages import (
    Bodies,
    CertificateMsg,
    EpochReportMsg,
    EvidenceMsg,
    FinalityTxs,
    GetBodies,
    GetEpochReports,
    GetFinalityTxs,
    GetHeaders,
    Headers,
    HeartbeatMsg,
    Message,
    ProposalMsg,
    Txs,
    TxVotesMsg,
    VoteMsg,
)
from timecoin.p2p.peer import Peer
from timecoin.params import ChainParams, Checkpoint, get_preset
from timecoin.rpc.server import RpcConfig, RpcServer
from timecoin.storage import ChainStore, LmdbStore, StorageError
from timecoin.storage.chainstate import StoredVotingSets, init_genesis_state
from timecoin.storage.chainstore import DamagedRecordError
from timecoin.sync import SyncConfig
from timecoin.types import (
    Block,
    Certificate,
    Evidence,
    Proposal,
    TimecoinError,
    Transaction,
    Vote,
    VotingSet,
    compute_block_hash,
    compute_txid,
)
from timecoin.wallet import Wallet

log = logging.getLogger("timecoin.node")

CHAIN_DIRNAME: Final = "chain"
MAINTENANCE_INTERVAL_S: Final = 0.25
REBROADCAST_AFTER_S: Final = 1.0
BAN_SAVE_INTERVAL_S: Final = 5.0
"""How often the upkeep loop stores the bans when they changed."""
"""Own messages are sent again when the round has not moved for this long."""
MAX_GENESIS_BYTES: Final = 16_000_000


class NodeError(Exception):
    """The node cannot start (missing genesis, foreign store, bad key file...)."""


def resolve_params(config: NodeConfig) -> ChainParams:
    """The preset named by the config, with the devnet block interval and
    epoch length overrides."""
    params = get_preset(config.network)
    if config.block_interval_ms is not None:
        params = dataclasses.replace(params, block_interval_ms=config.block_interval_ms)
    if config.epoch_length is not None:
        params = dataclasses.replace(params, epoch_length=config.epoch_length)
    return params


def read_genesis(path: Path, params: ChainParams) -> Block:
    """The genesis block stored (canonical bytes) in `path`; NodeError otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NodeError(f"{path}: cannot read the genesis block: {exc.strerror}") from None
    try:
        return decode(data, Block, max(params.sizes.max_block_bytes, MAX_GENESIS_BYTES))
    except DecodeError as exc:
        raise NodeError(f"{path}: not a genesis block: {exc}") from None


class _Network:
    """The driver's `ConsensusNetwork` over the peer manager."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def broadcast_proposal(self, proposal: Proposal, block: Block) -> None:
        """Push a proposal with its block to every peer."""
        self._node.peers.broadcast(ProposalMsg(proposal=proposal, block=block))

    def broadcast_votes(self, votes: list[Vote]) -> None:
        """Push votes to every peer."""
        self._node.peers.broadcast(VoteMsg(votes=votes))

    def broadcast_evidence(self, evidence: Evidence) -> None:
        """Gossip evidence by inventory."""
        self._node.peers.gossip(evidence)


class Node:
    """One TimeCoin node: store, consensus, peers, mempool, RPC, metrics."""

    def __init__(self, config: NodeConfig, datadir: Path, *, reindex: str | None = None) -> None:
        """A node over `datadir` as `config` says (nothing opened yet).

        `reindex` (`--reindex` or `--reindex-chainstate`) asks for the chain
        state to be rebuilt from the stored blocks before the node starts."""
        self.datadir = datadir
        self.reindex = reindex
        self.config = config.resolve(datadir)
        self.params = resolve_params(config)
        self.started_monotonic = time.monotonic()
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="node-io")
        self.rpc_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rpc-io")
        """Reads for RPC (block scans, lookups): never queued ahead of the
        consensus and finality writes on `executor`."""
        self.batch_verifier = BatchVerifier(threads=2)
        self.sig_cache = CountingSignatureCache(compute_signature_cache_entries(self.params))
        self.mempool_policy = MempoolPolicy(max_memory_bytes=config.mempool.max_bytes)
        self.finality: FinalityService | None = None
        self.heartbeats: HeartbeatService | None = None
        self.kv: LmdbStore | None = None
        self.chain: ChainStore | None = None
        self.wallet: Wallet | None = None
        self.operator_key: SigningKey | None = None
        self.driver: ConsensusDriver | None = None
        self.peers: PeerManager
        self.syncer: Syncer | None = None
        self.voting_sets: MutableMapping[int, VotingSet] = {}
        self._progress_shown = False
        self.metrics: NodeMetrics | None = None
        self.rpc: RpcServer | None = None
        self.api = NodeApiImpl(self)
        self.stop_requested = asyncio.Event()
        self.ready = False
        self.clock_offsets_ms: dict[str, int] = {}
        self.clock_warning: str | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self._last_marker: tuple[int, int, int] | None = None
        self._marker_since = time.monotonic()
        self._stopped = False
        self.indexes_to_build: list[str] = []
        """Enabled indexes behind the tip at start, built in the background."""
        self._stopping = threading.Event()
        """Set when the node stops: the store threads end at their next pause."""
        self._store_threads: list[threading.Thread] = []
        """The coin record check and the index build, joined at stop."""
        self.ban_keeper: BanKeeper | None = None
        self._bans_saved_at = time.monotonic()
        self.store_damage: str | None = None
        """Why the node stops: a damaged stored record (exit status EXIT_STORE_DAMAGED)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self.faults = fault_policy.FaultStop(
            self.request_stop,
            lambda: fault_policy.halt_services(self.heartbeats, self.driver, self.finality),
        )

    # ------------------------------------------------------------ start-up

    def _open_store(self) -> tuple[ChainStore, ChainState]:
        """Open (or create) the chain store and read the chain state of the
        tip (ADR 0010); a store of an older schema is migrated first."""
        kv = LmdbStore(
            self.datadir / CHAIN_DIRNAME, min_free_bytes=fault_policy.MIN_FREE_DISK_BYTES
        )
        kv.on_failure = self.faults.on_write_failure
        self.kv = kv
        chain = ChainStore(kv, max_block_bytes=self.params.sizes.max_block_bytes)
        chain.on_damage = self._on_store_damage
        self.voting_sets = StoredVotingSets(kv)
        tip = chain.get_tip()
        if tip is None:
            genesis_block = read_genesis(self.config.genesis_file, self.params)
            state, delta = chain_state_from_genesis(genesis_block, self.params)
            init_genesis_state(chain, genesis_block, state, delta)
        else:
            chain.verify_blocks(fault_policy.STARTUP_CHECK_BLOCKS)
        if chain.get_chain_id() != self.params.chain_id:
            raise NodeError(
                f"the store in {self.datadir} belongs to chain id {chain.get_chain_id()}, "
                f"not {self.params.name}"
            )
        state = load_chain_state(
            chain,
            self.params,
            reindex_request=self.reindex,
            verify_batch=self.batch_verifier.verify_all,
        )
        self.indexes_to_build = open_indexes(chain, enabled_indexes(self.config.index))
        return chain, state

    def _on_store_damage(self, error: DamagedRecordError) -> None:
        """A stored record failed its check (in any thread): the node stops
        rather than run on, or serve, damaged state."""
        if self.store_damage is None:
            self.store_damage = str(error)
            log.error("stopping: %s", error)
            loop = self._loop
            if loop is not None:
                loop.call_soon_threadsafe(self.request_stop)

    def _sync_config(self) -> SyncConfig:
        """The checkpoint from the config, else the last of the preset's."""
        checkpoint: Checkpoint | None = None
        text = self.config.sync.checkpoint
        parsed = None if text is None else parse_checkpoint(text)
        if parsed is not None:
            checkpoint = Checkpoint(parsed[0], parsed[1])
        elif self.params.checkpoints:
            checkpoint = self.params.checkpoints[-1]
        require = self.config.sync.require_checkpoint
        if require is None:
            require = self.params.name in ("mainnet", "testnet")
        return SyncConfig(checkpoint=checkpoint, require_checkpoint=require)

    def _open_wallet(self, chain: ChainStore) -> Wallet | None:
        wallet_file = self.config.wallet_file
        password_file = self.config.wallet_password_file
        if wallet_file is None or password_file is None:
            return None
        password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
        wallet = Wallet.open(wallet_file, password, self.params)
        restored = restore_wallet(wallet, chain)
        if restored.full_scan:
            log.info("wallet %s: scanned the UTXO set (no scan record)", wallet.fingerprint)
        else:
            log.info(
                "wallet %s: %d stored coins, followed %d blocks",
                wallet.fingerprint,
                restored.stored_coins,
                restored.followed_blocks,
            )
        return wallet

    async def start(self) -> None:
        """Open everything and join the network. Raises NodeError, StorageError."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        started = time.monotonic()
        chain, state = await loop.run_in_executor(self.executor, self._open_store)
        self.chain = chain
        kv = chain.kv
        genesis_hash = chain.get_genesis_hash()
        if genesis_hash is None:
            raise NodeError("the chain store has no genesis hash")
        self.params = self.params.with_genesis(genesis_hash)
        self.operator_key = load_or_create_key(self.config.operator_key_file)
        node_key = load_or_create_key(self.config.node_key_file)
        self.wallet = await loop.run_in_executor(self.executor, self._open_wallet, chain)
        p2p = self.config.p2p
        self.peers = PeerManager(
            self.params,
            node_key,
            bound_p2p_caches(
                self.params,
                listen_host=p2p.host,
                listen_port=p2p.port,
                persistent_peers=p2p.seeds,
                max_inbound=p2p.max_inbound,
                max_outbound=p2p.max_outbound,
                allow_local_addresses=p2p.allow_local_addresses,
                max_clock_skew_ms=max(120_000, self.config.clock_skew_warn_ms),
                class_rates=(sync_class_rate(self.params),),
            ),
            address_store=StoreAddressBook(kv),
        )
        self.peers.add_reactor(self)
        self.ban_keeper = BanKeeper(kv, self.peers)
        restored_bans = self.ban_keeper.restore()
        if restored_bans:
            log.info("restored %d bans from the store", restored_bans)
        self.finality = FinalityService(
            params=self.params,
            chain=chain,
            state=state,
            key=self.operator_key,
            wal=FinalityWalLog(kv, accept_damage=self.config.accept_damaged_wal),
            final_store=FinalTxStore(kv),
            network=FinalityNetwork(
                broadcast=self.peers.broadcast,
                gossip_tx=self._relay_transaction,
                gossip_evidence=self.peers.gossip,
            ),
            executor=self.executor,
            sig_cache=self.sig_cache,
            voting_sets=self.voting_sets,
            policy=self.mempool_policy,
        )
        self.heartbeats = HeartbeatService(
            state=state,
            kv=kv,
            key=self.operator_key,
            broadcast=self.peers.broadcast,
            executor=self.executor,
            verifier=self.sig_cache.verify,
        )
        self.driver = ConsensusDriver(
            params=self.params,
            chain=chain,
            state=state,
            tip_certificate=load_tip_certificate(kv),
            wal=WalLog(kv, accept_damage=self.config.accept_damaged_wal),
            key=self.operator_key,
            finality=self.finality,
            network=_Network(self),
            executor=self.executor,
            batch_verifier=self.batch_verifier,
            verifier=self.sig_cache.verify_uncached,
            heartbeats=self.heartbeats,
        )
        self.driver.listeners.append(self._on_commit)
        self.syncer = Syncer(
            params=self.params,
            config=self._sync_config(),
            driver=self.driver,
            chain=chain,
            peers=self.peers,
            executor=self.executor,
            verifier=verify,
            voting_sets=self.voting_sets,
            datadir=self.datadir,
        )
        if self.config.metrics.enabled:
            self.metrics = NodeMetrics(
                self._snapshot, version=__version__, network=self.config.network
            )
            self.finality.latency_listeners.append(self.metrics.observe_final_latency_ms)
            self.metrics.serve(self.config.metrics.host, self.config.metrics.port)
            self.metrics.start_probe()
        if self.config.rpc.enabled:
            await self._start_rpc()
        await self.api.start_rest()
        if self.wallet is not None:
            self.finality.final_listeners.append(self._on_final_transaction)
        await self.finality.start()
        if self.wallet is not None:
            for tx in self.finality.final_transactions():
                self._on_final_transaction(tx, compute_txid(tx))
        await self.peers.start()
        await self.driver.start()
        self.heartbeats.start()
        self._maintenance = asyncio.create_task(self._maintain(), name="node-maintenance")
        self._store_threads = [
            threading.Thread(target=check_utxo_set, args=(chain, self._stopping), name="utxo-check")
        ]
        if self.indexes_to_build:
            self._store_threads.append(
                threading.Thread(
                    target=build_indexes,
                    args=(chain, self.indexes_to_build, lambda: self._stopped),
                    name="index-build",
                )
            )
        for thread in self._store_threads:
            thread.start()
        self.ready = True
        self.faults.attach(loop)
        log.info(
            "node started at height %d in %.2f s (p2p %s)",
            state.height,
            time.monotonic() - started,
            self.peers.listen_address,
        )

    async def _start_rpc(self) -> None:
        rpc = self.config.rpc
        server = RpcServer(
            self.api,
            RpcConfig(
                host=rpc.host,
                port=rpc.port,
                datadir=self.datadir,
                user=rpc.user,
                password=rpc.password,
                read_timeout_s=rpc.server_timeout_s,
            ),
        )
        await server.start()
        self.rpc = server

    # ------------------------------------------------------------ shutdown

    async def stop(self) -> None:
        """Stop accepting, finish the commit in progress, flush and close (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        self.ready = False
        started = time.monotonic()
        if self._maintenance is not None:
            self._maintenance.cancel()
        rpc = self.rpc
        if rpc is not None:
            await rpc.stop()
        await self.api.stop_rest()
        if self.heartbeats is not None:
            await self.heartbeats.stop()
        if self.driver is not None:
            await self.driver.stop()
        if self.finality is not None:
            await self.finality.stop()
        if hasattr(self, "peers"):
            await self.peers.stop()
        if self.ban_keeper is not None and self.kv is not None:
            try:
                self.ban_keeper.save(sync=True)
            except StorageError as exc:
                log.error("cannot store the bans: %s", exc)
        if self.metrics is not None:
            await self.metrics.stop()
        loop = asyncio.get_running_loop()
        for thread in self._store_threads:
            await loop.run_in_executor(None, thread.join)
        await loop.run_in_executor(None, self.rpc_executor.shutdown, True)
        await loop.run_in_executor(None, self.executor.shutdown, True)
        self.batch_verifier.close()
        if self.wallet is not None:
            self.wallet.close()
        if self.kv is not None:
            self.kv.close()
        log.info("node stopped in %.2f s", time.monotonic() - started)

    def save_bans(self) -> None:
        """Store the peer manager's bans if they changed (survive a restart)."""
        if self.ban_keeper is not None and self.kv is not None:
            self.ban_keeper.save()

    def request_stop(self) -> None:
        """Ask `run` to stop the node."""
        self.stop_requested.set()

    # ------------------------------------------------------------ reactor

    def on_peer_connected(self, peer: Peer) -> None:
        """Send our round's messages to the new peer, note its clock."""
        hello = peer.hello
        if hello is not None:
            offset = int(time.time() * 1000) - hello.timestamp_ms
            self.clock_offsets_ms[peer.peer_id] = offset
            self._check_clock()
        driver = self.driver
        if driver is not None and driver.machine is not None:
            for effect in driver.machine.get_own_messages():
                message = effect.message
                if isinstance(message, Proposal) and isinstance(effect.block_value, Block):
                    peer.send(ProposalMsg(proposal=message, block=effect.block_value))
                elif isinstance(message, Vote):
                    peer.send(VoteMsg(votes=[message]))
        if self.syncer is not None:
            self.syncer.on_peer_connected(peer.peer_id)

    def on_peer_disconnected(self, peer: Peer) -> None:
        """Forget the peer's height and clock."""
        if self.syncer is not None:
            self.syncer.on_peer_disconnected(peer.peer_id)
        self.clock_offsets_ms.pop(peer.peer_id, None)

    async def on_message(self, peer: Peer, message: Message) -> None:
        """Route a message to consensus, the mempool or sync."""
        driver = self.driver
        syncer = self.syncer
        finality = self.finality
        if driver is None or syncer is None or finality is None:
            return
        if isinstance(message, TxVotesMsg):
            finality.on_tx_votes(message)
        elif isinstance(message, FinalityTxs):
            finality.on_finality_txs(message)
        elif isinstance(message, GetFinalityTxs):
            answer = finality.answer(message)
            if answer is not None:
                peer.send(answer)
        elif isinstance(message, EpochReportMsg):
            finality.on_report(message)
        elif isinstance(message, GetEpochReports):
            for report_msg in finality.answer_reports(message):
                peer.send(report_msg)
        elif isinstance(message, HeartbeatMsg):
            if self.heartbeats is not None:
                self.heartbeats.on_message(message)
        elif isinstance(message, VoteMsg):
            for vote in message.votes:
                driver.on_vote(vote)
            syncer.on_peer_height(peer.peer_id, max(v.height for v in message.votes) - 1)
        elif isinstance(message, ProposalMsg):
            syncer.on_peer_height(peer.peer_id, message.proposal.height - 1)
            await driver.on_proposal(message.proposal, message.block)
        elif isinstance(message, CertificateMsg):
            syncer.on_certificate(peer.peer_id, message.certificate)
        elif isinstance(message, Txs):
            await finality.preverify(message.transactions)
            for tx in message.transactions:
                # One refused transaction (an orphan kept aside, a conflict,
                # an invalid one) must not cost the others of the message.
                try:
                    self._accept_transaction(tx, relay_exclude=peer.peer_id)
                except TimecoinError as exc:
                    log.debug("transaction from %s not pooled: %s", peer.peer_id[:16], exc)
        elif isinstance(message, GetHeaders | GetBodies):
            await syncer.serve(peer.peer_id, message)
        elif isinstance(message, Headers):
            syncer.on_headers(peer.peer_id, message)
        elif isinstance(message, Bodies):
            syncer.on_bodies(peer.peer_id, message)
        elif isinstance(message, EvidenceMsg):
            log.warning("evidence from %s: %r", peer.peer_id[:16], message.evidence)

    # ------------------------------------------------------------ transactions

    def _accept_transaction(self, tx: Transaction, relay_exclude: str | None = None) -> bytes:
        """Pool `tx` (validated against the tip plus final outputs), gossip it
        and hand it to the finality machine; return its txid.

        Raises a TimecoinError with the reject code of the broken rule.
        """
        finality = self.finality
        if finality is None or finality.machine is None:
            raise TimecoinError("warming-up", "the node is starting")
        return finality.submit(tx, relay_exclude)

    def submit_transaction(self, tx: Transaction) -> bytes:
        """Validate, pool and announce a transaction from RPC; return its txid."""
        return self._accept_transaction(tx)

    def _relay_transaction(self, tx: Transaction, peer: str | None) -> None:
        """Relay a newly pooled transaction: pushed in full when this node is
        its first relay (`peer` None: a client's), else announced by
        inventory to the peers but `peer`."""
        if peer is None:
            self.peers.push_transaction(tx)
        else:
            self.peers.gossip(tx, exclude=peer)

    # ------------------------------------------------------------ upkeep

    def _on_final_transaction(self, tx: Transaction, txid: bytes) -> None:
        """A transaction is final: its outputs paying the wallet are
        spendable at once, the coins it spends are gone."""
        wallet, finality = self.wallet, self.finality
        if wallet is not None and finality is not None:
            apply_final_transaction(wallet, finality.view, tx, txid)

    def _on_commit(self, applied: AppliedBlock, certificate: Certificate, elapsed_s: float) -> None:
        if self.metrics is not None:
            self.metrics.commit_seconds.observe(elapsed_s)
        wallet = self.wallet
        if wallet is not None:
            view = None if self.finality is None else self.finality.view
            delta = applied.delta
            apply_block(wallet, view, delta.spent, delta.created)
            if self.chain is not None:
                height = applied.block.header.height
                record_block(
                    wallet, self.chain, height, applied.block_hash, delta.spent, delta.created
                )
        self.peers.broadcast(CertificateMsg(certificate=certificate))
        if self.syncer is not None:
            self.syncer.on_commit()

    def _check_clock(self) -> None:
        offsets = list(self.clock_offsets_ms.values())
        if not offsets:
            return
        median_ms = int(statistics.median(offsets))
        bound_ms = self.config.clock_skew_warn_ms
        if abs(median_ms) > bound_ms:
            warning = (
                f"local clock is {median_ms:+d} ms off the peers' median time "
                f"(bound {bound_ms} ms): check NTP"
            )
            if warning != self.clock_warning:
                log.warning("%s", warning)
            self.clock_warning = warning
        else:
            self.clock_warning = None

    def chain_warnings(self) -> tuple[str, ...]:
        """`getblockchaininfo`'s warnings: a failed store write, a clock off the peers', an epoch
        whose last block waits for reports."""
        warnings: list[str] = []
        if self.faults.warning is not None:
            warnings.append(self.faults.warning)  # a full disk: production stopped
        if self.clock_warning is not None:
            warnings.append(self.clock_warning)
        if self.finality is not None:
            reports = self.finality.reports_warning()
            if reports is not None:
                warnings.append(reports)
        return tuple(warnings)

    def clock_offset_ms(self) -> int:
        """Local clock minus the median of the peers' clocks at handshake (0: no peers)."""
        offsets = list(self.clock_offsets_ms.values())
        return int(statistics.median(offsets)) if offsets else 0

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(MAINTENANCE_INTERVAL_S)
            try:
                self._maintain_once()
            except Exception:
                log.exception("maintenance failed")

    def _maintain_once(self) -> None:
        driver = self.driver
        if driver is None or driver.machine is None:
            return
        machine = driver.machine
        marker = (machine.height, machine.round, int(machine.step))
        now = time.monotonic()
        if marker != self._last_marker:
            self._last_marker = marker
            self._marker_since = now
        elif now - self._marker_since >= REBROADCAST_AFTER_S:
            driver.rebroadcast_own()
            self._marker_since = now
        if self.finality is not None:
            self.finality.tick()
        if now - self._bans_saved_at >= BAN_SAVE_INTERVAL_S:
            self._bans_saved_at = now
            self.save_bans()
        if self.syncer is not None:
            self.syncer.tick()
            self._show_progress(self.syncer)

    def _show_progress(self, syncer: Syncer) -> None:
        """A progress bar on a terminal while in initial block download."""
        if not sys.stderr.isatty():
            return
        progress = syncer.machine.progress()
        if progress.initial_block_download:
            width = 30
            done = int(width * progress.verification_progress)
            sys.stderr.write(
                f"\rsyncing [{'#' * done}{'.' * (width - done)}] "
                f"{progress.tip_height}/{progress.best_known_height} "
                f"({100 * progress.verification_progress:.1f}%)  "
            )
            sys.stderr.flush()
            self._progress_shown = True
        elif self._progress_shown:
            sys.stderr.write(f"\rsynced at height {progress.tip_height}{' ' * 40}\n")
            sys.stderr.flush()
            self._progress_shown = False

    def _snapshot(self) -> NodeSnapshot:
        driver = self.driver
        machine = None if driver is None else driver.machine
        return NodeSnapshot(
            height=-1 if driver is None else driver.state.height,
            round=-1 if machine is None else machine.round,
            peers=len(self.peers.peers()) if hasattr(self, "peers") else 0,
            mempool_transactions=0 if self.finality is None else len(self.finality.mempool),
            mempool_bytes=0 if self.finality is None else self.finality.mempool.memory_bytes,
            p2p=self.peers.stats if hasattr(self, "peers") else None,
            clock_offset_ms=self.clock_offset_ms(),
            extra=self._sync_figures() | self._masternode_figures(),
            counters=self._counter_figures(),
        )

    def _counter_figures(self) -> dict[str, float]:
        """Monotonic figures (exported as counters): transactions found
        final, signatures verified, proposals built ahead and on the loop."""
        figures: dict[str, float] = {}
        if self.finality is not None:
            figures["timecoin_finality_finalized_total"] = float(self.finality.finalized)
            figures["timecoin_signature_verifications_total"] = float(self.sig_cache.verifications)
        driver = self.driver
        if driver is not None:
            figures["timecoin_proposals_prebuilt_total"] = float(driver.proposals_prebuilt)
            figures["timecoin_proposals_built_on_loop_total"] = float(
                driver.proposals_built_on_loop
            )
        return figures

    def _masternode_figures(self) -> dict[str, float]:
        """Masternode gauges: registered masternodes, the voting set in force
        (its voters and total weight) and this node's weight in it."""
        driver = self.driver
        if driver is None:
            return {}
        registry = driver.state.registry
        voting_set = registry.voting_set
        key = self.operator_key
        index = None if key is None else voting_set.index_of(key.public_key)
        own = 0 if index is None else voting_set.voters[index].weight
        return {
            "timecoin_masternodes_registered": float(len(registry.entries)),
            "timecoin_voting_set_voters": float(len(voting_set.voters)),
            "timecoin_voting_set_weight": float(voting_set.total_weight),
            "timecoin_voting_weight": float(own),
        }

    def _sync_figures(self) -> dict[str, float]:
        """Sync gauges: the fork alert (1 when block production is halted by
        one), best known height, initial block download, penalized peers."""
        syncer = self.syncer
        if syncer is None:
            return {}
        progress = syncer.machine.progress()
        finality = self.finality
        figures: dict[str, float] = {}
        if finality is not None:
            machine = finality.machine
            figures = {
                "timecoin_finality_backlog": float(0 if machine is None else machine.backlog_count),
                "timecoin_finality_epoch": float(-1 if machine is None else machine.epoch),
                "timecoin_epoch_reports_awaited_seconds": finality.reports_awaited_s(),
            }
        return figures | {
            "timecoin_storage_failed": 1.0 if self.faults.storage_failed else 0.0,
            "timecoin_fork_alert": 1.0 if syncer.alert is not None else 0.0,
            "timecoin_sync_best_known_height": float(progress.best_known_height),
            "timecoin_sync_initial_block_download": float(progress.initial_block_download),
            "timecoin_sync_peers_penalized": float(syncer.machine.stats.peers_penalized),
        }


GC_THRESHOLDS: Final = (20_000, 20, 10)
"""Allocations between young collections, young collections per middle one,
middle ones per full one (CPython's defaults: 700, 10, 10)."""


def tune_garbage_collector() -> None:
    """Move what start-up allocated out of the collector's reach and collect
    less often (docs/node.md, "Garbage collection").

    With the defaults, a node under load stopped for a full collection of
    its whole heap every few seconds, 60-300 ms each on a shared 2-core
    machine: the largest stalls on the path to finality. Start-up objects
    (modules, classes, functions: half the heap) never become garbage, so
    `gc.freeze` leaves them out of every later collection; the consensus
    data types are untracked msgspec structs (`gc=False`); and larger
    thresholds make full collections rare. Reference counting still frees
    all acyclic garbage at once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def run_node(config: NodeConfig, datadir: Path, *, reindex: str | None = None) -> int:
    """Run a node until SIGINT or SIGTERM; return the process exit status.
    `reindex` names a requested rebuild (`--reindex`, `--reindex-chainstate`)."""
    node = Node(config, datadir, reindex=reindex)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, node.request_stop)
    try:
        await node.start()
    except (NodeError, StorageError, TimecoinError, OSError) as exc:
        log.error("cannot start: %s", exc)
        await node.stop()
        return fault_policy.exit_status_of(exc)
    tune_garbage_collector()
    await node.stop_requested.wait()
    log.info("shutting down")
    try:
        await asyncio.wait_for(node.stop(), timeout=config.shutdown_timeout_s)
    except TimeoutError:
        log.error("shutdown took longer than %.1f s", config.shutdown_timeout_s)
        return fault_policy.EXIT_FAILURE
    if node.store_damage is not None:
        log.error("stopped on a damaged store: %s", node.store_damage)
        return fault_policy.EXIT_STORE_DAMAGED
    return node.faults.exit_status


def compute_genesis_hash(block: Block) -> bytes:
    """The hash that names the chain of `block` (its header hash)."""
    return compute_block_hash(block.header)
