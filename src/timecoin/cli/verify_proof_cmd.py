"""`timecoin verify-proof FILE --trusted-checkpoint HEIGHT:HASH`: check a light
proof offline (docs/spec/light.md); exit status 0 when it holds, 1 when not."""

from __future__ import annotations

from pathlib import Path

import click

from timecoin.light import LightProofError, decode_light_proof, verify_light_proof
from timecoin.light.proof import MAX_PROOF_BYTES

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


def _read_proof(path: Path) -> bytes:
    """The proof's bytes: the file as written by `getfinalityproof` (hex) or raw."""
    with path.open("rb") as handle:
        data = handle.read(2 * MAX_PROOF_BYTES + 2)
    text = data.strip()
    if text and len(text) % 2 == 0 and set(text) <= _HEX_DIGITS:
        return bytes.fromhex(text.decode("ascii"))
    return data


def _parse_checkpoint(text: str) -> tuple[int, bytes]:
    height, sep, digest = text.partition(":")
    if not sep or not height.isdigit() or len(digest) != 64:
        raise click.BadParameter("expected HEIGHT:HASH (64 hex digits)")
    try:
        return int(height), bytes.fromhex(digest)
    except ValueError:
        raise click.BadParameter("expected HEIGHT:HASH (64 hex digits)") from None


@click.command("verify-proof")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--trusted-checkpoint",
    required=True,
    help="HEIGHT:HASH of a block you trust (e.g. 0:<genesis hash>).",
)
def verify_proof_cmd(file: Path, trusted_checkpoint: str) -> None:
    """Check offline that a transaction is final or in a block, from headers alone."""
    height, block_hash = _parse_checkpoint(trusted_checkpoint)
    try:
        proof = decode_light_proof(_read_proof(file))
        verdict = verify_light_proof(proof, height, block_hash)
    except LightProofError as exc:
        click.echo(f"rejected: {exc}", err=True)
        raise SystemExit(1) from None
    claims = []
    if verdict.final_epoch is not None:
        claims.append(f"final in epoch {verdict.final_epoch}")
    if verdict.included_height is not None:
        claims.append(f"included in block {verdict.included_height}")
    click.echo(f"valid: transaction {verdict.txid.hex()} is {' and '.join(claims)}")
    click.echo(
        f"headers verified from {height} to {verdict.verified_height} {verdict.verified_hash.hex()}"
    )
