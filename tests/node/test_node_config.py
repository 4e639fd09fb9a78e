"""The TOML config: defaults, strict keys and types, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from timecoin.node.config import ConfigError, NodeConfig, load_config, parse_config, render_config


def test_empty_file_gives_every_default() -> None:
    assert parse_config("", "node.toml") == NodeConfig()


def test_missing_path_gives_defaults() -> None:
    assert load_config(None) == NodeConfig()


def test_fields_are_read() -> None:
    config = parse_config(
        'network = "devnet"\nblock_interval_ms = 500\n[p2p]\nport = 0\nseeds = ["127.0.0.1:1"]\n'
        "[rpc]\nport = 1234\n[metrics]\nenabled = true\n",
        "n.toml",
    )
    assert config.block_interval_ms == 500
    assert config.p2p.seeds == ("127.0.0.1:1",)
    assert config.rpc.port == 1234
    assert config.metrics.enabled


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("bogus = 1", "'bogus'"),
        ("[p2p]\nprot = 1", "p2p.'prot'"),
        ("[nope]\nx = 1", "'nope'"),
        ('network = "moon"', "network"),
        ("block_interval_ms = true", "block_interval_ms"),
        ("[rpc]\nport = 70000", "rpc.port"),
        ('[p2p]\nseeds = ["nohost"]', "p2p.seeds"),
        ('[rpc]\nuser = "a"', "rpc.user"),
        ('log_level = "loud"', "log_level"),
        ("x = ", "invalid TOML"),
    ],
)
def test_bad_config_names_the_key_and_file(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "node.toml")
    assert "node.toml" in str(info.value)
    assert needle in str(info.value)


def test_render_round_trips() -> None:
    config = parse_config('wallet_file = "w.json"\nwallet_password_file = "w.pw"\n', "x")
    assert parse_config(render_config(config), "y") == config


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_resolve_puts_relative_paths_under_the_datadir(tmp_path: Path) -> None:
    resolved = NodeConfig().resolve(tmp_path)
    assert resolved.operator_key_file == tmp_path / "operator.key"
