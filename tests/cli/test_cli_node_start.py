"""`timecoin node` start-up flags, and a clear refusal before anything is created."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from timecoin.cli.main import cli
from timecoin.crypto import SigningKey
from timecoin.node.config import ConfigError, NodeConfig, apply_overrides, default_datadir


def test_a_new_node_without_genesis_says_what_to_do_and_creates_nothing(tmp_path: Path) -> None:
    datadir = tmp_path / "missing" / "node"
    result = CliRunner().invoke(cli, ["node", "--network", "testnet", "--datadir", str(datadir)])
    assert result.exit_code == 1
    assert f"no genesis block at {datadir / 'genesis.block'}" in result.output
    assert "--genesis FILE" in result.output and "Nothing was created" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "missing").exists()


def test_the_default_data_directory_is_per_network(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--network", "testnet", "node"], env={"HOME": str(tmp_path)})
    assert result.exit_code == 1
    expected = tmp_path / ".timecoin" / "testnet" / "genesis.block"
    assert f"no genesis block at {expected}" in result.output
    assert not (tmp_path / ".timecoin").exists()


def test_a_bad_seed_is_named(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["node", "--datadir", str(tmp_path), "--seed", "nonsense"])
    assert result.exit_code == 1
    assert "command line: p2p.seeds: 'nonsense' is not host:port" in result.output


def test_overrides_add_seeds_and_replace_network_and_genesis() -> None:
    config = apply_overrides(
        NodeConfig(),
        network="testnet",
        genesis_file=Path("/srv/net/genesis.block"),
        seeds=("203.0.113.1:24200", "203.0.113.1:24200", "203.0.113.2:24200"),
    )
    assert config.network == "testnet"
    assert config.genesis_file == Path("/srv/net/genesis.block")
    assert config.p2p.seeds == ("203.0.113.1:24200", "203.0.113.2:24200")
    assert default_datadir("testnet") == Path.home() / ".timecoin" / "testnet"
    with pytest.raises(ConfigError, match="network = 'nonet'"):
        apply_overrides(NodeConfig(), network="nonet")


def test_a_genesis_that_is_not_the_stores_names_both_hashes(tmp_path: Path) -> None:
    datadir = tmp_path / "node"
    made = CliRunner().invoke(cli, ["devnet", "--datadir", str(datadir)])
    assert made.exit_code == 0, made.output
    key = SigningKey.from_seed(bytes([3]) * 32).public_key.hex()
    manifest = tmp_path / "net.toml"
    manifest.write_text(
        f'network = "devnet"\n[[masternodes]]\ntier = "bronze"\noperator_key = "{key}"\n',
        encoding="utf-8",
    )
    other = tmp_path / "other.block"
    built = CliRunner().invoke(
        cli, ["genesis", "new", "--manifest", str(manifest), "--out", str(other)]
    )
    assert built.exit_code == 0, built.output
    other_hash = built.output.split()[2]
    result = CliRunner().invoke(cli, ["node", "--datadir", str(datadir), "--genesis", str(other)])
    assert result.exit_code == 1
    assert f"is genesis {other_hash}, but the chain store in {datadir / 'chain'}" in result.output
    assert "belongs to genesis " in result.output and "Traceback" not in result.output
