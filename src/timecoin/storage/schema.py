"""Every key the node stores: one-byte prefixes and the key builders.

This is the only module that knows how keys are laid out. A key is a
one-byte prefix naming its key space, followed by the rest of the key as
described in `KEY_SPACES` (and in docs/spec/storage.md, which uses the same
names). Integers in keys are big-endian so that keys sort numerically:
heights, WAL and final-transaction sequence numbers iterate in order.

Values are the canonical encodings of `timecoin.types` objects (see
`timecoin.storage.chainstore`), except the fixed-width fields noted below.
Changing any layout here requires a new `SCHEMA_VERSION`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from timecoin.encoding import u64be
from timecoin.storage.kv import StoreCorruptError
from timecoin.types import OutPoint, encode_outpoint_key

SCHEMA_VERSION: Final = 5
"""Version of this key layout, stored under `META_SCHEMA_VERSION_KEY` (2: the
`reported_lock` key space and blocks with epoch reports, ADR 0004; 3: blocks
carry the reports deduplicated, ADR 0006; 4: the chain state after the tip,
`chain_state`, `voting_set` and `masternode`, ADR 0010; 5: coin records
end with a check value, ADR 0010)."""

HASH_BYTES: Final = 32
ADDRESS_BYTES: Final = 20
OUTPOINT_KEY_BYTES: Final = 36
MAX_U64: Final = 2**63 - 1
"""Largest height or sequence number (the encoding caps integers at 2**63 - 1)."""
MAX_PEER_ADDRESS_BYTES: Final = 64
MAX_NAME_BYTES: Final = 64

# Prefixes, one byte each. Chain data in 0x00-0x0F, node-local state above.
META_PREFIX: Final = b"\x00"
BLOCK_PREFIX: Final = b"\x01"
HEADER_PREFIX: Final = b"\x02"
HEIGHT_PREFIX: Final = b"\x03"
UTXO_PREFIX: Final = b"\x04"
UNDO_PREFIX: Final = b"\x05"
TIP_KEY: Final = b"\x06"
UTXO_STATE_KEY: Final = b"\x07"
UTXO_COUNT_KEY: Final = b"\x08"
REPORTED_LOCK_PREFIX: Final = b"\x09"
CHAIN_STATE_KEY: Final = b"\x0a"
VOTING_SET_PREFIX: Final = b"\x0b"
TX_INDEX_PREFIX: Final = b"\x0c"
SPENT_INDEX_PREFIX: Final = b"\x0d"
ADDRESS_INDEX_PREFIX: Final = b"\x0e"
INDEX_STATE_PREFIX: Final = b"\x0f"
MASTERNODE_PREFIX: Final = b"\x10"
CONSENSUS_WAL_PREFIX: Final = b"\x11"
FINAL_TX_PREFIX: Final = b"\x12"
FINAL_TXID_PREFIX: Final = b"\x13"
PEER_PREFIX: Final = b"\x14"
WALLET_PREFIX: Final = b"\x15"
FINALITY_WAL_PREFIX: Final = b"\x16"
NODE_STATE_PREFIX: Final = b"\x17"
WALLET_COIN_PREFIX: Final = b"\x18"
BAN_PREFIX: Final = b"\x19"

META_SCHEMA_VERSION_KEY: Final = META_PREFIX + b"schema_version"
META_CHAIN_ID_KEY: Final = META_PREFIX + b"chain_id"
META_GENESIS_HASH_KEY: Final = META_PREFIX + b"genesis_hash"


@dataclass(frozen=True, slots=True)
class KeySpace:
    """One key space: its name, prefix, the rest of its key, and its value."""

    name: str
    prefix: bytes
    key_suffix: str
    value: str


KEY_SPACES: Final[tuple[KeySpace, ...]] = (
    KeySpace(
        "meta",
        META_PREFIX,
        "name, ASCII: `schema_version`, `chain_id`, `genesis_hash`",
        "schema_version: u32 BE; chain_id: u32 BE; genesis_hash: 32 bytes",
    ),
    KeySpace("block", BLOCK_PREFIX, "block hash (32)", "encode(Block)"),
    KeySpace("header", HEADER_PREFIX, "block hash (32)", "encode(BlockHeader)"),
    KeySpace("height", HEIGHT_PREFIX, "height, u64 BE (8)", "block hash (32) on the main chain"),
    KeySpace(
        "utxo",
        UTXO_PREFIX,
        "encode_outpoint_key: txid (32) + output index u32 BE (4)",
        "encode(Coin) + check value: BLAKE2b-64 of key and encode(Coin) (8)",
    ),
    KeySpace("undo", UNDO_PREFIX, "block hash (32)", "encode(BlockUndo)"),
    KeySpace("tip", TIP_KEY, "none", "height u64 BE (8) + block hash (32)"),
    KeySpace("utxo_state", UTXO_STATE_KEY, "none", "MuHash3072 state after the tip (384)"),
    KeySpace("utxo_count", UTXO_COUNT_KEY, "none", "number of coins, u64 BE (8)"),
    KeySpace(
        "reported_lock",
        REPORTED_LOCK_PREFIX,
        "encode_outpoint_key: txid (32) + output index u32 BE (4)",
        "locked txid (32), or empty for a lock to no transaction (ADR 0004)",
    ),
    KeySpace(
        "chain_state",
        CHAIN_STATE_KEY,
        "none",
        "encode(StateHead): the block the chain state is at, registry head (ADR 0010)",
    ),
    KeySpace(
        "voting_set",
        VOTING_SET_PREFIX,
        "epoch, u64 BE (8)",
        "encode(VotingSet) of that epoch",
    ),
    KeySpace(
        "tx_index",
        TX_INDEX_PREFIX,
        "txid (32)",
        "height u64 BE (8) + position in the block u32 BE (4)",
    ),
    KeySpace(
        "spent_index",
        SPENT_INDEX_PREFIX,
        "encode_outpoint_key: txid (32) + output index u32 BE (4)",
        "spending txid (32) + input index u32 BE (4) + height u64 BE (8)",
    ),
    KeySpace(
        "address_index",
        ADDRESS_INDEX_PREFIX,
        "address (20) + height u64 BE (8) + position u32 BE (4) + kind (1: 0 funding, "
        "1 spending) + output or input index u32 BE (4)",
        "txid (32) + amount u64 BE (8), then for spending the spent outpoint key (36)",
    ),
    KeySpace(
        "index_state",
        INDEX_STATE_PREFIX,
        "index name, ASCII: `txindex`, `spentindex`, `addressindex`",
        "height u64 BE (8) + block hash (32) of the last block the index holds",
    ),
    KeySpace(
        "masternode",
        MASTERNODE_PREFIX,
        "masternode id = registration txid (32)",
        "encode(MasternodeEntry): registry entry after the chain state's block",
    ),
    KeySpace(
        "consensus_wal",
        CONSENSUS_WAL_PREFIX,
        "sequence number, u64 BE (8)",
        "WAL record (encoding owned by timecoin.consensus)",
    ),
    KeySpace(
        "final_tx",
        FINAL_TX_PREFIX,
        "sequence number, u64 BE (8)",
        "final transaction and its finality proof, not yet in a block",
    ),
    KeySpace(
        "final_txid",
        FINAL_TXID_PREFIX,
        "txid (32)",
        "sequence number of its `final_tx` entry, u64 BE (8)",
    ),
    KeySpace(
        "peer",
        PEER_PREFIX,
        "network address, `host:port` UTF-8 (1 to 64)",
        "address book record (encoding owned by timecoin.p2p)",
    ),
    KeySpace(
        "wallet",
        WALLET_PREFIX,
        "name, ASCII (1 to 64)",
        "wallet bookkeeping, never keys (encoding owned by timecoin.wallet)",
    ),
    KeySpace(
        "finality_wal",
        FINALITY_WAL_PREFIX,
        "sequence number, u64 BE (8)",
        "finality WAL record (encoding owned by timecoin.consensus.finality_wal)",
    ),
    KeySpace(
        "node_state",
        NODE_STATE_PREFIX,
        "name, ASCII (1 to 64): `heartbeat_sequence`",
        "heartbeat_sequence: the last heartbeat sequence signed, u64 BE (8)",
    ),
    KeySpace(
        "wallet_coin",
        WALLET_COIN_PREFIX,
        "wallet fingerprint (8) + encode_outpoint_key (36)",
        "empty: a chain coin paying the wallet at its scan height (`wallet` `scan/FP`)",
    ),
    KeySpace(
        "ban",
        BAN_PREFIX,
        "kind (1: 0 host, 1 node key) + the host or the node key in hex, UTF-8 (1 to 64)",
        "expiry, Unix time in ms u64 BE (8) + reason, UTF-8 (0 to 64)",
    ),
)
"""The whole schema, in prefix order; docs/spec/storage.md has the same table."""


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_BYTES:
        raise ValueError(f"{what}: expected {HASH_BYTES} bytes, got {len(value)}")


def _check_u64(what: str, value: int) -> None:
    if not 0 <= value <= MAX_U64:
        raise ValueError(f"{what}: {value} out of range 0..{MAX_U64}")


def meta_key(name: bytes) -> bytes:
    """The key of meta entry `name` (ASCII, 1 to MAX_NAME_BYTES bytes)."""
    if not 0 < len(name) <= MAX_NAME_BYTES or not name.isascii():
        raise ValueError(f"meta name: expected 1 to {MAX_NAME_BYTES} ASCII bytes, got {name!r}")
    return META_PREFIX + name


def block_key(block_hash: bytes) -> bytes:
    """The key of a block body by its hash."""
    _check_hash("block hash", block_hash)
    return BLOCK_PREFIX + block_hash


def header_key(block_hash: bytes) -> bytes:
    """The key of a block header by its block hash."""
    _check_hash("block hash", block_hash)
    return HEADER_PREFIX + block_hash


def height_key(height: int) -> bytes:
    """The key of the main-chain block hash at `height` (8-byte big-endian height)."""
    _check_u64("height", height)
    return HEIGHT_PREFIX + u64be(height)


def utxo_key(outpoint: OutPoint) -> bytes:
    """The key of the coin at `outpoint`: prefix + txid + big-endian output index."""
    _check_hash("outpoint txid", outpoint.txid)
    return UTXO_PREFIX + encode_outpoint_key(outpoint)


def reported_lock_key(outpoint: OutPoint) -> bytes:
    """The key of the reported lock on `outpoint` (chain state, ADR 0004)."""
    _check_hash("outpoint txid", outpoint.txid)
    return REPORTED_LOCK_PREFIX + encode_outpoint_key(outpoint)


def parse_reported_lock_key(key: bytes) -> OutPoint:
    """The outpoint of a stored reported-lock key; StoreCorruptError if it is not one."""
    if len(key) != 1 + OUTPOINT_KEY_BYTES or key[:1] != REPORTED_LOCK_PREFIX:
        raise StoreCorruptError(f"not a reported-lock key: {key.hex()}")
    return OutPoint(txid=key[1:33], index=int.from_bytes(key[33:], "big"))


def voting_set_key(epoch: int) -> bytes:
    """The key of the stored voting set of `epoch`."""
    _check_u64("epoch", epoch)
    return VOTING_SET_PREFIX + u64be(epoch)


def tx_index_key(txid: bytes) -> bytes:
    """The key of the tx index entry of `txid`."""
    _check_hash("txid", txid)
    return TX_INDEX_PREFIX + txid


def spent_index_key(outpoint: OutPoint) -> bytes:
    """The key of the spent index entry of `outpoint`."""
    _check_hash("outpoint txid", outpoint.txid)
    return SPENT_INDEX_PREFIX + encode_outpoint_key(outpoint)


def address_index_prefix(address: bytes) -> bytes:
    """The prefix of every address index entry of `address` (20 bytes)."""
    if len(address) != ADDRESS_BYTES:
        raise ValueError(f"address: expected {ADDRESS_BYTES} bytes, got {len(address)}")
    return ADDRESS_INDEX_PREFIX + address


def index_state_key(name: bytes) -> bytes:
    """The key of the state of index `name` (ASCII)."""
    if not 0 < len(name) <= MAX_NAME_BYTES or not name.isascii():
        raise ValueError(f"index name: expected 1 to {MAX_NAME_BYTES} ASCII bytes, got {name!r}")
    return INDEX_STATE_PREFIX + name


def undo_key(block_hash: bytes) -> bytes:
    """The key of a main-chain block's undo data."""
    _check_hash("block hash", block_hash)
    return UNDO_PREFIX + block_hash


def masternode_key(masternode_id: bytes) -> bytes:
    """The key of a masternode registry entry by masternode id (its registration txid)."""
    _check_hash("masternode id", masternode_id)
    return MASTERNODE_PREFIX + masternode_id


def consensus_wal_key(sequence: int) -> bytes:
    """The key of consensus WAL record `sequence` (append-only, sorts in order)."""
    _check_u64("WAL sequence", sequence)
    return CONSENSUS_WAL_PREFIX + u64be(sequence)


def final_tx_key(sequence: int) -> bytes:
    """The key of the final-but-unblocked transaction with this sequence number."""
    _check_u64("final tx sequence", sequence)
    return FINAL_TX_PREFIX + u64be(sequence)


def final_txid_key(txid: bytes) -> bytes:
    """The key of the index from a final transaction's txid to its sequence number."""
    _check_hash("txid", txid)
    return FINAL_TXID_PREFIX + txid


def finality_wal_key(sequence: int) -> bytes:
    """The key of finality WAL record number `sequence`."""
    _check_u64("finality WAL sequence", sequence)
    return FINALITY_WAL_PREFIX + u64be(sequence)


def node_state_key(name: bytes) -> bytes:
    """The key of node-local state entry `name` (ASCII)."""
    if not 0 < len(name) <= MAX_NAME_BYTES or not name.isascii():
        raise ValueError(
            f"node state name: expected 1 to {MAX_NAME_BYTES} ASCII bytes, got {name!r}"
        )
    return NODE_STATE_PREFIX + name


def wallet_coin_key(fingerprint: bytes, outpoint: OutPoint) -> bytes:
    """The key of a wallet's chain coin: fingerprint (8 bytes) + outpoint."""
    if len(fingerprint) != 8:
        raise ValueError(f"wallet fingerprint: expected 8 bytes, got {len(fingerprint)}")
    _check_hash("outpoint txid", outpoint.txid)
    return WALLET_COIN_PREFIX + fingerprint + encode_outpoint_key(outpoint)


def ban_key(kind: int, value: bytes) -> bytes:
    """The key of a stored ban: kind (0 host, 1 node key) + the banned value."""
    if kind not in (0, 1) or not 0 < len(value) <= MAX_PEER_ADDRESS_BYTES:
        raise ValueError(f"ban: kind {kind}, {len(value)} bytes of value")
    return BAN_PREFIX + bytes([kind]) + value


def peer_key(address: bytes) -> bytes:
    """The key of an address book entry (`host:port` in UTF-8)."""
    if not 0 < len(address) <= MAX_PEER_ADDRESS_BYTES:
        raise ValueError(
            f"peer address: expected 1 to {MAX_PEER_ADDRESS_BYTES} bytes, got {len(address)}"
        )
    return PEER_PREFIX + address


def wallet_key(name: bytes) -> bytes:
    """The key of wallet bookkeeping entry `name` (ASCII)."""
    if not 0 < len(name) <= MAX_NAME_BYTES or not name.isascii():
        raise ValueError(f"wallet name: expected 1 to {MAX_NAME_BYTES} ASCII bytes, got {name!r}")
    return WALLET_PREFIX + name


def parse_utxo_key(key: bytes) -> OutPoint:
    """The outpoint of a stored UTXO key; StoreCorruptError if it is not one."""
    if len(key) != 1 + OUTPOINT_KEY_BYTES or key[:1] != UTXO_PREFIX:
        raise StoreCorruptError(f"not a UTXO key: {key.hex()}")
    return OutPoint(txid=key[1:33], index=int.from_bytes(key[33:], "big"))


def parse_sequence_key(prefix: bytes, key: bytes) -> int:
    """The sequence number (or height) of a `prefix + u64 BE` key; StoreCorruptError otherwise."""
    if len(key) != len(prefix) + 8 or not key.startswith(prefix):
        raise StoreCorruptError(f"not a {prefix.hex()}-prefixed sequence key: {key.hex()}")
    return int.from_bytes(key[len(prefix) :], "big")
