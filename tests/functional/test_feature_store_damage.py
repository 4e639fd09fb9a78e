"""A real node on a damaged store refuses to start with a message naming the
damage and the repair, and a distinct exit status; it never crashes on it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from single_node import STARTED_LINE, LoneNode, make_lone_node, run_once

from timecoin.node.node import EXIT_STORE_DAMAGED


@pytest.fixture
def stored_node(cached_testnet: Path, tmp_path: Path) -> Path:
    """A lone node's data directory after one start and a clean stop."""
    datadir = make_lone_node(cached_testnet, tmp_path / "node")
    node = LoneNode(datadir)
    node.wait_for_log(STARTED_LINE)
    assert node.stop() == 0
    return datadir


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
