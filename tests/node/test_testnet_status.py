"""The testnet's start banner and status line."""

from __future__ import annotations

from pathlib import Path

from timecoin.node.testnet import (
    StatusSample,
    compute_stall_after_s,
    format_start_banner,
    format_status,
    init_testnet,
)


def test_status_line_marks_a_stalled_chain() -> None:
    sample = StatusSample(heights=[7, None], peers=[1, None], tx_count=0)
    assert format_status(sample, 2.0) == "height [7 -]  peers [1 -]  tx/s 2.0"
    assert format_status(sample, 0.0, 12.4) == (
        "height [7 -]  peers [1 -]  tx/s 0.0  STALLED: no block for 12 s"
    )


def test_banner_gives_rpc_urls_and_next_commands(tmp_path: Path) -> None:
    nodes = init_testnet(tmp_path / "net", 2, 800)
    lines = format_start_banner(tmp_path / "net", nodes)
    assert lines[0] == f"node0  rpc {nodes[0].rpc_url}  datadir {nodes[0].datadir}"
    assert f"try:  timecoin rpc --datadir {nodes[0].datadir} getblockchaininfo" in lines
    assert f"      timecoin testnet add-node --datadir {tmp_path / 'net'}" in lines
    assert f"explorer: {nodes[0].explorer_url}  (REST API: {nodes[0].rest_url})" in lines
    assert compute_stall_after_s(nodes) == 8.0
    assert compute_stall_after_s([]) == 10.0
