"""What the RPC layer needs from a node: the `NodeApi` protocol.

The RPC server never imports the node. The node (the composition root)
implements `NodeApi` over its chain store, mempool, peers, consensus state
and wallet, and hands it to `RpcServer`. Every method is a coroutine run on
the node's event loop; an implementation that reads disk should do so in a
thread pool so the loop stays free.

Values cross the boundary as `timecoin.types` objects and the small frozen
records below (base units, milliseconds and bytes, units last in names);
`timecoin.rpc.jsonshape` turns them into bitcoind-shaped JSON.

Errors an implementation raises and what the client sees:

- `WarmingUpError` from any method: -28 (the node is still starting).
- `submit_transaction` and `wallet_send_to_address`: any `TimecoinError`
  (`InvalidTransaction` from the ledger rules, mempool rejections, ...)
  with its reject code: -25 for a missing input, -26 otherwise;
  `TransactionAlreadyInChainError`: -27.
- wallet methods: `WalletUnavailableError` (-18), the wallet's own
  `WalletError`s (`InsufficientFundsError` -6, others -4); the masternode
  methods' `MasternodeRequestError` -8 (bad value), -5 (not the wallet's
  or not found).
- `add_node`: `PeerAlreadyAddedError` (-23), `PeerNotAddedError` (-24),
  `InvalidPeerAddressError` (-8).
- `StoreDamagedError` from any method: -20 (a stored record failed its
  check; the node stops).
- any other `NodeApiError`: -1 with its message. Any other exception is a
  bug: -32603 and the traceback in the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from timecoin.masternode import RegistryState
from timecoin.params import ChainParams
from timecoin.storage.indexes import AddressEvent, IndexState, Spender
from timecoin.types import (
    Block,
    BlockHeader,
    Coin,
    FinalityProof,
    OutPoint,
    TimecoinError,
    Transaction,
    VotingSet,
)
from timecoin.wallet.masternode import RegistrationRequest, UpdateRequest

REJECT_ALREADY_IN_CHAIN = "already-in-chain"

AddNodeCommand = Literal["add", "remove", "onetry"]
"""`addnode` commands: keep a peer connected, forget it, or dial it once."""

ConsensusStep = Literal["propose", "prevote", "precommit", "commit"]
"""The step of the block consensus round in progress."""

FinalityStatusName = Literal["unknown", "pending", "final", "conflicted", "confirmed"]
"""What `gettransactionfinality` reports for a transaction."""


class NodeApiError(Exception):
    """A node operation that cannot be done; the message is shown to the RPC caller."""


class WarmingUpError(NodeApiError):
    """The node is starting (loading the chain, replaying the WAL): retry later."""


class WalletUnavailableError(NodeApiError):
    """The node runs without a wallet, or the wallet is not open."""


class PeerAlreadyAddedError(NodeApiError):
    """`addnode add` of a peer already in the added list."""


class PeerNotAddedError(NodeApiError):
    """`addnode remove` of a peer that was never added."""


class InvalidPeerAddressError(NodeApiError):
    """A peer address that is not a valid `host:port`."""


class StoreDamagedError(NodeApiError):
    """A stored record the answer needs failed its check: it is not served."""


@dataclass(frozen=True, slots=True)
class BanInfo:
    """One ban: the IP address or node key (hex), its expiry (Unix seconds)
    and the reason."""

    target: str
    is_node_key: bool
    banned_until_s: int
    reason: str


class IndexDisabledError(NodeApiError):
    """The answer needs an index this node does not keep (its config)."""


class TransactionAlreadyInChainError(TimecoinError):
    """A submitted transaction that a block already contains."""

    def __init__(self, message: str) -> None:
        super().__init__(REJECT_ALREADY_IN_CHAIN, message)


@dataclass(frozen=True, slots=True)
class ChainState:
    """The active chain as `getblockchaininfo` reports it.

    - `tip_hash`, `tip_header`: the last committed block (its height is
      `tip_header.height`);
    - `best_header_height`: the highest header known (ahead of the tip while
      syncing);
    - `verification_progress`: 0.0 to 1.0, the node's estimate of how much
      of the chain it has validated;
    - `initial_block_download`: True while catching up;
    - `size_on_disk_bytes`: bytes used by the chain store.
    """

    tip_hash: bytes
    tip_header: BlockHeader
    best_header_height: int
    verification_progress: float
    initial_block_download: bool
    size_on_disk_bytes: int
    best_known_height: int = -1
    """The highest height peers reported or headers proved (-1: unknown)."""
    warnings: tuple[str, ...] = ()
    """What an operator must know about the chain now (clock, stalls, a full disk)."""

    @property
    def tip_height(self) -> int:
        """The height of the tip."""
        return self.tip_header.height


@dataclass(frozen=True, slots=True)
class TransactionLookup:
    """A transaction found by txid: in a block (`block_hash`) or not yet (None).

    `is_final` is True for a transaction in a block, and for one outside
    blocks whose finality proof (> 2/3 of the voting weight) the node holds.
    """

    tx: Transaction
    block_hash: bytes | None
    is_final: bool


@dataclass(frozen=True, slots=True)
class UtxoLookup:
    """An unspent coin; `in_block` is False for an output of a transaction
    not yet in a block (only returned when the mempool is included)."""

    coin: Coin
    in_block: bool


@dataclass(frozen=True, slots=True)
class UtxoSetInfo:
    """Statistics of the UTXO set at block `height` (`best_block_hash`).

    `commitment` is the MuHash3072 digest the header commits to;
    `disk_size_bytes` is None when the store cannot tell.
    """

    height: int
    best_block_hash: bytes
    txout_count: int
    total_amount_units: int
    commitment: bytes
    disk_size_bytes: int | None


@dataclass(frozen=True, slots=True)
class MempoolInfo:
    """The pool of transactions not yet in a block.

    `final_count` counts those with a finality proof; `max_bytes` is the
    pool's limit and `min_fee_per_kb_units` the fee rate below which it
    rejects transactions now (the configured minimum, or higher when full).
    """

    loaded: bool
    tx_count: int
    total_bytes: int
    usage_bytes: int
    total_fee_units: int
    max_bytes: int
    min_fee_per_kb_units: int
    min_relay_fee_per_kb_units: int
    final_count: int


@dataclass(frozen=True, slots=True)
class MempoolEntry:
    """One pooled transaction: when it arrived (`time_ms`, `height` = the tip
    then), its fee, the pooled transactions it spends from (`depends`) and
    whether it is final."""

    txid: bytes
    size_bytes: int
    fee_units: int
    time_ms: int
    height: int
    depends: tuple[bytes, ...]
    is_final: bool


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    """The node's software and network state.

    `version` is an integer like bitcoind's (10000 * major + 100 * minor +
    patch), `subversion` the user agent sent to peers, `local_addresses` the
    (host, port) pairs the node advertises, `relay_fee_per_kb_units` the
    minimum fee rate it relays.
    """

    version: int
    subversion: str
    protocol_version: int
    network_active: bool
    connections_in: int
    connections_out: int
    local_addresses: tuple[tuple[str, int], ...]
    relay_fee_per_kb_units: int
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """One connected peer.

    Times are milliseconds since the Unix epoch (0: never); `ping_ms` is the
    last round trip (None before the first pong); `node_key` is the peer's
    handshake identity key and `masternode_id` its registration txid when it
    is a known masternode; `connection_type` is "inbound",
    "outbound-full-relay" or "manual" (added with `addnode`).
    """

    peer_id: int
    address: str
    local_address: str | None
    inbound: bool
    connection_type: str
    connected_ms: int
    last_send_ms: int
    last_recv_ms: int
    bytes_sent: int
    bytes_received: int
    ping_ms: float | None
    protocol_version: int
    user_agent: str
    start_height: int
    synced_height: int
    node_key: bytes
    masternode_id: bytes | None


@dataclass(frozen=True, slots=True)
class ConsensusInfo:
    """The block consensus state machine as it stands.

    `height` and `round` are being decided, `step` is the round's step,
    `locked_round` and `valid_round` are -1 when unset, `proposer` is the
    operator key expected to propose this round (None when unknown),
    `voting_set` is the committee of `epoch`, and `local_operator_key` is
    this node's operator key (None for a node that is not a masternode).
    """

    height: int
    round: int
    step: ConsensusStep
    epoch: int
    locked_round: int
    valid_round: int
    proposer: bytes | None
    voting_set: VotingSet
    local_operator_key: bytes | None
    fork_alert: str | None = None
    """Set when two valid certificates for different blocks at one height were
    seen (or a certified block broke a rule): block production is halted."""


@dataclass(frozen=True, slots=True)
class LocalMasternode:
    """This node's masternode identity.

    `masternode_id` is None until the registration is known;
    `last_heartbeat_ms` is when the node last sent a heartbeat (None: never).
    """

    operator_key: bytes
    masternode_id: bytes | None
    last_heartbeat_ms: int | None


@dataclass(frozen=True, slots=True)
class TransactionFinality:
    """The finality status of one transaction as this node sees it.

    - `status`: unknown (never seen, or forgotten), pending (known, short of
      a quorum), final (a finality proof is held, `proof`), conflicted (a
      block or a final transaction spends one of its inputs, or the votes
      for conflicting transactions leave it short of a quorum for good:
      `input_locked`), confirmed (in block `block_hash` at `height`);
    - `epoch`: the current epoch; `vote_weight_units` the weight of that
      epoch's votes for it, `quorum_weight_units` what a quorum needs of
      `total_weight_units`; `voted`: this node voted for it;
    - `conflicting_txids`: known transactions spending one of its inputs.
    """

    txid: bytes
    status: FinalityStatusName
    epoch: int
    vote_weight_units: int = 0
    quorum_weight_units: int = 0
    total_weight_units: int = 0
    voted: bool = False
    proof: FinalityProof | None = None
    block_hash: bytes | None = None
    height: int | None = None
    conflicting_txids: tuple[bytes, ...] = ()
    input_locked: bool = False

    @property
    def is_settled(self) -> bool:
        """Final, confirmed or conflicted: what `waittransactionfinality` waits for."""
        return self.status in ("final", "confirmed", "conflicted")


@dataclass(frozen=True, slots=True)
class HeartbeatEntry:
    """One heartbeat this node signed: sequence, time, reward window, the
    witnesses drawn for it, attestations gathered, and the height of the
    block that carried it (None: not yet)."""

    sequence: int
    timestamp_ms: int
    window: int
    witnesses: tuple[bytes, ...]
    attestations: int
    included_height: int | None


@dataclass(frozen=True, slots=True)
class AttestationStats:
    """Heartbeat and attestation counters since start, with the chain's view
    of this masternode (`last_*_on_chain`: the registry's record)."""

    masternode_id: bytes | None
    heartbeats_sent: int
    heartbeats_included: int
    heartbeats_received: int
    invalid_heartbeats: int
    attestations_given: int
    attestations_received: int
    last_included_height: int | None
    pooled_heartbeats: int
    last_sequence_on_chain: int | None
    last_window_on_chain: int | None


@dataclass(frozen=True, slots=True)
class WalletBalance:
    """The wallet's coins: spendable, and locked by signed pending transactions."""

    spendable_units: int
    locked_units: int


@dataclass(frozen=True, slots=True)
class WalletCoin:
    """A coin of the wallet; `locked` when a pending transaction spends it,
    `in_block` False for an output of a final transaction not yet in a block."""

    outpoint: OutPoint
    coin: Coin
    locked: bool
    in_block: bool


class NodeApi(Protocol):
    """The node operations behind the RPC methods (all but two are coroutines)."""

    @property
    def params(self) -> ChainParams:
        """The chain parameters of the node's network."""
        ...

    async def get_chain_state(self) -> ChainState:
        """The tip and sync progress."""
        ...

    async def get_block_hash(self, height: int) -> bytes | None:
        """The hash of the active chain's block at `height`, or None above the tip."""
        ...

    async def get_block(self, block_hash: bytes) -> Block | None:
        """The stored block with `block_hash`, or None."""
        ...

    async def get_header(self, block_hash: bytes) -> BlockHeader | None:
        """The stored header with `block_hash`, or None."""
        ...

    async def verify_chain(self, blocks: int) -> bool:
        """Check the last `blocks` stored main-chain blocks (0: all) against
        their hashes; False when one is damaged (the node then stops)."""
        ...

    async def get_transaction(self, txid: bytes) -> TransactionLookup | None:
        """The transaction `txid` from the mempool or the chain's index, or None."""
        ...

    async def get_coin(self, outpoint: OutPoint, *, include_mempool: bool) -> UtxoLookup | None:
        """The unspent coin at `outpoint`, or None.

        With `include_mempool`, a coin spent by a pooled transaction is None
        and outputs of pooled transactions are found (`in_block` False).
        """
        ...

    async def get_utxo_set_info(self) -> UtxoSetInfo:
        """Statistics of the UTXO set at the tip (may scan the set: slow)."""
        ...

    async def wallet_rescan(self, start_height: int, stop_height: int | None) -> tuple[int, int]:
        """Read blocks `start_height`..`stop_height` (None: the tip) again for
        coins of the wallet; return the heights read. Raises
        WalletUnavailableError."""
        ...

    async def disconnect_node(self, address: str) -> int:
        """Close the connections with "host:port" (remote or advertised
        address); return how many. Raises InvalidPeerAddressError."""
        ...

    def list_banned(self) -> list[BanInfo]:
        """The current bans, soonest expiry first."""
        ...

    async def set_ban(self, target: str, add: bool, until_s: float | None) -> bool:
        """Ban (`add`) an IP address or a node key (64 hex digits) until Unix
        time `until_s` (None: the default ban time), or lift its ban; return
        whether a ban was lifted (for a removal). Raises
        InvalidPeerAddressError for a target that is neither."""
        ...

    async def clear_banned(self) -> int:
        """Lift every ban; return how many."""
        ...

    # The index read protocol (docs/spec/storage.md, "Indexes"): what the
    # RPC, REST and explorer layers read the block indexes through.

    async def get_index_info(self) -> list[IndexState]:
        """Every index: whether it is kept, and the last block it holds."""
        ...

    async def get_spender(self, outpoint: OutPoint) -> Spender | None:
        """The block transaction that spent `outpoint`, or None (unspent or
        unknown). Raises IndexDisabledError without the spent index."""
        ...

    async def get_address_events(
        self, address: bytes, start_height: int, limit: int
    ) -> list[AddressEvent]:
        """The history of `address` from `start_height`, in chain order, at
        most `limit` events. Raises IndexDisabledError without the address
        index."""
        ...

    async def get_mempool_info(self) -> MempoolInfo:
        """Size and limits of the mempool."""
        ...

    async def get_mempool_entries(self) -> list[MempoolEntry]:
        """Every pooled transaction."""
        ...

    async def submit_transaction(self, tx: Transaction) -> bytes:
        """Validate `tx`, add it to the mempool, announce it; return its txid.

        Resubmitting a pooled transaction returns its txid again. Raises a
        `TimecoinError` with the reject code of the broken rule, or
        `TransactionAlreadyInChainError`.
        """
        ...

    async def get_transaction_finality(self, txid: bytes) -> TransactionFinality:
        """The finality status of `txid` (never raises for an unknown txid)."""
        ...

    async def wait_transaction_finality(self, txid: bytes, timeout_s: float) -> TransactionFinality:
        """Wait up to `timeout_s` for `txid` to be final, confirmed or
        conflicted; its status then (or at the timeout). A final status is
        durable: the node reports it again after a restart."""
        ...

    async def get_heartbeat_history(self, count: int) -> list[HeartbeatEntry]:
        """This node's last `count` heartbeats, oldest first."""
        ...

    async def get_attestation_stats(self) -> AttestationStats:
        """Heartbeat and attestation counters."""
        ...

    async def get_network_info(self) -> NetworkInfo:
        """Software version and connection counts."""
        ...

    async def get_peers(self) -> list[PeerInfo]:
        """Every connected peer."""
        ...

    async def add_node(self, address: str, command: AddNodeCommand) -> None:
        """Add (keep connected), remove, or dial once the peer `address` ("host:port").

        Raises PeerAlreadyAddedError, PeerNotAddedError, InvalidPeerAddressError.
        """
        ...

    async def get_consensus_info(self) -> ConsensusInfo:
        """The block consensus state."""
        ...

    async def get_masternode_registry(self) -> RegistryState:
        """The masternode registry after the tip."""
        ...

    async def get_local_masternode(self) -> LocalMasternode | None:
        """This node's masternode identity, or None when it is not a masternode."""
        ...

    async def wallet_new_address(self) -> bytes:
        """Derive a new receiving address (20 bytes) and save it durably."""
        ...

    async def wallet_get_balance(self) -> WalletBalance:
        """The wallet's balances."""
        ...

    async def wallet_list_unspent(self) -> list[WalletCoin]:
        """Every coin the wallet owns."""
        ...

    async def wallet_send_to_address(
        self, address: bytes, amount_units: int, *, fee_per_kb_units: int = 0
    ) -> bytes:
        """Build, sign and submit a payment of `amount_units` to `address`; return its txid.

        The fee is the chain's minimum, or `fee_per_kb_units` per 1000 bytes
        when that is more.

        Raises the wallet's errors (InsufficientFundsError, ...) and, if the
        node rejects the signed transaction, the errors of `submit_transaction`.
        """
        ...

    async def wallet_register_masternode(self, request: RegistrationRequest) -> bytes:
        """Build, sign and submit the registration `request` asks for; its txid
        (the masternode id).

        Raises MasternodeRequestError before anything is signed, the wallet's
        errors, and the errors of `submit_transaction`.
        """
        ...

    async def wallet_update_masternode(self, request: UpdateRequest) -> bytes:
        """Build, sign (as the owner) and submit an operator update; its txid.

        Raises as `wallet_register_masternode`.
        """
        ...

    async def wallet_unlock_masternode(self, collateral: OutPoint) -> bytes:
        """Spend the collateral `collateral` back to its owner; the txid.

        Raises as `wallet_register_masternode`.
        """
        ...

    def get_uptime_s(self) -> int:
        """Seconds since the node started."""
        ...

    def request_stop(self) -> None:
        """Begin a graceful shutdown and return at once.

        The node stops the RPC server after this call's reply has been sent
        (`RpcServer.stop` lets in-flight requests finish).
        """
        ...
