"""Esplora's JSON shapes for TimeCoin's blocks, transactions and addresses.

Pure functions from `timecoin.types` objects and `source` records to JSON
values (amounts in base units, as Esplora's satoshis; times in seconds).
Where TimeCoin differs from Bitcoin, the field keeps Esplora's name and
type and docs/rest.md says what it holds: an output's script is its
20-byte address payload (`scriptpubkey_type` "ed25519_keyhash"), an input's
witness is its signature, and TimeCoin adds `public_key` to inputs and
`final` to statuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from timecoin.crypto import address_from_public_key, encode_address
from timecoin.encoding import encode
from timecoin.explorer.source import FoundTransaction, Placement, PooledTransaction
from timecoin.masternode import MasternodeEntry, RegistryState, is_active
from timecoin.params import ChainParams, Tier
from timecoin.types import Block, Coin, OutPoint, Transaction, TxOutput

JsonObject = dict[str, Any]

SCRIPT_TYPE: Final = "ed25519_keyhash"
SEQUENCE_FINAL: Final = 0xFFFF_FFFF
WEIGHT_PER_BYTE: Final = 4
"""Esplora's `weight` of a transaction without witness data is 4 per byte."""
HISTOGRAM_BIN_BYTES: Final = 100_000


def seconds(time_ms: int) -> int:
    """Milliseconds to whole seconds (Esplora's times)."""
    return time_ms // 1000


def address_string(address: bytes, params: ChainParams) -> str:
    """The human-readable address of a 20-byte payload on this network."""
    return encode_address(params.address_hrp, address)


def status_json(placement: Placement) -> JsonObject:
    """Esplora's `status`, plus TimeCoin's `final`."""
    if placement.block_hash is None:
        return {"confirmed": False, "final": placement.is_final}
    assert placement.height is not None and placement.block_time_ms is not None
    return {
        "confirmed": True,
        "block_height": placement.height,
        "block_hash": placement.block_hash.hex(),
        "block_time": seconds(placement.block_time_ms),
        "final": True,
    }


def output_json(output: TxOutput | Coin, params: ChainParams) -> JsonObject:
    """An output (or a spent coin, for `prevout`)."""
    return {
        "scriptpubkey": output.address.hex(),
        "scriptpubkey_asm": "",
        "scriptpubkey_type": SCRIPT_TYPE,
        "scriptpubkey_address": address_string(output.address, params),
        "value": output.amount,
    }


def compute_fee(tx: Transaction, prevouts: Sequence[Coin | None]) -> int | None:
    """Inputs minus outputs; 0 for a coinbase; None when a spent coin is unknown."""
    if tx.is_coinbase:
        return 0
    if any(coin is None for coin in prevouts) or len(prevouts) != len(tx.inputs):
        return None
    return sum(coin.amount for coin in prevouts if coin is not None) - sum(
        out.amount for out in tx.outputs
    )


def tx_json(
    found: FoundTransaction,
    prevouts: Sequence[Coin | None],
    params: ChainParams,
    *,
    with_status: bool = True,
) -> JsonObject:
    """Esplora's transaction format (`with_status` False inside a block's list)."""
    tx = found.tx
    size = len(encode(tx))
    vin = []
    for index, txin in enumerate(tx.inputs):
        coin = prevouts[index] if index < len(prevouts) else None
        signature = tx.signatures[index] if index < len(tx.signatures) else b""
        vin.append(
            {
                "txid": txin.prevout.txid.hex(),
                "vout": txin.prevout.index,
                "prevout": None if coin is None else output_json(coin, params),
                "scriptsig": "",
                "scriptsig_asm": "",
                "witness": [signature.hex()],
                "is_coinbase": False,
                "sequence": SEQUENCE_FINAL,
                "public_key": txin.public_key.hex(),
            }
        )
    result: JsonObject = {
        "txid": found.txid.hex(),
        "version": tx.version,
        "locktime": tx.lock_time,
        "vin": vin,
        "vout": [output_json(out, params) for out in tx.outputs],
        "size": size,
        "weight": size * WEIGHT_PER_BYTE,
        "fee": compute_fee(tx, prevouts),
    }
    if with_status:
        result["status"] = status_json(found.placement)
    return result


def block_json(block: Block, block_hash: bytes, params: ChainParams) -> JsonObject:
    """Esplora's block format; no mining, so `nonce`, `bits`, `difficulty` are 0."""
    header = block.header
    size = len(encode(block))
    return {
        "id": block_hash.hex(),
        "height": header.height,
        "version": header.version,
        "timestamp": seconds(header.timestamp_ms),
        "tx_count": len(block.transactions),
        "size": size,
        "weight": size * WEIGHT_PER_BYTE,
        "merkle_root": header.tx_root.hex(),
        "previousblockhash": header.prev_hash.hex() if header.height > 0 else None,
        "mediantime": seconds(header.timestamp_ms),
        "nonce": 0,
        "bits": 0,
        "difficulty": 0,
        "epoch": header.epoch,
    }


@dataclass(slots=True)
class _Stats:
    tx_count: int = 0
    funded_txo_count: int = 0
    funded_txo_sum: int = 0
    spent_txo_count: int = 0
    spent_txo_sum: int = 0

    def as_json(self) -> JsonObject:
        return {
            "tx_count": self.tx_count,
            "funded_txo_count": self.funded_txo_count,
            "funded_txo_sum": self.funded_txo_sum,
            "spent_txo_count": self.spent_txo_count,
            "spent_txo_sum": self.spent_txo_sum,
        }


@dataclass(slots=True)
class AddressSummary:
    """An address's statistics and unspent outputs, from its transactions."""

    chain: _Stats = field(default_factory=_Stats)
    mempool: _Stats = field(default_factory=_Stats)
    unspent: dict[OutPoint, tuple[TxOutput, Placement]] = field(default_factory=dict)


def summarize_address(
    address: bytes, history: Iterable[tuple[FoundTransaction, Sequence[Coin | None]]]
) -> AddressSummary:
    """Funded and spent outputs of `address` in `history` (with each
    transaction's prevouts), split into chain and mempool, and what is left
    unspent. An input spends from the address when its public key hashes to it."""
    summary = AddressSummary()
    spent: set[OutPoint] = set()
    for found, prevouts in history:
        stats = summary.chain if found.placement.is_confirmed else summary.mempool
        stats.tx_count += 1
        for index, out in enumerate(found.tx.outputs):
            if out.address == address:
                stats.funded_txo_count += 1
                stats.funded_txo_sum += out.amount
                summary.unspent[OutPoint(found.txid, index)] = (out, found.placement)
        for index, txin in enumerate(found.tx.inputs):
            if address_from_public_key(txin.public_key) != address:
                continue
            stats.spent_txo_count += 1
            coin = prevouts[index] if index < len(prevouts) else None
            stats.spent_txo_sum += 0 if coin is None else coin.amount
            spent.add(txin.prevout)
    for outpoint in spent:
        summary.unspent.pop(outpoint, None)
    return summary


def address_json(address_text: str, summary: AddressSummary) -> JsonObject:
    """Esplora's `GET /address/:address`."""
    return {
        "address": address_text,
        "chain_stats": summary.chain.as_json(),
        "mempool_stats": summary.mempool.as_json(),
    }


def utxo_json(summary: AddressSummary) -> list[JsonObject]:
    """Esplora's `GET /address/:address/utxo`, confirmed first by height."""
    items = sorted(
        summary.unspent.items(),
        key=lambda item: (
            item[1][1].height is None,
            item[1][1].height or 0,
            item[0].txid,
            item[0].index,
        ),
    )
    return [
        {
            "txid": outpoint.txid.hex(),
            "vout": outpoint.index,
            "status": status_json(placement),
            "value": out.amount,
        }
        for outpoint, (out, placement) in items
    ]


def fee_histogram(pool: Sequence[PooledTransaction]) -> list[list[float | int]]:
    """Esplora's (Electrum's) fee histogram: [fee rate per byte, bytes] bins,
    highest rate first, each closed once it holds HISTOGRAM_BIN_BYTES."""
    rated = sorted(((p.fee_units / max(p.size_bytes, 1), p.size_bytes) for p in pool), reverse=True)
    bins: list[list[float | int]] = []
    accumulated = 0
    for rate, size in rated:
        accumulated += size
        if accumulated >= HISTOGRAM_BIN_BYTES:
            bins.append([round(rate, 3), accumulated])
            accumulated = 0
    if accumulated:
        bins.append([round(rated[-1][0], 3), accumulated])
    return bins


def mempool_json(pool: Sequence[PooledTransaction]) -> JsonObject:
    """Esplora's `GET /mempool`, plus TimeCoin's `final_count`."""
    return {
        "count": len(pool),
        "vsize": sum(p.size_bytes for p in pool),
        "total_fee": sum(p.fee_units for p in pool),
        "fee_histogram": fee_histogram(pool),
        "final_count": sum(1 for p in pool if p.is_final),
    }


def recent_json(pool: Sequence[PooledTransaction], count: int) -> list[JsonObject]:
    """Esplora's `GET /mempool/recent`: the last `count` arrivals, newest first."""
    newest = sorted(pool, key=lambda p: p.time_ms, reverse=True)[:count]
    return [
        {
            "txid": p.txid.hex(),
            "fee": p.fee_units,
            "vsize": p.size_bytes,
            "value": sum(out.amount for out in p.tx.outputs),
        }
        for p in newest
    ]


def masternode_status(entry: MasternodeEntry, epoch: int) -> str:
    """enabled, pending (active from a later epoch), banned or deregistered."""
    if is_active(entry, epoch):
        return "enabled"
    if entry.banned_from_epoch is not None and entry.banned_from_epoch <= epoch:
        return "banned"
    if entry.deregistered_from_epoch is not None:
        return "deregistered"
    return "pending"


def masternodes_json(registry: RegistryState, params: ChainParams) -> list[JsonObject]:
    """TimeCoin's `GET /masternodes`: every registered masternode."""
    committee = {voter.masternode_id: voter.weight for voter in registry.voting_set.voters}
    result = []
    for entry in registry.entries:
        tier = Tier(entry.tier)
        result.append(
            {
                "id": entry.masternode_id.hex(),
                "tier": tier.name.lower(),
                "status": masternode_status(entry, registry.epoch),
                "weight": params.tier_params(tier).voting_weight,
                "committee_weight": committee.get(entry.masternode_id, 0),
                "operator_key": entry.operator_key.hex(),
                "reward_address": address_string(entry.reward_address, params),
                "network_address": entry.network_address.decode("utf-8", "replace"),
                "registered_height": entry.registered_height,
                "last_heartbeat_sequence": entry.last_heartbeat_sequence,
                "last_heartbeat_window": entry.last_heartbeat_window,
            }
        )
    return result
