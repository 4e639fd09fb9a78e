"""`loadgen` drives load through a node restart: it reads the node's new
cookie and keeps counting commits (it used to keep the first cookie and
have every later batch refused)."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from timecoin.node.loadgen import LoadgenConfig, LoadGenerator, LoadgenReport, read_testnet
from timecoin.node.testnet import TestnetRunner as Runner
from timecoin.node.testnet import init_testnet
from timecoin.rpc.client import RpcClient, RpcClientError

BLOCK_INTERVAL_MS = 200
TIMEOUT_S = 60.0


def height_of(datadir: Path, url: str) -> int:
    """The node's height, or -1 while it does not answer."""
    try:
        return int(RpcClient.from_cookie(datadir, url, timeout_s=5.0).call("getblockcount", []))
    except (RpcClientError, OSError):
        return -1


def wait_for(predicate: object, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_loadgen_keeps_committing_after_a_node_restarts(tmp_path: Path) -> None:
    datadir = tmp_path / "testnet"
    (node,) = init_testnet(datadir, 1, BLOCK_INTERVAL_MS)
    runner = Runner(datadir, [node])
    restarted: list[subprocess.Popen[bytes]] = []
    try:
        runner.start()
        wait_for(lambda: height_of(node.datadir, node.rpc_url) >= 1, "the node's first block")
        generator = LoadGenerator(
            read_testnet(datadir), LoadgenConfig(tps=20, duration_s=15, drain_timeout_s=20)
        )
        reports: list[LoadgenReport] = []
        loader = threading.Thread(target=lambda: reports.append(generator.run()), daemon=True)
        loader.start()
        wait_for(lambda: generator.report.committed >= 20, "commits before the kill")
        process = runner.processes[node.name]
        process.kill()
        process.wait(10)
        (node.datadir / ".cookie").unlink(missing_ok=True)
        committed_before = generator.report.committed
        with (node.datadir / "node.log").open("ab") as log:
            restarted.append(subprocess.Popen(node.argv(), stdout=log, stderr=subprocess.STDOUT))
        loader.join(TIMEOUT_S)
        assert reports, "the load generator did not finish"
        report = reports[0]
        assert report.committed >= committed_before + 20, report.format()
    finally:
        for process in restarted:
            process.terminate()
            process.wait(15)
        runner.stop()
