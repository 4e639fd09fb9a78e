"""`timecoin loadgen` against a live testnet: every accepted transfer commits."""

from __future__ import annotations

import json
import subprocess
import sys

from functional_framework import Testnet

from timecoin.encoding import decode
from timecoin.params import get_preset
from timecoin.types import Block

TPS = 20
DURATION_S = 3
BOUNDARY_TPS = 50
BOUNDARY_DURATION_S = 6


def test_loadgen_transfers_are_accepted_and_committed(testnet: Testnet) -> None:
    testnet.wait_for_height(1)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "timecoin.cli",
            "loadgen",
            "--testnet",
            str(testnet.datadir),
            "--tps",
            str(TPS),
            "--duration",
            str(DURATION_S),
            "--drain-timeout",
            "30",
            "--json",
            "--quiet",
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    report = json.loads(completed.stdout)
    assert report["nodes"] == len(testnet.nodes)
    assert report["starved"] == 0
    assert report["rejected"] == 0, report["rejections"]
    # Each due transfer was sent; a tick's rounding may drop the last one.
    assert TPS * DURATION_S - 2 <= report["submitted"] <= TPS * DURATION_S
    assert report["accepted"] == report["submitted"]
    assert report["committed"] == report["accepted"]
    assert report["latency_ms"]["p50"] is not None
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]
    # The nodes agree on the chain that carries the load.
    height = min(node.height() for node in testnet.nodes)
    assert len({node.rpc("getblockhash", height) for node in testnet.nodes}) == 1


def test_loadgen_across_an_epoch_boundary(testnet: Testnet) -> None:
    """Load through an epoch's last block (ADR 0004): every accepted transfer
    commits, that block carries epoch reports, and blocks keep committing."""
    epoch_length = get_preset("devnet").epoch_length
    tip = testnet.nodes[0].height()
    last = (tip // epoch_length + 1) * epoch_length + epoch_length - 1
    testnet.wait_until_height(testnet.nodes[0], last - 6, timeout_s=60.0)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "timecoin.cli",
            "loadgen",
            "--testnet",
            str(testnet.datadir),
            "--tps",
            str(BOUNDARY_TPS),
            "--duration",
            str(BOUNDARY_DURATION_S),
            "--drain-timeout",
            "30",
            "--json",
            "--quiet",
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    report = json.loads(completed.stdout)
    assert report["rejected"] == 0, report["rejections"]
    assert report["accepted"] == report["submitted"] > 0
    assert report["committed"] == report["accepted"]
    testnet.wait_for_height(last + 3, timeout_s=30.0)
    assert len({node.rpc("getblockhash", last) for node in testnet.nodes}) == 1
    raw = testnet.nodes[0].rpc("getblock", testnet.nodes[0].rpc("getblockhash", last), 0)
    block = decode(bytes.fromhex(raw), Block, get_preset("devnet").sizes.max_block_bytes)
    assert block.reports, f"the epoch's last block {last} carries no reports"
