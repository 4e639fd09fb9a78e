"""A fifth node joins a running 4-node testnet as a masternode, votes, earns, and retires.

The path of docs/operator.md on one host: `timecoin testnet add-node`, fund a
collateral from a genesis wallet, `masternoderegister`, wait for the next
epoch, see the node's signature in certificates (again after a crash and
restart) and a reward paid to its reward address, upgrade it to Silver
(unlock, register again with the same operator key), then retire it with
`masternodeunlock` and spend the released Bronze collateral.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from functional_framework import NodeHandle, Testnet, wait_until

BRONZE_TIME = 1_000
SILVER_TIME = 10_000
LEAVING = ("UNLOCKING", "NOT_REGISTERED")
"""UNLOCKING until the epoch ends, which may come within a block or two."""
EPOCH_WAIT_S = 60.0
"""Two devnet epochs (20 blocks of 0.5 s each) with ample margin."""


def _add_node(testnet: Testnet) -> NodeHandle:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "timecoin.cli",
            "testnet",
            "add-node",
            "--datadir",
            str(testnet.datadir),
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert b"operator key" in result.stdout
    document = json.loads((testnet.datadir / "testnet.json").read_text(encoding="utf-8"))
    entry = next(e for e in document["nodes"] if e["name"] == "node4")
    node = NodeHandle(
        name=entry["name"],
        rpc_url=entry["rpc_url"],
        datadir=Path(entry["datadir"]),
        argv=list(entry["argv"]),
        pid=entry["pid"],
        p2p=entry["p2p"],
        metrics_url=entry["metrics_url"],
    )
    testnet.nodes.append(node)  # stopped with the testnet
    return node


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "timecoin.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _state(node: NodeHandle) -> dict[str, Any]:
    status: dict[str, Any] = node.rpc("masternodestatus")
    return status


def _signed_a_certificate(node: NodeHandle, operator_key: str, after_height: int = 0) -> bool:
    """True when the tip block's certificate, of a block above `after_height`,
    carries `node`'s signature."""
    info = node.rpc("getconsensusinfo")
    voters = [v["operatorkey"] for v in info["votingset"]["voters"]]
    if operator_key not in voters:
        return False
    block = node.rpc("getblock", node.rpc("getbestblockhash"), 1)
    certificate = block["prevcertificate"]
    return (
        certificate is not None
        and certificate["height"] > after_height
        and certificate["height"] // 20 == info["epoch"]
        and voters.index(operator_key) in certificate["signers"]
    )


def test_a_fifth_node_joins_as_a_masternode_votes_upgrades_and_unlocks(testnet: Testnet) -> None:
    owner = testnet.nodes[0]
    testnet.wait_for_height(1)
    joined = _add_node(testnet)
    status = wait_until(lambda: _state(joined), 30.0, "node4 RPC")
    assert status["state"] == "NOT_REGISTERED"
    operator_key = status["operatorkey"]
    testnet.wait_until_height(joined, owner.height())

    # Fund a collateral of exactly the Bronze amount, then register it.
    funding = owner.rpc("sendtoaddress", owner.rpc("getnewaddress"), BRONZE_TIME, 20)
    assert funding["status"] in ("final", "confirmed"), funding
    wait_until(
        lambda: any(
            c["txid"] == funding["txid"] and c["vout"] == 0 for c in owner.rpc("listunspent")
        ),
        20.0,
        "the collateral among the owner's coins",
    )
    # The CLI's exit status tells a settled wait from a timed-out one.
    waited = _cli(
        "rpc", "--datadir", str(owner.datadir), "waittransactionfinality", funding["txid"], "5"
    )
    assert waited.returncode == 0 and '"status": "' in waited.stdout, waited.stderr
    timed_out = _cli(
        "rpc", "--datadir", str(owner.datadir), "waittransactionfinality", "00" * 32, "0"
    )
    assert timed_out.returncode == 1 and '"status": "unknown"' in timed_out.stdout
    masternode_id = owner.rpc(
        "masternoderegister", "bronze", funding["txid"], 0, operator_key, "", joined.p2p
    )
    # PENDING until the next epoch, which may come within a block or two.
    registered = wait_until(
        lambda: (s := _state(joined))["state"] in ("PENDING", "ACTIVE") and s,
        30.0,
        "node4 registered",
    )
    assert registered["masternodeid"] == masternode_id
    if registered["state"] == "PENDING":
        epoch = registered["activefromepoch"]
        assert registered["message"] == f"pending until epoch {epoch} (now {epoch - 1})"
    # The owner's node may hold the registration's block a moment later.
    locked = wait_until(
        lambda: owner.rpc("listlockedcollaterals"), 10.0, "the owner's locked collateral"
    )
    assert [(c["txid"], c["vout"], c["tier"]) for c in locked] == [(masternode_id, 0, "bronze")]

    # Active at the next epoch: in the voting set, its weight counted, its votes in certificates.
    wait_until(lambda: _state(joined)["state"] == "ACTIVE", EPOCH_WAIT_S, "node4 active")
    info = joined.rpc("getconsensusinfo")
    assert info["isvoter"] is True
    assert info["votingset"]["totalweight"] == 5
    wait_until(
        lambda: _signed_a_certificate(joined, operator_key),
        EPOCH_WAIT_S,
        "node4's signature in a certificate",
    )
    # A restart (after a crash) changes nothing: it syncs and signs again.
    joined.kill()
    killed_at = owner.height()
    joined.restart()
    wait_until(lambda: _state(joined)["state"] == "ACTIVE", 30.0, "node4 back after a restart")
    testnet.wait_until_height(joined, owner.height())
    wait_until(
        lambda: _signed_a_certificate(joined, operator_key, killed_at),
        EPOCH_WAIT_S,
        "node4's signature in a certificate after its restart",
    )
    listed = owner.rpc("masternodelist", masternode_id)[0]
    assert listed["invotingset"] is True and listed["committeeweight"] == 1
    reward_address = listed["rewardaddress"]
    wait_until(
        lambda: any(
            c["address"] == reward_address and c["txid"] != masternode_id
            for c in owner.rpc("listunspent")
        ),
        EPOCH_WAIT_S,
        "a block reward paid to node4's reward address",
    )

    # Upgrade to Silver (docs/operator.md): fund the new collateral, unlock
    # the Bronze one, register Silver with the same operator key.
    silver = owner.rpc("sendtoaddress", owner.rpc("getnewaddress"), SILVER_TIME, 20)
    assert silver["status"] in ("final", "confirmed"), silver
    wait_until(
        lambda: any(c["txid"] == silver["txid"] for c in owner.rpc("listunspent")),
        20.0,
        "the Silver collateral among the owner's coins",
    )
    unlock_txid = owner.rpc("masternodeunlock", masternode_id, 0)
    wait_until(lambda: _state(joined)["state"] in LEAVING, 30.0, "node4 unlocking")
    # The owner's wallet checks its own node's registry: wait for it there too.
    wait_until(
        lambda: all(e["state"] == "UNLOCKING" for e in owner.rpc("masternodelist", masternode_id)),
        10.0,
        "the Bronze entry unlocking on the owner's node",
    )
    upgraded_id = owner.rpc(
        "masternoderegister", "silver", silver["txid"], 0, operator_key, "", joined.p2p
    )
    upgraded = wait_until(
        lambda: (s := _state(joined))["masternodeid"] == upgraded_id and s, 30.0, "node4 silver"
    )
    assert upgraded["state"] in ("PENDING", "ACTIVE") and upgraded["tier"] == "silver"
    wait_until(
        lambda: joined.rpc("getconsensusinfo")["votingset"]["totalweight"] == 14,
        EPOCH_WAIT_S,
        "node4 voting with the Silver weight",
    )
    assert _state(joined)["state"] == "ACTIVE"
    wait_until(
        lambda: [c["tier"] for c in owner.rpc("listlockedcollaterals")] == ["silver"],
        10.0,
        "the Silver collateral locked",
    )

    # Retire: the collateral comes back, the node leaves at the next epoch.
    owner.rpc("masternodeunlock", upgraded_id, 0)
    wait_until(lambda: _state(joined)["state"] in LEAVING, 30.0, "node4 unlocking")
    wait_until(
        lambda: _state(joined)["state"] == "NOT_REGISTERED", EPOCH_WAIT_S, "node4 out of the list"
    )
    assert joined.rpc("getconsensusinfo")["isvoter"] is False
    wait_until(lambda: owner.rpc("listlockedcollaterals") == [], 10.0, "no locked collateral")
    released = wait_until(
        lambda: next(
            (c for c in owner.rpc("listunspent") if c["txid"] == unlock_txid and c["vout"] == 0),
            None,
        ),
        20.0,
        "the released collateral among the owner's coins",
    )
    assert Decimal(str(released["amount"])) > BRONZE_TIME - 1
    spend = owner.rpc("sendtoaddress", owner.rpc("getnewaddress"), BRONZE_TIME - 1, 20)
    assert spend["status"] in ("final", "confirmed"), spend
    # The smallest coin that pays it is the released collateral.
    inputs = owner.rpc("getrawtransaction", spend["txid"], True)["vin"]
    assert {(i["txid"], i["vout"]) for i in inputs} == {(unlock_txid, 0)}
