"""`timecoin devnet` builds a one-node chain that `timecoin node` runs."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from pathlib import Path

from functional_framework import wait_until

TIMEOUT_S = 60.0


def _timecoin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "timecoin.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_devnet_chain_runs_and_commits_blocks(tmp_path: Path) -> None:
    datadir = tmp_path / "devnet"
    made = _timecoin("devnet", "--datadir", str(datadir))
    assert made.returncode == 0, made.stderr
    assert f"run it with:  timecoin node --datadir {datadir}" in made.stdout
    # Free ports: the machine may run other devnets on the default ones.
    with (datadir / "node.toml").open("a", encoding="utf-8") as config:
        config.write("block_interval_ms = 300\n\n[p2p]\nport = 0\n\n[rpc]\nport = 0\n")
    with (datadir / "node.log").open("ab") as log:
        node = subprocess.Popen(
            [sys.executable, "-m", "timecoin.cli", "node", "--datadir", str(datadir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def height() -> int:
            done = _timecoin("rpc", "--datadir", str(datadir), "getblockcount")
            return int(done.stdout) if done.returncode == 0 else -1

        wait_until(lambda: height() >= 3, TIMEOUT_S, "three devnet blocks")
        balance = _timecoin("rpc", "--datadir", str(datadir), "getbalance")
        assert float(balance.stdout) >= 1_000_000, balance.stderr
        status = _timecoin("masternode", "--datadir", str(datadir), "status")
        assert status.stdout.startswith("state         ACTIVE"), status.stdout + status.stderr
    finally:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                node.kill()
            node.wait()
    assert node.returncode == 0
