"""`timecoin genesis new|show`: a new network's genesis from a manifest."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from timecoin.cli.main import cli
from timecoin.crypto import SigningKey, address_from_public_key, encode_address
from timecoin.encoding import decode
from timecoin.masternode import registry_from_genesis
from timecoin.params import COIN, TESTNET
from timecoin.types import Block, compute_block_hash

OPERATORS = [SigningKey.from_seed(bytes([i + 1]) * 32) for i in range(4)]
OWNER = SigningKey.from_seed(bytes([9]) * 32)
FUNDED = encode_address(TESTNET.address_hrp, address_from_public_key(OWNER.public_key))


def _manifest(masternodes: str, extra: str = "") -> str:
    return (
        f'network = "testnet"\ntimestamp_ms = 1767225600000\n{extra}\n{masternodes}\n'
        f'[[allocations]]\naddress = "{FUNDED}"\namount = "2500.5"\n'
    )


def _masternode(key: SigningKey, index: int, tier: str = "bronze", **fields: str) -> str:
    lines = ["[[masternodes]]", f'tier = "{tier}"', f'operator_key = "{key.public_key.hex()}"']
    lines.append(f'network_address = "203.0.113.{index + 1}:24200"')
    lines += [f'{name} = "{value}"' for name, value in fields.items()]
    return "\n".join(lines) + "\n"


def _run(tmp_path: Path, manifest: str, *extra: str) -> Result:
    path = tmp_path / "net.toml"
    path.write_text(manifest, encoding="utf-8")
    return CliRunner().invoke(
        cli, ["genesis", "new", "--manifest", str(path), "--out", str(tmp_path / "g"), *extra]
    )


def test_new_writes_the_genesis_and_prints_its_hash(tmp_path: Path) -> None:
    masternodes = "".join(_masternode(k, i) for i, k in enumerate(OPERATORS[:3]))
    masternodes += _masternode(OPERATORS[3], 3, owner_key=OWNER.public_key.hex(), tier="silver")
    result = _run(tmp_path, _manifest(masternodes))
    assert result.exit_code == 0, result.output
    block = decode((tmp_path / "g").read_bytes(), Block, 16_000_000)
    genesis_hash = compute_block_hash(block.header).hex()
    assert result.output.splitlines()[0] == f"genesis hash  {genesis_hash}"
    assert f"chain id      {TESTNET.chain_id}" in result.output
    registry = registry_from_genesis(block, TESTNET)
    assert {e.operator_key for e in registry.entries} == {k.public_key for k in OPERATORS}
    allocation = block.transactions[0].outputs[0]
    assert allocation.amount == 2500 * COIN + COIN // 2
    assert allocation.address == address_from_public_key(OWNER.public_key)

    shown = CliRunner().invoke(cli, ["genesis", "show", str(tmp_path / "g")])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[0] == f"genesis hash  {genesis_hash}"
    assert "masternodes   4 (4 voters)" in shown.output
    assert f"silver  operator {OPERATORS[3].public_key.hex()}" in shown.output

    again = _run(tmp_path, _manifest(masternodes))
    assert again.exit_code == 1 and "already exists; not overwriting" in again.output


def test_manifest_errors_name_the_entry_and_key(tmp_path: Path) -> None:
    good = _masternode(OPERATORS[0], 0)
    cases = [
        (
            _manifest(good + _masternode(OPERATORS[1], 1, colour="red")),
            "masternodes[1]: unknown key 'colour'",
        ),
        (_manifest(good.replace("bronze", "platinum")), "masternodes[0].tier: expected one of"),
        (
            _manifest(good.replace(OPERATORS[0].public_key.hex(), "abcd")),
            "masternodes[0].operator_key: expected a public key",
        ),
        (_manifest(good + _masternode(OPERATORS[0], 1)), "operator key"),
        (_manifest(good, 'colour = "red"'), "manifest: unknown key 'colour'"),
        (_manifest(good).replace(FUNDED, "tdev1nonsense"), "allocations[0].address:"),
        (_manifest(""), "at least one masternode"),
    ]
    for manifest, words in cases:
        result = _run(tmp_path, manifest)
        assert result.exit_code == 1, (words, result.output)
        assert words in result.output, (words, result.output)
        assert "Traceback" not in result.output
        assert not (tmp_path / "g").exists()
