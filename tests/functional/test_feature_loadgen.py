"""`timecoin loadgen` against a live testnet: every accepted transfer commits."""

from __future__ import annotations

import json
import subprocess
import sys

from functional_framework import Testnet

TPS = 20
DURATION_S = 3


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
