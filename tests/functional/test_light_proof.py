"""Light proofs from a real node (real votes, certificates and voting sets)
verify offline from a trusted checkpoint, and every tampering is rejected
with its reason: a forged vote, a wrong epoch, a voting set the headers do
not commit to, a truncated header chain, a wrong checkpoint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from functional_framework import Testnet, wait_until

from timecoin.encoding import encode
from timecoin.light import LightProof, LightProofError, decode_light_proof, verify_light_proof
from timecoin.light.proof import (
    REJECT_CHECKPOINT,
    REJECT_FINALITY,
    REJECT_HEADERS,
    REJECT_INCLUSION,
    REJECT_SET_NOT_COMMITTED,
    REJECT_TRUNCATED,
)
from timecoin.params import PRESETS
from timecoin.rpc.client import RpcClientError


def _reject(proof: LightProof, height: int, block_hash: bytes) -> LightProofError:
    with pytest.raises(LightProofError) as caught:
        verify_light_proof(proof, height, block_hash)
    return caught.value


def _cli(path: Path, checkpoint: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "timecoin.cli",
            "verify-proof",
            str(path),
            "--trusted-checkpoint",
            checkpoint,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_finality_proof_verifies_offline_and_tampering_is_rejected(
    testnet: Testnet, tmp_path: Path
) -> None:
    node = testnet.nodes[0]
    epoch_length = PRESETS[node.rpc("getblockchaininfo")["chain"]].epoch_length
    # Past the first epoch, so the proof's voting set must come from headers.
    testnet.wait_for_height(epoch_length + 1, timeout_s=60.0)
    genesis = node.rpc("getblockhash", 0)
    checkpoint = f"0:{genesis}"
    genesis_hash = bytes.fromhex(genesis)

    address = testnet.nodes[1].rpc("getnewaddress")
    status = node.rpc("sendtoaddress", address, "1.5", 20)
    txid = status["txid"]
    assert status["status"] == "final", status
    reply = node.rpc("getfinalityproof", txid)
    assert reply["checkpoint"] == checkpoint and reply["finalepoch"] >= 1
    assert reply["votingset"]["epoch"] == reply["finalepoch"]
    proof = decode_light_proof(bytes.fromhex(reply["proof"]))
    verdict = verify_light_proof(proof, 0, genesis_hash)
    assert verdict.txid.hex() == txid and verdict.final_epoch == reply["finalepoch"]
    assert len(proof.headers) == reply["headers"] >= epoch_length - 1

    path = tmp_path / "proof.hex"
    path.write_text(reply["proof"])
    result = _cli(path, checkpoint)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"valid: transaction {txid} is final in epoch")

    finality = proof.finality
    assert finality is not None
    vote = finality.votes[0]
    forged_vote = msgspec.structs.replace(
        vote, signature=bytes([vote.signature[0] ^ 1]) + vote.signature[1:]
    )
    forged = msgspec.structs.replace(
        proof,
        finality=msgspec.structs.replace(finality, votes=[forged_vote, *finality.votes[1:]]),
    )
    error = _reject(forged, 0, genesis_hash)
    assert error.reject_code == REJECT_FINALITY and "bad-signature" in str(error)
    path.write_bytes(encode(forged))
    result = _cli(path, checkpoint)
    assert result.returncode == 1 and "bad-signature" in result.stderr

    for epoch in (finality.epoch - 1, finality.epoch + 5):
        wrong_epoch = msgspec.structs.replace(
            proof, finality=msgspec.structs.replace(finality, epoch=epoch)
        )
        error = _reject(wrong_epoch, 0, genesis_hash)
        assert error.reject_code in (REJECT_FINALITY, REJECT_SET_NOT_COMMITTED), error

    voters = proof.checkpoint_voting_set.voters
    other_set = msgspec.structs.replace(proof.checkpoint_voting_set, voters=voters[:-1])
    error = _reject(
        msgspec.structs.replace(proof, checkpoint_voting_set=other_set), 0, genesis_hash
    )
    assert error.reject_code == REJECT_SET_NOT_COMMITTED
    changing = [i for i, entry in enumerate(proof.headers) if entry.voting_set is not None]
    assert changing, "the headers cross an epoch boundary"
    headers = list(proof.headers)
    entry = headers[changing[0]]
    assert entry.voting_set is not None
    headers[changing[0]] = msgspec.structs.replace(
        entry,
        voting_set=msgspec.structs.replace(entry.voting_set, voters=entry.voting_set.voters[:-1]),
    )
    error = _reject(msgspec.structs.replace(proof, headers=headers), 0, genesis_hash)
    assert error.reject_code == REJECT_HEADERS and "voting set" in str(error)

    truncated = msgspec.structs.replace(proof, headers=proof.headers[:-1])
    error = _reject(truncated, 0, genesis_hash)
    assert error.reject_code == REJECT_SET_NOT_COMMITTED
    gap = msgspec.structs.replace(proof, headers=[*proof.headers[:3], *proof.headers[4:]])
    assert _reject(gap, 0, genesis_hash).reject_code == REJECT_HEADERS

    current = node.rpc("getvotingset")
    assert current["epoch"] >= finality.epoch and current["voters"]
    proof_set = node.rpc("getvotingset", finality.epoch)
    committing = proof.headers[finality.epoch * epoch_length - 2].header
    assert committing.height == finality.epoch * epoch_length - 1
    assert proof_set["epoch"] == finality.epoch
    assert proof_set["hash"] == committing.next_voting_set_hash.hex()
    assert reply["votingset"] == proof_set
    with pytest.raises(RpcClientError, match="not known"):
        node.rpc("getvotingset", 10**9)

    block1 = bytes.fromhex(node.rpc("getblockhash", 1))
    assert _reject(proof, 1, block1).reject_code == REJECT_CHECKPOINT
    assert _reject(proof, 0, block1).reject_code == REJECT_CHECKPOINT

    past = (finality.epoch + 1) * epoch_length
    testnet.wait_for_height(past, timeout_s=60.0)
    with pytest.raises(RpcClientError, match="checkpoint is past"):
        node.rpc("getfinalityproof", txid, past)


def test_inclusion_proof_from_a_block(testnet: Testnet) -> None:
    node = testnet.nodes[2]
    testnet.wait_for_height(2)
    address = testnet.nodes[3].rpc("getnewaddress")
    txid = node.rpc("sendtoaddress", address, "2")

    def confirmed() -> dict[str, Any] | None:
        status: dict[str, Any] = node.rpc("gettransactionfinality", txid)
        return status if status["status"] == "confirmed" else None

    status = wait_until(confirmed, 30.0, f"{txid} in a block")
    reply = node.rpc("getfinalityproof", txid)
    assert reply["includedheight"] == status["height"]
    proof = decode_light_proof(bytes.fromhex(reply["proof"]))
    genesis_hash = bytes.fromhex(node.rpc("getblockhash", 0))
    verdict = verify_light_proof(proof, 0, genesis_hash)
    assert verdict.included_height == status["height"]

    inclusion = proof.inclusion
    assert inclusion is not None
    only_inclusion = msgspec.structs.replace(proof, finality=None)
    short = msgspec.structs.replace(only_inclusion, headers=proof.headers[: inclusion.height - 1])
    assert _reject(short, 0, genesis_hash).reject_code == REJECT_TRUNCATED
    moved = msgspec.structs.replace(
        only_inclusion,
        inclusion=msgspec.structs.replace(inclusion, index=(inclusion.index + 1) % inclusion.count),
    )
    if inclusion.count > 1:
        assert _reject(moved, 0, genesis_hash).reject_code == REJECT_INCLUSION
    later = bytes.fromhex(node.rpc("getblockhash", 1))
    from_later = node.rpc("getfinalityproof", txid, 1)
    assert (
        verify_light_proof(
            decode_light_proof(bytes.fromhex(from_later["proof"])), 1, later
        ).included_height
        == status["height"]
    )
    with pytest.raises(RpcClientError, match="neither final"):
        node.rpc("getfinalityproof", "00" * 32)
