"""The container entry point on real processes, without a container engine.

contrib/docker/init-network.sh builds a 4-masternode network (keys,
manifest, genesis) and contrib/docker/entrypoint.sh starts each node from
environment variables, exactly as the compose file runs them; here the nodes
share loopback (each on its own 127.0.0.1x address, RPC on port 0). The
image's health check command must succeed and the network must commit
certified blocks.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from functional_framework import wait_until

from timecoin.node.testnet import find_free_ports

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "contrib" / "docker"
NODES = 4
TIMEOUT_S = 60.0


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in started:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()


def _env(**extra: str) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}", **extra}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=60, check=False, env=_env()
    )


def test_entrypoint_starts_a_network_built_by_init_network(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    port, metrics_port = find_free_ports(2)
    netdir = tmp_path / "net"
    init = _run(
        "sh", str(SCRIPTS / "init-network.sh"), str(netdir), "4", "devnet", f"127.0.0.1%d:{port}"
    )
    assert init.returncode == 0, init.stderr + init.stdout
    assert init.stdout.startswith("genesis hash  ")
    again = _run("sh", str(SCRIPTS / "init-network.sh"), str(netdir), "4", "devnet", "x")
    assert "exists; nothing to do" in again.stdout

    for index in range(NODES):
        seeds = ",".join(f"127.0.0.1{j}:{port}" for j in range(NODES) if j != index)
        log = (tmp_path / f"node{index}.log").open("ab")
        processes.append(
            subprocess.Popen(
                ["sh", str(SCRIPTS / "entrypoint.sh")],
                env=_env(
                    TIMECOIN_DATADIR=str(netdir / f"node{index}"),
                    TIMECOIN_NETWORK="devnet",
                    TIMECOIN_P2P_HOST=f"127.0.0.1{index}",
                    TIMECOIN_P2P_PORT=str(port),
                    TIMECOIN_RPC_PORT="0",
                    TIMECOIN_BLOCK_INTERVAL_MS="500",
                    TIMECOIN_ALLOW_LOCAL_ADDRESSES="true",
                    TIMECOIN_SEEDS=seeds,
                    **({"TIMECOIN_METRICS_PORT": str(metrics_port)} if index == 0 else {}),
                ),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        log.close()

    def healthy(index: int) -> bool:
        datadir = str(netdir / f"node{index}")
        return _run("timecoin", "rpc", "--datadir", datadir, "getblockcount").returncode == 0

    for index in range(NODES):
        wait_until(lambda i=index: healthy(i), TIMEOUT_S, f"node{index} health check")
    first = (tmp_path / "node0.log").read_text(encoding="utf-8")
    key = (netdir / "node0" / "operator.key").exists()
    assert key and "timecoin-entrypoint: operator key " in first

    def certified() -> bool:
        datadir = str(netdir / "node1")
        height = int(_run("timecoin", "rpc", "--datadir", datadir, "getblockcount").stdout)
        if height < 3:
            return False
        block_hash = _run("timecoin", "rpc", "--datadir", datadir, "getblockhash", str(height))
        block = json.loads(
            _run(
                "timecoin", "rpc", "--datadir", datadir, "getblock", block_hash.stdout.strip()
            ).stdout
        )
        certificate = block["prevcertificate"]
        return certificate is not None and len(certificate["signers"]) >= 3

    wait_until(certified, TIMEOUT_S, "certified blocks")
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(metrics_url, timeout=10.0) as response:
        assert "\ntimecoin_height " in response.read().decode("utf-8")
