"""The testnet runner starts a node again when its process dies (after a
back-off, unless told not to) and keeps testnet.json current, so stopping
the testnet reaches the restarted process."""

from __future__ import annotations

import json
import time
from pathlib import Path

from timecoin.node.testnet import TESTNET_FILENAME, init_testnet
from timecoin.node.testnet import TestnetRunner as Runner
from timecoin.rpc.client import RpcClient, RpcClientError

TIMEOUT_S = 60.0


def answers(datadir: Path, url: str) -> bool:
    try:
        RpcClient.from_cookie(datadir, url, timeout_s=5.0).call("getblockcount", [])
    except (RpcClientError, OSError):
        return False
    return True


def wait_for(predicate: object, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_dead_node_is_restarted_and_described(tmp_path: Path) -> None:
    (node,) = init_testnet(tmp_path / "net", 1, 200)
    runner = Runner(tmp_path / "net", [node], restart_backoff_s=0.1)
    try:
        runner.start()
        wait_for(lambda: answers(node.datadir, node.rpc_url), "the node's RPC")
        first = runner.processes[node.name]
        first.kill()
        first.wait(10)
        wait_for(lambda: runner.restart_exited() == [node.name], "the restart")
        second = runner.processes[node.name]
        assert second.pid != first.pid
        described = json.loads((tmp_path / "net" / TESTNET_FILENAME).read_text())
        assert described["nodes"][0]["pid"] == second.pid
        wait_for(lambda: answers(node.datadir, node.rpc_url), "the restarted node's RPC")
    finally:
        runner.stop()
    assert runner.processes[node.name].poll() is not None  # stop reached it


def test_restart_can_be_turned_off(tmp_path: Path) -> None:
    (node,) = init_testnet(tmp_path / "net", 1, 200)
    runner = Runner(tmp_path / "net", [node], restart=False)
    try:
        runner.start()
        process = runner.processes[node.name]
        process.kill()
        process.wait(10)
        assert runner.restart_exited() == []
        assert runner.exited() == [node.name]
    finally:
        runner.stop()
