"""Launch a new network the way docs/operator.md does, on loopback.

Each operator creates an operator key offline (`timecoin masternode
operator-key`), the keys go into a manifest, `timecoin genesis new` builds
the genesis, and every node starts with `timecoin node --genesis FILE --seed
HOST:PORT` and `[rpc] port = 0` (the CLI finds it through `rpc.url`). The
network must commit blocks certified by a quorum of its four masternodes.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from functional_framework import wait_until

from timecoin.node.testnet import find_free_ports

NODES = 4
START_TIMEOUT_S = 60.0


def _try_timecoin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "timecoin.cli", *args],
        capture_output=True,
        timeout=60,
        check=False,
        text=True,
    )


def _timecoin(*args: str) -> str:
    result = _try_timecoin(*args)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


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


def test_four_operators_launch_a_network_from_a_manifest(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    datadirs = [tmp_path / f"op{i}" for i in range(NODES)]
    p2p_ports = find_free_ports(NODES)
    keys = [_timecoin("masternode", "--datadir", str(d), "operator-key").strip() for d in datadirs]
    manifest = ['network = "devnet"']
    for key, port in zip(keys, p2p_ports, strict=True):
        manifest += [
            "[[masternodes]]",
            'tier = "bronze"',
            f'operator_key = "{key}"',
            f'network_address = "127.0.0.1:{port}"',
        ]
    (tmp_path / "net.toml").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    genesis = tmp_path / "genesis.block"
    shown = _timecoin(
        "genesis", "new", "--manifest", str(tmp_path / "net.toml"), "--out", str(genesis)
    )
    genesis_hash = shown.splitlines()[0].split()[-1]

    for datadir, port in zip(datadirs, p2p_ports, strict=True):
        (datadir / "node.toml").write_text(
            'network = "devnet"\nblock_interval_ms = 500\n\n'
            f'[p2p]\nhost = "127.0.0.1"\nport = {port}\nallow_local_addresses = true\n\n'
            "[rpc]\nport = 0\n",
            encoding="utf-8",
        )
        seeds = [f"--seed=127.0.0.1:{p}" for p in p2p_ports if p != port]
        log = (datadir / "node.log").open("ab")
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "timecoin.cli",
                    "node",
                    "--datadir",
                    str(datadir),
                    "--genesis",
                    str(genesis),
                    *seeds,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        log.close()

    def call(datadir: Path, *args: str) -> str:
        return _timecoin("rpc", "--datadir", str(datadir), *args).strip()

    for datadir in datadirs:
        wait_until(
            lambda d=datadir: (
                _try_timecoin("rpc", "--datadir", str(d), "getblockcount").returncode == 0
            ),
            START_TIMEOUT_S,
            f"{datadir.name} RPC (log: {datadir / 'node.log'})",
        )
    assert call(datadirs[3], "getblockhash", "0") == genesis_hash

    def certified_by_all() -> bool:
        height = int(call(datadirs[0], "getblockcount"))
        if height < 3:
            return False
        block = json.loads(
            call(datadirs[0], "getblock", call(datadirs[0], "getblockhash", str(height)))
        )
        certificate = block["prevcertificate"]
        return certificate is not None and len(certificate["signers"]) >= 3

    wait_until(certified_by_all, START_TIMEOUT_S, "blocks certified by the new network")
    status = _timecoin("masternode", "--datadir", str(datadirs[2]), "status")
    assert status.startswith("state         ACTIVE"), status
