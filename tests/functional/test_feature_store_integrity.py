"""A real node on a damaged store file, header or block, or write-ahead log
refuses to start, or stops, with a message
naming the damage and the repair and exit status 3; it never crashes on the
damage nor serves a damaged record."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from single_node import (
    STARTED_LINE,
    LoneNode,
    build_lone_testnet,
    make_lone_node,
    run_once,
    stop_lone_nodes,  # noqa: F401  (autouse: stops the nodes)
)

from timecoin.node.faults import EXIT_STORE_DAMAGED
from timecoin.rpc.client import RpcClientError
from timecoin.storage import LmdbStore, WriteBatch, schema

CHAIN_HEIGHT = 12


@pytest.fixture(scope="session")
def lone_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-node testnet's node directory, built once per session."""
    return build_lone_testnet(tmp_path_factory.mktemp("lone-cache"))


@pytest.fixture
def stored_node(lone_source: Path, tmp_path: Path) -> Path:
    """A lone node's data directory holding CHAIN_HEIGHT blocks, stopped cleanly."""
    datadir = make_lone_node(lone_source, tmp_path / "node")
    node = LoneNode(datadir)
    node.wait_for_height(CHAIN_HEIGHT)
    assert node.stop() == 0
    return datadir


def flip_header_bit(datadir: Path, height: int) -> str:
    """Flip the last bit of the stored header of main-chain block `height`; its hash, hex."""
    with LmdbStore(datadir / "chain") as kv:
        block_hash = kv.get(schema.height_key(height))
        assert block_hash is not None
        key = schema.header_key(block_hash)
        value = bytearray(kv.get(key) or b"")
        value[-1] ^= 1
        batch = WriteBatch()
        batch.put(key, bytes(value))
        kv.write(batch)
    return block_hash.hex()


@pytest.mark.parametrize("cut", ["half", "8KiB"])
def test_node_refuses_a_truncated_store(stored_node: Path, cut: str) -> None:
    data_file = stored_node / "chain" / "data.mdb"
    size = data_file.stat().st_size
    os.truncate(data_file, size // 2 if cut == "half" else 8 * 1024)
    status, log = run_once(stored_node)
    assert status == EXIT_STORE_DAMAGED, log
    assert "data.mdb is truncated" in log
    assert "resyncs the chain from its peers" in log
    assert "Traceback" not in log


def test_node_refuses_a_damaged_header_near_the_tip(stored_node: Path) -> None:
    with LmdbStore(stored_node / "chain") as kv:
        tip_height = int.from_bytes((kv.get(schema.TIP_KEY) or b"")[:8], "big")
    damaged = flip_header_bit(stored_node, tip_height - 2)
    status, log = run_once(stored_node)
    assert status == EXIT_STORE_DAMAGED, log
    assert f"header {damaged} is damaged" in log
    assert "Traceback" not in log


def test_node_stops_rather_than_serve_a_damaged_header(stored_node: Path) -> None:
    damaged = flip_header_bit(stored_node, 1)  # deeper than the start-up check
    node = LoneNode(stored_node)
    node.wait_for_log(STARTED_LINE)
    with pytest.raises(RpcClientError, match="damaged"):
        node.rpc("getblockheader", damaged)
    assert node.wait_exit() == EXIT_STORE_DAMAGED
    log = node.log()
    assert f"stopping: header {damaged} is damaged" in log
    assert "Traceback" not in log


def test_node_refuses_a_wal_that_lost_a_record_unless_told(stored_node: Path) -> None:
    with LmdbStore(stored_node / "chain") as kv:
        keys = [key for key, _ in kv.iter_prefix(schema.CONSENSUS_WAL_PREFIX)]
        assert keys, "the stopped node logged its votes of the height in progress"
        batch = WriteBatch()
        batch.delete(keys[-1])
        kv.write(batch)
    status, log = run_once(stored_node)
    assert status == EXIT_STORE_DAMAGED, log
    assert "consensus WAL is damaged: records" in log
    assert "(the last written) are missing" in log
    assert "Set accept_damaged_wal = true" in log
    config = stored_node / "node.toml"
    text = config.read_text(encoding="utf-8")
    assert "accept_damaged_wal = false\n" in text  # written out with every default
    config.write_text(text.replace("accept_damaged_wal = false", "accept_damaged_wal = true"))
    node = LoneNode(stored_node)
    node.wait_for_height(CHAIN_HEIGHT + 3)
    assert "accept_damaged_wal is set: kept" in node.log()
    assert node.stop() == 0


def test_verifychain_finds_a_damaged_header_deep_in_the_chain(stored_node: Path) -> None:
    node = LoneNode(stored_node)
    node.wait_for_height(CHAIN_HEIGHT)
    assert node.rpc("verifychain") is True  # the last 6
    assert node.rpc("verifychain", 4, 0) is True  # all
    assert node.stop() == 0
    damaged = flip_header_bit(stored_node, 1)
    node = LoneNode(stored_node)
    node.wait_for_log(STARTED_LINE)  # deeper than the start-up check
    assert node.rpc("verifychain", 3, 0) is False
    assert node.wait_exit() == EXIT_STORE_DAMAGED
    assert f"stopping: header {damaged} is damaged" in node.log()
