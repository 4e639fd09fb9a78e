"""The masternode lifecycle methods over HTTP JSON-RPC, on a `MemoryNode`."""

from __future__ import annotations

from msgspec.structs import replace
from rpc_helpers import OPERATORS, MemoryNode, RpcHttp, make_key
from rpc_masternode_helpers import NEW_OPERATOR, commit_pooled, fund_collateral

from timecoin.masternode import compute_reward_window, get_entry
from timecoin.params import Tier
from timecoin.rpc.masternode_handlers import compute_masternode_state
from timecoin.types import MasternodeRegistration, OutPoint, VotingSet


async def test_register_then_list_update_and_unlock(rpc: RpcHttp, node: MemoryNode) -> None:
    collateral = fund_collateral(node)
    txid = await rpc.call(
        "masternoderegister",
        "bronze",
        collateral.txid.hex(),
        collateral.index,
        NEW_OPERATOR.public_key.hex(),
        "",
        "203.0.113.5:24100",
    )
    pooled = node.mempool[bytes.fromhex(txid)].tx
    payload = pooled.payload
    assert isinstance(payload, MasternodeRegistration)
    assert payload.operator_key == NEW_OPERATOR.public_key
    assert payload.network_address == b"203.0.113.5:24100"
    assert collateral in {txin.prevout for txin in pooled.inputs}
    # The same coin cannot be offered twice.
    again = await rpc.error(
        "masternoderegister", "bronze", collateral.txid.hex(), 0, make_key(41).public_key.hex()
    )
    assert again["code"] == -8 and again["message"].startswith("collateral:")

    commit_pooled(node, txid)
    locked = await rpc.call("listlockedcollaterals")
    assert [(c["txid"], c["vout"], c["tier"], c["state"]) for c in locked] == [
        (txid, 0, "bronze", "PENDING")
    ]
    listed = await rpc.call("masternodelist", txid)
    assert listed[0]["state"] == "PENDING" and listed[0]["lastheartbeatwindow"] is None
    assert listed[0]["collateral"] == f"{txid}:0"

    update = await rpc.call("masternodeupdate", txid, 0, make_key(42).public_key.hex())
    commit_pooled(node, update)
    entry = get_entry(node.registry, bytes.fromhex(txid))
    assert entry is not None and entry.operator_key == make_key(42).public_key

    unlock = await rpc.call("masternodeunlock", txid, 0)
    spend = node.mempool[bytes.fromhex(unlock)].tx
    assert [txin.prevout for txin in spend.inputs] == [OutPoint(bytes.fromhex(txid), 0)]


async def test_register_refusals_name_the_field(rpc: RpcHttp, node: MemoryNode) -> None:
    short = fund_collateral(node, amount=node.params.tier_params(Tier.BRONZE).collateral - 1)
    good = fund_collateral(node)
    operator = NEW_OPERATOR.public_key.hex()
    cases = [
        (("platinum", good.txid.hex(), 0, operator), -8, "tier: expected one of"),
        (("bronze", short.txid.hex(), 0, operator), -8, "collateral: tier bronze needs exactly"),
        (("bronze", "11" * 32, 0, operator), -5, "collateral: "),
        (("bronze", good.txid.hex(), 0, "abcd"), -5, "operator_pubkey: expected a public key"),
        (
            ("bronze", good.txid.hex(), 0, OPERATORS[0].public_key.hex()),
            -8,
            "operator_pubkey: ",
        ),
        (("bronze", good.txid.hex(), 0, operator, "nonsense"), -5, "reward_address: "),
    ]
    for params, code, prefix in cases:
        error = await rpc.error("masternoderegister", *params)
        assert error["code"] == code, (params, error)
        assert error["message"].startswith(prefix), (params, error)
    assert node.mempool == {}


async def test_someone_elses_collateral_cannot_be_unlocked(rpc: RpcHttp, node: MemoryNode) -> None:
    collateral = node.registry.entries[0].collateral
    assert collateral is not None
    error = await rpc.error("masternodeunlock", collateral.txid.hex(), collateral.index)
    assert error["code"] == -5 and "not a key of this wallet" in error["message"]
    unknown = await rpc.error("masternodeupdate", "22" * 32, 0, NEW_OPERATOR.public_key.hex())
    assert unknown["code"] == -5 and "no masternode has collateral" in unknown["message"]


async def test_masternodestatus_says_what_it_waits_for(rpc: RpcHttp, node: MemoryNode) -> None:
    status = await rpc.call("masternodestatus")
    assert status["state"] == "ACTIVE"
    assert status["operatorkey"] == OPERATORS[0].public_key.hex()
    params = node.params
    entry = node.registry.entries[0]
    pending = replace(entry, active_from_epoch=7)
    assert compute_masternode_state(pending, node.registry, params) == (
        "PENDING",
        f"pending until epoch 7 (now {node.registry.epoch})",
    )
    assert compute_masternode_state(None, node.registry, params)[0] == "NOT_REGISTERED"
    leaving = replace(entry, deregistered_from_epoch=1)
    assert compute_masternode_state(leaving, node.registry, params)[0] == "UNLOCKING"


def test_removed_standby_and_banned_states(node: MemoryNode) -> None:
    params = node.params
    entry = node.registry.entries[0]
    later = 10 * params.reward_window_blocks * params.heartbeat_removal_windows
    epoch = later // params.epoch_length
    others = [v for v in node.registry.voting_set.voters if v.masternode_id != entry.masternode_id]
    state = replace(node.registry, voting_set=VotingSet(epoch, others))
    boundary = epoch * params.epoch_length - 1
    silent = replace(entry, last_heartbeat_window=0)
    assert compute_masternode_state(silent, state, params) == (
        "REMOVED",
        f"removed from the voting set for missed heartbeats at height {boundary}",
    )
    recent = replace(entry, last_heartbeat_window=compute_reward_window(boundary, params))
    assert compute_masternode_state(recent, state, params)[0] == "STANDBY"
    banned = replace(entry, banned_from_epoch=epoch)
    assert compute_masternode_state(banned, state, params) == (
        "BANNED",
        f"banned by evidence from epoch {epoch}",
    )
