"""A minimal in-memory `NodeApi` built from real objects, for the RPC tests.

Not a mock of the node: a small implementation of the protocol over a real
genesis block (`build_genesis_state`), a real second block built with
`apply_block`, a `MemoryUtxoSet`, the real masternode registry, a mempool
that runs the real ledger rules, and a real `Wallet` with fast KDF
parameters. Fixed peers and consensus state stand in for the network.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from timecoin.chain import GenesisMasternode, GenesisSpec, build_genesis_state
from timecoin.crypto import SigningKey, address_from_public_key
from timecoin.ledger import (
    MemoryUtxoSet,
    apply_block,
    check_transaction,
    compute_input_signing_message,
    compute_tx_size,
    validate_transaction,
)
from timecoin.masternode import RegistryState, registry_from_genesis
from timecoin.node.wallet_api import is_wallet_transaction
from timecoin.params import COIN, MINIMAL, ChainParams, Tier
from timecoin.rpc.api import (
    AddNodeCommand,
    BanInfo,
    ChainState,
    ConsensusInfo,
    IndexDisabledError,
    InvalidPeerAddressError,
    LocalMasternode,
    MempoolEntry,
    MempoolInfo,
    NetworkInfo,
    PeerAlreadyAddedError,
    PeerInfo,
    PeerNotAddedError,
    TransactionAlreadyInChainError,
    TransactionLookup,
    UtxoLookup,
    UtxoSetInfo,
    WalletBalance,
    WalletCoin,
    WalletUnavailableError,
    WarmingUpError,
)
from timecoin.rpc.wallet_api import (
    NotAbandonableError,
    UnknownWalletTransactionError,
    WalletBackupError,
    WalletInfo,
    WalletTransaction,
)
from timecoin.storage.indexes import AddressEvent, IndexState, Spender
from timecoin.types import (
    BLOCK_VERSION,
    TX_VERSION,
    Block,
    BlockHeader,
    Coin,
    InvalidTransaction,
    OutPoint,
    Transaction,
    TxInput,
    TxOutput,
    compute_attestations_hash,
    compute_block_hash,
    compute_certificate_hash,
    compute_evidence_hash,
    compute_tx_roots,
    compute_txid,
)
from timecoin.wallet import (
    MAX_KEYS,
    FeePolicy,
    FundedTransaction,
    KdfParams,
    SignOutcome,
    Wallet,
    WalletExistsError,
)
from timecoin.wallet.masternode import (
    RegistrationRequest,
    UpdateRequest,
    build_operator_update,
    build_registration,
    build_unlock,
    live_collaterals,
)

FAST_KDF = KdfParams(opslimit=1, memlimit_bytes=8192)
WALLET_PASSWORD = "wallet password"
RPC_USER = "alice"
RPC_PASSWORD = "correct horse"
FEE = 10_000
GENESIS_TIME_MS = 1_767_225_600_000
BLOCK1_TIME_MS = GENESIS_TIME_MS + 1_500
PAYER_ALLOCATION = 1_000 * COIN
WALLET_ALLOCATION = 200 * COIN
PAYMENT = 600 * COIN
SUBSIDY = 100 * COIN
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def make_key(n: int) -> SigningKey:
    """A deterministic key: seed = 32 bytes of `n`."""
    return SigningKey.from_seed(bytes([n]) * 32)


def address_of(key: SigningKey) -> bytes:
    """The 20-byte address of `key`."""
    return address_from_public_key(key.public_key)


PAYER = make_key(1)
PAYEE = make_key(2)
OWNERS = (make_key(10), make_key(11))
OPERATORS = (make_key(20), make_key(21))


def sign_tx(
    spends: list[tuple[OutPoint, SigningKey]],
    outputs: list[tuple[int, bytes]],
    params: ChainParams,
) -> Transaction:
    """A transaction spending `spends`, each signed by its key."""
    unsigned = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(prevout=op, public_key=key.public_key) for op, key in spends],
        outputs=[TxOutput(amount=amount, address=address) for amount, address in outputs],
        lock_time=0,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    txid = compute_txid(unsigned)
    signatures = [
        key.sign(compute_input_signing_message(params.chain_id, txid, index))
        for index, (_, key) in enumerate(spends)
    ]
    return msgspec.structs.replace(unsigned, signatures=signatures)


@dataclass
class _Pooled:
    tx: Transaction
    entry: MempoolEntry


@dataclass
class MemoryNode:
    """An in-memory `NodeApi`: two blocks, a mempool, peers, a wallet."""

    params: ChainParams
    blocks: dict[bytes, Block]
    hashes: list[bytes]
    utxo: MemoryUtxoSet
    utxo_commitment: bytes
    registry: RegistryState
    wallet: Wallet | None
    tx_index: dict[bytes, bytes] = field(default_factory=dict)
    mempool: dict[bytes, _Pooled] = field(default_factory=dict)
    added_nodes: set[str] = field(default_factory=set)
    bans: dict[str, BanInfo] = field(default_factory=dict)
    warming_up: bool = False
    broken: bool = False
    gate: asyncio.Event | None = None
    stop_requested: bool = False
    started_s: float = field(default_factory=time.monotonic)

    # ------------------------------------------------------------ helpers

    async def _ready(self) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.warming_up:
            raise WarmingUpError("Loading block index...")
        if self.broken:
            raise RuntimeError("simulated bug")

    @property
    def tip_height(self) -> int:
        return len(self.hashes) - 1

    def _wallet(self) -> Wallet:
        if self.wallet is None:
            raise WalletUnavailableError("No wallet is loaded on this node")
        return self.wallet

    def _spent_by_pool(self) -> dict[OutPoint, bytes]:
        return {
            tx_input.prevout: txid
            for txid, pooled in self.mempool.items()
            for tx_input in pooled.tx.inputs
        }

    def _pool_coin(self, outpoint: OutPoint) -> Coin | None:
        pooled = self.mempool.get(outpoint.txid)
        if pooled is None or outpoint.index >= len(pooled.tx.outputs):
            return None
        output = pooled.tx.outputs[outpoint.index]
        return Coin(amount=output.amount, address=output.address, height=self.tip_height + 1)

    # ------------------------------------------------------------ chain

    async def get_chain_state(self) -> ChainState:
        await self._ready()
        tip_hash = self.hashes[-1]
        return ChainState(
            tip_hash=tip_hash,
            tip_header=self.blocks[tip_hash].header,
            best_header_height=self.tip_height,
            verification_progress=1.0,
            initial_block_download=False,
            size_on_disk_bytes=12_345,
        )

    async def get_block_hash(self, height: int) -> bytes | None:
        await self._ready()
        return self.hashes[height] if 0 <= height < len(self.hashes) else None

    async def get_block(self, block_hash: bytes) -> Block | None:
        await self._ready()
        return self.blocks.get(block_hash)

    async def get_header(self, block_hash: bytes) -> BlockHeader | None:
        await self._ready()
        block = self.blocks.get(block_hash)
        return None if block is None else block.header

    async def verify_chain(self, blocks: int) -> bool:
        """Whole: the in-memory chain cannot be damaged."""
        return True

    async def get_transaction(self, txid: bytes) -> TransactionLookup | None:
        await self._ready()
        pooled = self.mempool.get(txid)
        if pooled is not None:
            return TransactionLookup(pooled.tx, None, pooled.entry.is_final)
        block_hash = self.tx_index.get(txid)
        if block_hash is None:
            return None
        for tx in self.blocks[block_hash].transactions:
            if compute_txid(tx) == txid:
                return TransactionLookup(tx, block_hash, True)
        return None

    async def get_coin(self, outpoint: OutPoint, *, include_mempool: bool) -> UtxoLookup | None:
        await self._ready()
        if include_mempool:
            if outpoint in self._spent_by_pool():
                return None
            pool_coin = self._pool_coin(outpoint)
            if pool_coin is not None:
                return UtxoLookup(pool_coin, in_block=False)
        coin = self.utxo.get_coin(outpoint)
        return None if coin is None else UtxoLookup(coin, in_block=True)

    async def get_utxo_set_info(self) -> UtxoSetInfo:
        await self._ready()
        return UtxoSetInfo(
            height=self.tip_height,
            best_block_hash=self.hashes[-1],
            txout_count=len(self.utxo),
            total_amount_units=sum(coin.amount for coin in self.utxo.coins.values()),
            commitment=self.utxo_commitment,
            disk_size_bytes=None,
        )

    # ------------------------------------------------------------ mempool

    async def get_mempool_info(self) -> MempoolInfo:
        await self._ready()
        entries = [pooled.entry for pooled in self.mempool.values()]
        return MempoolInfo(
            loaded=True,
            tx_count=len(entries),
            total_bytes=sum(e.size_bytes for e in entries),
            usage_bytes=sum(2 * e.size_bytes for e in entries),
            total_fee_units=sum(e.fee_units for e in entries),
            max_bytes=300_000_000,
            min_fee_per_kb_units=self.params.min_fee_per_kb,
            min_relay_fee_per_kb_units=self.params.min_fee_per_kb,
            final_count=sum(e.is_final for e in entries),
        )

    async def get_mempool_entries(self) -> list[MempoolEntry]:
        await self._ready()
        return [pooled.entry for pooled in self.mempool.values()]

    async def submit_transaction(self, tx: Transaction) -> bytes:
        await self._ready()
        txid = compute_txid(tx)
        if txid in self.mempool:
            return txid
        if txid in self.tx_index:
            raise TransactionAlreadyInChainError(
                f"{txid.hex()} is in block {self.tx_index[txid].hex()}"
            )
        size_bytes = compute_tx_size(tx)
        check_transaction(tx, self.params, size_bytes=size_bytes)
        spent = self._spent_by_pool()
        for tx_input in tx.inputs:
            other = spent.get(tx_input.prevout)
            if other is not None:
                raise InvalidTransaction("mempool-conflict", f"input spent by {other.hex()}")
        view = _PoolView(self)
        fee = validate_transaction(
            tx, txid, view, self.params, self.tip_height + 1, size_bytes=size_bytes
        )
        depends = tuple(
            dict.fromkeys(i.prevout.txid for i in tx.inputs if i.prevout.txid in self.mempool)
        )
        entry = MempoolEntry(
            txid=txid,
            size_bytes=size_bytes,
            fee_units=fee,
            time_ms=BLOCK1_TIME_MS + 500,
            height=self.tip_height,
            depends=depends,
            is_final=False,
        )
        self.mempool[txid] = _Pooled(tx, entry)
        return txid

    # ------------------------------------------------------------ network

    async def get_network_info(self) -> NetworkInfo:
        await self._ready()
        return NetworkInfo(
            version=100,
            subversion="/TimeCoin:0.1.0/",
            protocol_version=1,
            network_active=True,
            connections_in=1,
            connections_out=0,
            local_addresses=(("127.0.0.1", self.params.default_p2p_port),),
            relay_fee_per_kb_units=self.params.min_fee_per_kb,
            warnings=(),
        )

    async def get_peers(self) -> list[PeerInfo]:
        await self._ready()
        return [
            PeerInfo(
                peer_id=7,
                address="127.0.0.1:50123",
                local_address="127.0.0.1:24300",
                inbound=True,
                connection_type="inbound",
                connected_ms=GENESIS_TIME_MS,
                last_send_ms=BLOCK1_TIME_MS,
                last_recv_ms=BLOCK1_TIME_MS + 10,
                bytes_sent=1_000,
                bytes_received=2_000,
                ping_ms=1.5,
                protocol_version=1,
                user_agent="/TimeCoin:0.1.0/",
                start_height=0,
                synced_height=self.tip_height,
                node_key=OPERATORS[1].public_key,
                masternode_id=self.registry.entries[1].masternode_id,
            )
        ]

    async def disconnect_node(self, address: str) -> int:
        return 0

    async def wallet_rescan(self, start_height: int, stop_height: int | None) -> tuple[int, int]:
        self._wallet()
        return start_height, self.tip_height if stop_height is None else stop_height

    def list_banned(self) -> list[BanInfo]:
        return sorted(self.bans.values(), key=lambda ban: ban.banned_until_s)

    async def set_ban(self, target: str, add: bool, until_s: float | None) -> bool:
        await self._ready()
        if not add:
            return self.bans.pop(target, None) is not None
        until = int(time.time() + 86_400 if until_s is None else until_s)
        self.bans[target] = BanInfo(target, len(target) == 64, until, "manually added")
        return False

    async def clear_banned(self) -> int:
        count = len(self.bans)
        self.bans.clear()
        return count

    async def get_index_info(self) -> list[IndexState]:
        return []

    async def get_spender(self, outpoint: OutPoint) -> Spender | None:
        raise IndexDisabledError("this node does not keep the spentindex")

    async def get_address_events(
        self, address: bytes, start_height: int, limit: int
    ) -> list[AddressEvent]:
        raise IndexDisabledError("this node does not keep the addressindex")

    async def add_node(self, address: str, command: AddNodeCommand) -> None:
        await self._ready()
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise InvalidPeerAddressError(f"{address!r} is not host:port")
        if command == "add":
            if address in self.added_nodes:
                raise PeerAlreadyAddedError(address)
            self.added_nodes.add(address)
        elif command == "remove":
            if address not in self.added_nodes:
                raise PeerNotAddedError(address)
            self.added_nodes.remove(address)

    # ------------------------------------------------------------ consensus

    async def get_consensus_info(self) -> ConsensusInfo:
        await self._ready()
        height = self.tip_height + 1
        return ConsensusInfo(
            height=height,
            round=0,
            step="prevote",
            epoch=self.params.epoch_of(height),
            locked_round=-1,
            valid_round=-1,
            proposer=OPERATORS[0].public_key,
            voting_set=self.registry.voting_set,
            local_operator_key=OPERATORS[0].public_key,
        )

    async def get_masternode_registry(self) -> RegistryState:
        await self._ready()
        return self.registry

    async def get_local_masternode(self) -> LocalMasternode | None:
        await self._ready()
        entry = next(e for e in self.registry.entries if e.operator_key == OPERATORS[0].public_key)
        return LocalMasternode(
            operator_key=OPERATORS[0].public_key,
            masternode_id=entry.masternode_id,
            last_heartbeat_ms=BLOCK1_TIME_MS,
        )

    # ------------------------------------------------------------ wallet

    async def wallet_new_address(self) -> bytes:
        await self._ready()
        return self._wallet().new_address()

    async def wallet_get_balance(self) -> WalletBalance:
        await self._ready()
        wallet = self._wallet()
        return WalletBalance(wallet.spendable_balance(), wallet.locked_balance())

    async def wallet_list_unspent(self) -> list[WalletCoin]:
        await self._ready()
        wallet = self._wallet()
        return [
            WalletCoin(op, coin, locked=wallet.is_marked(op), in_block=True)
            for op, coin in wallet.coins()
        ]

    async def wallet_send_to_address(
        self, address: bytes, amount_units: int, *, fee_per_kb_units: int = 0
    ) -> bytes:
        await self._ready()
        policy = FeePolicy(fee_per_kb=fee_per_kb_units)
        tx = self._wallet().build_and_sign(
            address, amount_units, policy, exclude=live_collaterals(self.registry)
        )
        return await self.submit_transaction(tx)

    async def _submit_signed(self, tx: Transaction) -> bytes:
        try:
            return await self.submit_transaction(tx)
        except BaseException:
            self._wallet().release(compute_txid(tx))
            raise

    async def wallet_register_masternode(self, request: RegistrationRequest) -> bytes:
        await self._ready()
        tx = build_registration(self._wallet(), self.registry, request)
        return await self._submit_signed(tx)

    async def wallet_update_masternode(self, request: UpdateRequest) -> bytes:
        await self._ready()
        tx = build_operator_update(self._wallet(), self.registry, request)
        return await self._submit_signed(tx)

    async def wallet_unlock_masternode(self, collateral: OutPoint) -> bytes:
        await self._ready()
        tx = build_unlock(self._wallet(), self.registry, collateral)
        return await self._submit_signed(tx)

    # ------------------------------------------------------------ wallet history (WalletNodeApi)

    async def wallet_addresses(self) -> frozenset[bytes]:
        await self._ready()
        return frozenset(self._wallet().addresses())

    async def wallet_transactions(self) -> list[WalletTransaction]:
        addresses = await self.wallet_addresses()
        found: list[WalletTransaction] = []
        for height, block_hash in enumerate(self.hashes):
            block = self.blocks[block_hash]
            time_ms = block.header.timestamp_ms
            for index, tx in enumerate(block.transactions):
                if is_wallet_transaction(tx, addresses):
                    txid = compute_txid(tx)
                    found.append(
                        WalletTransaction(
                            tx, txid, block_hash, height, index, time_ms, time_ms, True
                        )
                    )
        for txid, pooled in self.mempool.items():
            if is_wallet_transaction(pooled.tx, addresses):
                entry = pooled.entry
                found.append(
                    WalletTransaction(
                        pooled.tx, txid, None, None, None, None, entry.time_ms, entry.is_final
                    )
                )
        return found

    async def wallet_info(self) -> WalletInfo:
        await self._ready()
        wallet = self._wallet()
        return WalletInfo(
            name=wallet.path.name,
            fingerprint=wallet.fingerprint,
            key_count=wallet.key_count(),
            keys_left=MAX_KEYS - wallet.key_count(),
            pending_txids=tuple(sorted(wallet.pending_transactions())),
            history_depth_blocks=-1,
        )

    async def wallet_abandon(self, txid: bytes) -> None:
        await self._ready()
        wallet = self._wallet()
        if txid not in wallet.pending_transactions():
            raise UnknownWalletTransactionError(txid.hex())
        if txid in self.mempool or txid in self.tx_index:
            raise NotAbandonableError(txid.hex())
        wallet.release(txid)

    async def wallet_backup(self, destination: str) -> None:
        await self._ready()
        try:
            self._wallet().backup(destination)
        except (WalletExistsError, OSError) as exc:
            raise WalletBackupError(str(exc)) from None

    async def wallet_fund(
        self, outputs: Sequence[TxOutput], fee_per_kb_units: int, lock_time: int
    ) -> FundedTransaction:
        await self._ready()
        policy = FeePolicy(fee_per_kb=fee_per_kb_units)
        return self._wallet().fund_transaction(outputs, policy, lock_time=lock_time)

    async def wallet_sign(self, tx: Transaction) -> SignOutcome:
        await self._ready()
        return self._wallet().sign_transaction(tx)

    # ------------------------------------------------------------ control

    def get_uptime_s(self) -> int:
        return int(time.monotonic() - self.started_s)

    def request_stop(self) -> None:
        self.stop_requested = True


class _PoolView:
    """The chain's UTXO set with the mempool's spends and outputs applied."""

    def __init__(self, node: MemoryNode) -> None:
        self._node = node
        self._spent = node._spent_by_pool()

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        if outpoint in self._spent:
            return None
        return self._node._pool_coin(outpoint) or self._node.utxo.get_coin(outpoint)


@dataclass(frozen=True)
class ChainFacts:
    """What the tests need to know about the chain a `MemoryNode` holds."""

    genesis_hash: bytes
    block1_hash: bytes
    payment_tx: Transaction
    coinbase_tx: Transaction
    payer_change: OutPoint
    wallet_address: bytes


def build_node(wallet_dir: Path) -> tuple[MemoryNode, ChainFacts]:
    """A node at height 1 whose wallet (in `wallet_dir`) genesis funds.

    Genesis: allocations to PAYER (1,000 TIME) and to the wallet
    (200 TIME), two Bronze masternodes. Block 1: a coinbase paying the first
    masternode's reward address, and PAYER paying 600 TIME to PAYEE with
    its change back.
    """
    base = MINIMAL
    wallet = Wallet.create(wallet_dir / "wallet.json", WALLET_PASSWORD, base, kdf=FAST_KDF)
    wallet_address = wallet.new_address()
    spec = GenesisSpec(
        params=base,
        timestamp_ms=GENESIS_TIME_MS,
        allocations=((address_of(PAYER), PAYER_ALLOCATION), (wallet_address, WALLET_ALLOCATION)),
        masternodes=tuple(
            GenesisMasternode(
                tier=Tier.BRONZE,
                owner_key=owner.public_key,
                operator_key=operator.public_key,
                reward_address=address_of(owner),
                network_address=f"127.0.0.{i + 1}:24300".encode(),
            )
            for i, (owner, operator) in enumerate(zip(OWNERS, OPERATORS, strict=True))
        ),
    )
    state = build_genesis_state(spec)
    genesis = state.block
    genesis_hash = compute_block_hash(genesis.header)
    params = base.with_genesis(genesis_hash)
    utxo = MemoryUtxoSet()
    utxo.apply_delta(state.delta)
    registry = registry_from_genesis(genesis, params)

    allocation = OutPoint(compute_txid(genesis.transactions[0]), 0)
    payment = sign_tx(
        [(allocation, PAYER)],
        [(PAYMENT, address_of(PAYEE)), (PAYER_ALLOCATION - PAYMENT - FEE, address_of(PAYER))],
        params,
    )
    coinbase = Transaction(
        version=TX_VERSION,
        inputs=[],
        outputs=[TxOutput(amount=SUBSIDY + FEE, address=address_of(OWNERS[0]))],
        lock_time=1,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    transactions = [coinbase, payment]
    utxo_state = state.utxo_state
    _, delta = apply_block(transactions, 1, utxo, utxo_state, params)
    utxo.apply_delta(delta)
    tx_root, witness_root = compute_tx_roots(transactions)
    header = BlockHeader(
        version=BLOCK_VERSION,
        chain_id=params.chain_id,
        height=1,
        epoch=params.epoch_of(1),
        prev_hash=genesis_hash,
        timestamp_ms=BLOCK1_TIME_MS,
        proposer=OPERATORS[0].public_key,
        tx_root=tx_root,
        witness_root=witness_root,
        prev_certificate_hash=compute_certificate_hash(None),
        evidence_hash=compute_evidence_hash([]),
        attestations_hash=compute_attestations_hash([]),
        utxo_commitment=utxo_state.digest(),
        next_voting_set_hash=registry.voting_set.compute_hash(),
    )
    block1 = Block(
        header=header,
        transactions=transactions,
        prev_certificate=None,
        evidence=[],
        attestations=[],
    )
    block1_hash = compute_block_hash(header)
    node = MemoryNode(
        params=params,
        blocks={genesis_hash: genesis, block1_hash: block1},
        hashes=[genesis_hash, block1_hash],
        utxo=utxo,
        utxo_commitment=header.utxo_commitment,
        registry=registry,
        wallet=wallet,
    )
    for block_hash in node.hashes:
        for tx in node.blocks[block_hash].transactions:
            node.tx_index[compute_txid(tx)] = block_hash
    wallet.scan(utxo.coins.items())
    chain = ChainFacts(
        genesis_hash=genesis_hash,
        block1_hash=block1_hash,
        payment_tx=payment,
        coinbase_tx=coinbase,
        payer_change=OutPoint(compute_txid(payment), 1),
        wallet_address=wallet_address,
    )
    return node, chain


def basic_auth(user: str, password: str) -> str:
    """An `Authorization` header value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class HttpReply:
    """A reply as the tests see it: status, raw body, JSON (fractions as Decimal)."""

    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.body, parse_float=Decimal)


class RpcHttp:
    """Posts raw JSON-RPC bodies to the live server."""

    def __init__(self, session: aiohttp.ClientSession, url: str, authorization: str) -> None:
        self.session = session
        self.url = url
        self.authorization = authorization
        self._next_id = 0

    async def post(
        self, payload: object, *, authorization: str | None = None, method: str = "POST"
    ) -> HttpReply:
        body = payload if isinstance(payload, bytes) else _ENCODER.encode(payload)
        headers = {"Content-Type": "application/json"}
        auth = self.authorization if authorization is None else authorization
        if auth:
            headers["Authorization"] = auth
        async with self.session.request(method, self.url, data=body, headers=headers) as response:
            return HttpReply(response.status, await response.read(), dict(response.headers))

    async def request(self, method: str, *params: object) -> dict[str, Any]:
        self._next_id += 1
        reply = await self.post(
            {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": list(params)}
        )
        assert reply.status == 200, reply.body
        obj: dict[str, Any] = reply.json
        assert obj["id"] == self._next_id
        return obj

    async def call(self, method: str, *params: object) -> Any:
        """The result of a successful 2.0 call."""
        obj = await self.request(method, *params)
        assert "error" not in obj, obj
        return obj["result"]

    async def error(self, method: str, *params: object) -> dict[str, Any]:
        """The error object of a failing 2.0 call."""
        obj = await self.request(method, *params)
        assert "result" not in obj, obj
        error: dict[str, Any] = obj["error"]
        return error
