"""Conversions from TimeCoin types to bitcoind-shaped JSON values.

Conventions (docs/rpc.md):

- bytes are lower-case hex; hashes are shown in their natural byte order
  (bitcoind reverses its hashes, TimeCoin does not);
- amounts are JSON numbers in TIME with exactly 8 decimals, like bitcoind's
  BTC amounts: `amount_json` returns the number's text as `msgspec.Raw`, so
  no binary float ever rounds it;
- times are seconds since the Unix epoch where bitcoind has seconds
  (`time`, `mediantime`), with the exact milliseconds beside them
  (`time_ms`);
- addresses are bech32m strings of the node's network.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from timecoin.crypto import encode_address
from timecoin.encoding import encode
from timecoin.masternode import MasternodeEntry, is_active
from timecoin.params import COIN, ChainParams, Tier
from timecoin.rpc.api import (
    ChainState,
    ConsensusInfo,
    MempoolEntry,
    MempoolInfo,
    NetworkInfo,
    PeerInfo,
    UtxoSetInfo,
)
from timecoin.types import (
    Block,
    BlockHeader,
    MasternodeRegistration,
    OperatorUpdate,
    Payload,
    Transaction,
    VotingSet,
    compute_txid,
    compute_witness_hash,
)

JsonObject = dict[str, object]

SCRIPT_TYPE = "ed25519_keyhash"
"""`scriptPubKey.type` of every output: a hash of an Ed25519 public key."""

MEDIAN_TIME_SPAN = 11
"""Blocks whose timestamps give `mediantime` (bitcoind's median time past)."""


def amount_json(units: int) -> msgspec.Raw:
    """`units` as a JSON number of TIME with exactly 8 decimals (e.g. 0.00000001)."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), COIN)
    return msgspec.Raw(f"{sign}{whole}.{frac:08d}".encode("ascii"))


def seconds(time_ms: int) -> int:
    """Milliseconds as whole seconds (rounded down)."""
    return time_ms // 1000


def address_text(address: bytes, params: ChainParams) -> str:
    """A 20-byte address as the network's bech32m string."""
    return encode_address(params.address_hrp, address)


def script_pubkey_json(address: bytes, params: ChainParams) -> JsonObject:
    """An output's `scriptPubKey` object: its address, hex and type."""
    return {"address": address_text(address, params), "hex": address.hex(), "type": SCRIPT_TYPE}


def compute_median_time_ms(timestamps_ms: Sequence[int]) -> int:
    """The median of up to `MEDIAN_TIME_SPAN` block timestamps (the upper one of
    an even count, as bitcoind's GetMedianTimePast); 0 for none."""
    if not timestamps_ms:
        return 0
    ordered = sorted(timestamps_ms)
    return ordered[len(ordered) // 2]


def payload_json(payload: Payload, params: ChainParams) -> JsonObject:
    """A masternode registration or operator update."""
    if isinstance(payload, MasternodeRegistration):
        return {
            "type": "masternode_registration",
            "tier": _tier_name(payload.tier),
            "collateralindex": payload.collateral_index
            if Tier(payload.tier) != Tier.FREE
            else None,
            "ownerkey": payload.owner_key.hex(),
            "operatorkey": payload.operator_key.hex(),
            "rewardaddress": address_text(payload.reward_address, params),
            "networkaddress": _network_address_text(payload.network_address),
        }
    if isinstance(payload, OperatorUpdate):
        return {
            "type": "operator_update",
            "masternodeid": payload.masternode_id.hex(),
            "operatorkey": payload.operator_key.hex(),
            "rewardaddress": address_text(payload.reward_address, params),
            "networkaddress": _network_address_text(payload.network_address),
        }
    raise AssertionError(f"unknown payload type {type(payload).__name__}")


def tx_json(tx: Transaction, params: ChainParams) -> JsonObject:
    """A decoded transaction (decoderawtransaction's shape).

    `txid` excludes the signatures, `hash` (the witness hash) covers them.
    A coinbase has an empty `vin`. Each `vin` entry names the spent output,
    the public key that owns it and its signature.
    """
    size_bytes = len(encode(tx))
    vin: list[JsonObject] = []
    for index, tx_input in enumerate(tx.inputs):
        entry: JsonObject = {
            "txid": tx_input.prevout.txid.hex(),
            "vout": tx_input.prevout.index,
            "publickey": tx_input.public_key.hex(),
        }
        if index < len(tx.signatures):
            entry["signature"] = tx.signatures[index].hex()
        vin.append(entry)
    vout = [
        {
            "value": amount_json(output.amount),
            "n": n,
            "scriptPubKey": script_pubkey_json(output.address, params),
        }
        for n, output in enumerate(tx.outputs)
    ]
    result: JsonObject = {
        "txid": compute_txid(tx).hex(),
        "hash": compute_witness_hash(tx).hex(),
        "version": tx.version,
        "size": size_bytes,
        "vsize": size_bytes,
        "locktime": tx.lock_time,
        "vin": vin,
        "vout": vout,
    }
    if tx.payload is not None:
        result["payload"] = payload_json(tx.payload, params)
    if tx.owner_signature is not None:
        result["ownersignature"] = tx.owner_signature.hex()
    return result


def header_json(
    header: BlockHeader,
    block_hash: bytes,
    *,
    confirmations: int,
    median_time_ms: int,
    next_hash: bytes | None,
) -> JsonObject:
    """A block header (getblockheader's verbose shape).

    `confirmations` is -1 for a block outside the active chain;
    `previousblockhash` is absent for genesis, `nextblockhash` for the tip.
    """
    result: JsonObject = {
        "hash": block_hash.hex(),
        "confirmations": confirmations,
        "height": header.height,
        "version": header.version,
        "versionHex": f"{header.version:08x}",
        "merkleroot": header.tx_root.hex(),
        "witnessroot": header.witness_root.hex(),
        "time": seconds(header.timestamp_ms),
        "time_ms": header.timestamp_ms,
        "mediantime": seconds(median_time_ms),
        "chainid": header.chain_id,
        "epoch": header.epoch,
        "proposer": header.proposer.hex(),
        "utxocommitment": header.utxo_commitment.hex(),
        "nextvotingsethash": header.next_voting_set_hash.hex(),
        "prevcertificatehash": header.prev_certificate_hash.hex(),
        "evidencehash": header.evidence_hash.hex(),
        "attestationshash": header.attestations_hash.hex(),
    }
    if header.height > 0:
        result["previousblockhash"] = header.prev_hash.hex()
    if next_hash is not None:
        result["nextblockhash"] = next_hash.hex()
    return result


def block_json(
    block: Block,
    block_hash: bytes,
    verbosity: int,
    params: ChainParams,
    *,
    confirmations: int,
    median_time_ms: int,
    next_hash: bytes | None,
) -> JsonObject:
    """A block for getblock verbosity 1 (txids) or 2 (decoded transactions).

    The header's fields, then `size`, `nTx`, `tx`, the previous block's
    certificate (`prevcertificate`, null at heights 0 and 1) and the counts
    of evidence and attested heartbeats.
    """
    result = header_json(
        block.header,
        block_hash,
        confirmations=confirmations,
        median_time_ms=median_time_ms,
        next_hash=next_hash,
    )
    result["size"] = len(encode(block))
    result["nTx"] = len(block.transactions)
    if verbosity >= 2:
        result["tx"] = [tx_json(tx, params) for tx in block.transactions]
    else:
        result["tx"] = [compute_txid(tx).hex() for tx in block.transactions]
    certificate = block.prev_certificate
    result["prevcertificate"] = (
        None
        if certificate is None
        else {
            "height": certificate.height,
            "round": certificate.round,
            "blockhash": certificate.block_hash.hex(),
            "signers": [sig.voter_index for sig in certificate.signatures],
        }
    )
    result["evidencecount"] = len(block.evidence)
    result["attestationcount"] = len(block.attestations)
    return result


def blockchain_info_json(state: ChainState, params: ChainParams, median_time_ms: int) -> JsonObject:
    """getblockchaininfo's object."""
    header = state.tip_header
    return {
        "chain": params.name,
        "blocks": header.height,
        "headers": state.best_header_height,
        "bestblockhash": state.tip_hash.hex(),
        "time": seconds(header.timestamp_ms),
        "time_ms": header.timestamp_ms,
        "mediantime": seconds(median_time_ms),
        "verificationprogress": state.verification_progress,
        "initialblockdownload": state.initial_block_download,
        "bestknownheight": max(state.best_known_height, state.best_header_height),
        "size_on_disk": state.size_on_disk_bytes,
        "pruned": False,
        "chainid": params.chain_id,
        "epoch": header.epoch,
        "warnings": list(state.warnings),
    }


def utxo_set_info_json(info: UtxoSetInfo, *, with_hash: bool) -> JsonObject:
    """gettxoutsetinfo's object; `muhash` only when `with_hash`."""
    result: JsonObject = {
        "height": info.height,
        "bestblock": info.best_block_hash.hex(),
        "txouts": info.txout_count,
        "total_amount": amount_json(info.total_amount_units),
    }
    if with_hash:
        result["muhash"] = info.commitment.hex()
    if info.disk_size_bytes is not None:
        result["disk_size"] = info.disk_size_bytes
    return result


def mempool_info_json(info: MempoolInfo) -> JsonObject:
    """getmempoolinfo's object (fee rates in TIME per kB)."""
    return {
        "loaded": info.loaded,
        "size": info.tx_count,
        "bytes": info.total_bytes,
        "usage": info.usage_bytes,
        "total_fee": amount_json(info.total_fee_units),
        "maxmempool": info.max_bytes,
        "mempoolminfee": amount_json(info.min_fee_per_kb_units),
        "minrelaytxfee": amount_json(info.min_relay_fee_per_kb_units),
        "finalcount": info.final_count,
    }


def mempool_entry_json(entry: MempoolEntry) -> JsonObject:
    """One entry of `getrawmempool true`."""
    return {
        "vsize": entry.size_bytes,
        "size": entry.size_bytes,
        "time": seconds(entry.time_ms),
        "height": entry.height,
        "fees": {"base": amount_json(entry.fee_units)},
        "depends": [txid.hex() for txid in entry.depends],
        "final": entry.is_final,
    }


def network_info_json(info: NetworkInfo) -> JsonObject:
    """getnetworkinfo's object."""
    return {
        "version": info.version,
        "subversion": info.subversion,
        "protocolversion": info.protocol_version,
        "localrelay": True,
        "networkactive": info.network_active,
        "connections": info.connections_in + info.connections_out,
        "connections_in": info.connections_in,
        "connections_out": info.connections_out,
        "relayfee": amount_json(info.relay_fee_per_kb_units),
        "localaddresses": [{"address": host, "port": port} for host, port in info.local_addresses],
        "warnings": list(info.warnings),
    }


def peer_json(peer: PeerInfo) -> JsonObject:
    """One entry of getpeerinfo (times in seconds, `pingtime` in seconds)."""
    result: JsonObject = {
        "id": peer.peer_id,
        "addr": peer.address,
    }
    if peer.local_address is not None:
        result["addrlocal"] = peer.local_address
    result.update(
        {
            "inbound": peer.inbound,
            "connection_type": peer.connection_type,
            "conntime": seconds(peer.connected_ms),
            "lastsend": seconds(peer.last_send_ms),
            "lastrecv": seconds(peer.last_recv_ms),
            "bytessent": peer.bytes_sent,
            "bytesrecv": peer.bytes_received,
            "version": peer.protocol_version,
            "subver": peer.user_agent,
            "startingheight": peer.start_height,
            "synced_blocks": peer.synced_height,
            "nodekey": peer.node_key.hex(),
            "masternodeid": None if peer.masternode_id is None else peer.masternode_id.hex(),
        }
    )
    if peer.ping_ms is not None:
        result["pingtime"] = peer.ping_ms / 1000
    return result


def voting_set_json(voting_set: VotingSet) -> JsonObject:
    """A committee: its voters in canonical order, total and quorum weight.

    `quorumweight` is the least weight that is more than 2/3 of the total.
    """
    total = voting_set.total_weight
    return {
        "epoch": voting_set.epoch,
        "hash": voting_set.compute_hash().hex(),
        "totalweight": total,
        "quorumweight": 2 * total // 3 + 1,
        "voters": [
            {
                "masternodeid": voter.masternode_id.hex(),
                "operatorkey": voter.operator_key.hex(),
                "weight": voter.weight,
            }
            for voter in voting_set.voters
        ],
    }


def consensus_info_json(info: ConsensusInfo) -> JsonObject:
    """getconsensusinfo's object."""
    local = info.local_operator_key
    return {
        "height": info.height,
        "round": info.round,
        "step": info.step,
        "epoch": info.epoch,
        "lockedround": info.locked_round,
        "validround": info.valid_round,
        "proposer": None if info.proposer is None else info.proposer.hex(),
        "isvoter": local is not None and info.voting_set.index_of(local) is not None,
        "votingset": voting_set_json(info.voting_set),
        "forkalert": info.fork_alert,
    }


def masternode_status(entry: MasternodeEntry, epoch: int) -> str:
    """The entry's status in `epoch`: "enabled", "pending" (counts from a later
    epoch), "banned" or "deregistered" (collateral spent)."""
    if is_active(entry, epoch):
        return "enabled"
    if entry.banned_from_epoch is not None and entry.banned_from_epoch <= epoch:
        return "banned"
    if entry.deregistered_from_epoch is not None:
        return "deregistered"
    return "pending"


def masternode_json(
    entry: MasternodeEntry, epoch: int, voting_set: VotingSet, params: ChainParams
) -> JsonObject:
    """One masternode of masternodelist.

    `votingweight` is the tier's weight; `invotingset` and `committeeweight`
    say whether and with what weight it sits in the committee of `epoch`.
    """
    committee_weight = 0
    for voter in voting_set.voters:
        if voter.masternode_id == entry.masternode_id:
            committee_weight = voter.weight
            break
    collateral = entry.collateral
    return {
        "masternodeid": entry.masternode_id.hex(),
        "status": masternode_status(entry, epoch),
        "tier": _tier_name(entry.tier),
        "votingweight": params.tier_params(Tier(entry.tier)).voting_weight,
        "invotingset": committee_weight > 0,
        "committeeweight": committee_weight,
        "collateral": None if collateral is None else f"{collateral.txid.hex()}:{collateral.index}",
        "ownerkey": entry.owner_key.hex(),
        "operatorkey": entry.operator_key.hex(),
        "rewardaddress": address_text(entry.reward_address, params),
        "networkaddress": _network_address_text(entry.network_address),
        "registeredheight": entry.registered_height,
        "activefromepoch": entry.active_from_epoch,
        "bannedfromepoch": entry.banned_from_epoch,
        "deregisteredfromepoch": entry.deregistered_from_epoch,
    }


def _tier_name(tier: int) -> str:
    try:
        return Tier(tier).name.lower()
    except ValueError:
        return str(tier)


def _network_address_text(network_address: bytes) -> str:
    return network_address.decode("utf-8", errors="replace")
