"""The light proof format's own checks (the signatures are checked against a
real node in tests/functional/test_light_proof.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from timecoin.chain import GenesisMasternode, GenesisSpec, build_genesis_state
from timecoin.cli.main import cli
from timecoin.crypto import SigningKey, address_from_public_key, merkle_proof
from timecoin.encoding import encode
from timecoin.light import LightProof, LightProofError, decode_light_proof, verify_light_proof
from timecoin.light.proof import (
    LIGHT_PROOF_VERSION,
    REJECT_CHECKPOINT,
    REJECT_FORMAT,
    REJECT_NOTHING,
    REJECT_SET_NOT_COMMITTED,
    InclusionProof,
)
from timecoin.masternode import registry_from_genesis
from timecoin.params import MINIMAL, Tier
from timecoin.types import compute_block_hash, compute_txid


def _genesis_proof(**changes: object) -> tuple[LightProof, bytes]:
    owner, operator = SigningKey.from_seed(bytes([1]) * 32), SigningKey.from_seed(bytes([2]) * 32)
    state = build_genesis_state(
        GenesisSpec(
            params=MINIMAL,
            timestamp_ms=1_767_225_600_000,
            allocations=((address_from_public_key(owner.public_key), 10**10),),
            masternodes=(
                GenesisMasternode(
                    tier=Tier.BRONZE,
                    owner_key=owner.public_key,
                    operator_key=operator.public_key,
                    reward_address=address_from_public_key(owner.public_key),
                    network_address=b"127.0.0.1:1",
                ),
            ),
        )
    )
    genesis = state.block
    branch = merkle_proof([compute_txid(tx) for tx in genesis.transactions], 0)
    fields: dict[str, object] = {
        "version": LIGHT_PROOF_VERSION,
        "network": MINIMAL.name,
        "block_interval_ms": MINIMAL.block_interval_ms,
        "checkpoint_header": genesis.header,
        "checkpoint_voting_set": registry_from_genesis(genesis, MINIMAL).voting_set,
        "headers": [],
        "tx": genesis.transactions[0],
        "finality": None,
        "inclusion": InclusionProof(0, 0, branch.leaf_count, list(branch.siblings)),
    }
    fields.update(changes)
    return LightProof(**fields), compute_block_hash(genesis.header)  # type: ignore[arg-type]


def test_an_inclusion_in_the_checkpoint_itself_verifies() -> None:
    proof, genesis_hash = _genesis_proof()
    verdict = verify_light_proof(proof, 0, genesis_hash)
    assert verdict.included_height == 0 and verdict.final_epoch is None
    assert decode_light_proof(encode(proof)) == proof


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"version": 2}, REJECT_FORMAT),
        ({"network": "elsewhere"}, REJECT_FORMAT),
        ({"inclusion": None}, REJECT_NOTHING),
    ],
)
def test_format_errors(changes: dict[str, object], code: str) -> None:
    proof, genesis_hash = _genesis_proof(**changes)
    with pytest.raises(LightProofError) as caught:
        verify_light_proof(proof, 0, genesis_hash)
    assert caught.value.reject_code == code


def test_checkpoint_and_its_voting_set_must_match() -> None:
    proof, genesis_hash = _genesis_proof()
    with pytest.raises(LightProofError) as caught:
        verify_light_proof(proof, 0, bytes(32))
    assert caught.value.reject_code == REJECT_CHECKPOINT
    empty_set = proof.checkpoint_voting_set.__class__(epoch=0, voters=[])
    other, _ = _genesis_proof(checkpoint_voting_set=empty_set)
    with pytest.raises(LightProofError) as caught:
        verify_light_proof(other, 0, genesis_hash)
    assert caught.value.reject_code == REJECT_SET_NOT_COMMITTED
    with pytest.raises(LightProofError) as caught:
        decode_light_proof(b"\x93garbage")
    assert caught.value.reject_code == REJECT_FORMAT


def test_cli_verifies_and_rejects(tmp_path: Path) -> None:
    proof, genesis_hash = _genesis_proof()
    path = tmp_path / "proof.hex"
    path.write_text(encode(proof).hex() + "\n")
    runner = CliRunner()
    ok = runner.invoke(
        cli, ["verify-proof", str(path), "--trusted-checkpoint", f"0:{genesis_hash.hex()}"]
    )
    assert ok.exit_code == 0 and "included in block 0" in ok.output
    bad = runner.invoke(cli, ["verify-proof", str(path), "--trusted-checkpoint", f"0:{'00' * 32}"])
    assert bad.exit_code == 1 and REJECT_CHECKPOINT in bad.output
    malformed = runner.invoke(cli, ["verify-proof", str(path), "--trusted-checkpoint", "zero"])
    assert malformed.exit_code == 2 and "HEIGHT:HASH" in malformed.output
