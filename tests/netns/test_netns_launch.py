"""Launch a network across five hosts with the commands of docs/operator.md
(run by `make test-net`).

Each host is a network namespace; every pair of hosts shares a link
(netns_lab.py). Host 0 holds the wallet genesis funds. The operators of
hosts 0-3 create operator keys, one writes the manifest and builds the
genesis (`timecoin genesis new`), and each starts `timecoin node --genesis
FILE --seed HOST:PORT ...` on the network's default ports. Then host 4
joins: operator key, the same genesis file, its seeds; host 0's wallet funds
and registers its collateral (`timecoin masternode register`), and host 4
becomes ACTIVE at the next epoch. The guide uses testnet; this runs devnet
for its 20-block epochs.

Skipped unless TIMECOIN_NETNS is set, and with the reason when namespaces
cannot be created here (not root, no `ip`, refused).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from netns_lab import NetnsLab, netns_unavailable, wait_until

HOSTS = 5
GENESIS_HOSTS = 4
P2P_PORT = 24300
"""The devnet's default p2p port: each host has its own port space."""
TIMEOUT_S = 60.0
EPOCH_WAIT_S = 60.0


class _Hosts(NetnsLab):
    """The lab's namespaces and links, without its testnet nodes."""

    def _create_nodes(self) -> None:
        return


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[_Hosts]:
    if not os.environ.get("TIMECOIN_NETNS"):
        pytest.skip("namespace tests run by `make test-net` (TIMECOIN_NETNS=1)")
    reason = netns_unavailable()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
    with _Hosts(tmp_path / "hosts", HOSTS, 500) as lab:
        yield lab


def _bin_env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}


def test_four_hosts_launch_a_network_and_a_fifth_joins(hosts: _Hosts, tmp_path: Path) -> None:
    datadirs = [tmp_path / f"host{i}" for i in range(HOSTS)]
    processes: list[subprocess.Popen[bytes]] = []

    def on_host(index: int, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["ip", "netns", "exec", hosts.namespace_of(index), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=_bin_env(),
        )
        if check:
            assert done.returncode == 0, f"{args}: {done.stderr}{done.stdout}"
        return done.stdout.strip() if done.returncode == 0 else ""

    def address(index: int) -> str:
        """Host `index`'s public p2p address (its end of the link to a neighbour)."""
        other = 1 if index == 0 else 0
        return f"{hosts.link(index, other).address_of(index)}:{P2P_PORT}"

    def seeds(index: int, count: int) -> list[str]:
        return [
            f"--seed={hosts.link(index, j).address_of(j)}:{P2P_PORT}"
            for j in range(count)
            if j != index
        ]

    def start(index: int, peers: int) -> None:
        datadir = datadirs[index]
        with (datadir / "node.log").open("ab") as log:
            processes.append(
                subprocess.Popen(
                    [
                        "ip",
                        "netns",
                        "exec",
                        hosts.namespace_of(index),
                        sys.executable,
                        "-m",
                        "timecoin.cli",
                        "node",
                        "--datadir",
                        str(datadir),
                        "--genesis",
                        str(tmp_path / "genesis.block"),
                        *seeds(index, peers),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def rpc(index: int, *args: str, check: bool = True) -> str:
        datadir = str(datadirs[index])
        return on_host(index, "timecoin", "rpc", "--datadir", datadir, *args, check=check)

    def height(index: int) -> int:
        """The host's tip height, or -1 while its RPC does not answer."""
        text = rpc(index, "getblockcount", check=False)
        return int(text) if text.isdigit() else -1

    try:
        # Section 4: each operator creates an operator key; host 0 also a wallet.
        keys = [
            on_host(i, "timecoin", "masternode", "--datadir", str(d), "operator-key")
            for i, d in enumerate(datadirs)
        ]
        (datadirs[0] / "wallet.password").write_text("operator test password\n", "utf-8")
        funded = on_host(
            0,
            "timecoin",
            "--network",
            "devnet",
            "wallet",
            "create",
            "--wallet",
            str(datadirs[0] / "wallet.json"),
            "--password-file",
            str(datadirs[0] / "wallet.password"),
        )
        # Section 8: the manifest, the genesis, a node.toml per host.
        manifest = ['network = "devnet"']
        for i in range(GENESIS_HOSTS):
            manifest += [
                "[[masternodes]]",
                'tier = "bronze"',
                f'operator_key = "{keys[i]}"',
                f'network_address = "{address(i)}"',
            ]
        manifest += ["[[allocations]]", f'address = "{funded}"', 'amount = "100000"']
        (tmp_path / "net.toml").write_text("\n".join(manifest) + "\n", encoding="utf-8")
        shown = on_host(
            0,
            "timecoin",
            "genesis",
            "new",
            "--manifest",
            str(tmp_path / "net.toml"),
            "--out",
            str(tmp_path / "genesis.block"),
        )
        genesis_hash = shown.splitlines()[0].split()[-1]
        for i, datadir in enumerate(datadirs):
            wallet = (
                'wallet_file = "wallet.json"\nwallet_password_file = "wallet.password"\n'
                if i == 0
                else ""
            )
            (datadir / "node.toml").write_text(
                f'network = "devnet"\nblock_interval_ms = 500\n{wallet}', encoding="utf-8"
            )
        for i in range(GENESIS_HOSTS):
            start(i, GENESIS_HOSTS)
        for i in range(GENESIS_HOSTS):
            wait_until(lambda i=i: height(i) >= 0, TIMEOUT_S, f"host{i} RPC")
        wait_until(lambda: height(3) >= 3, TIMEOUT_S, "blocks on host 3")

        # The fifth host joins with the same genesis file and its seeds.
        start(4, HOSTS)
        target = height(0)
        wait_until(lambda: height(4) >= target, TIMEOUT_S, f"host4 synced to {target}")
        assert rpc(4, "getblockhash", "0") == genesis_hash
        assert rpc(4, "getblockhash", str(target)) == rpc(0, "getblockhash", str(target))
        status = on_host(4, "timecoin", "masternode", "--datadir", str(datadirs[4]), "status")
        assert status.startswith("state         NOT_REGISTERED"), status

        # Section 6: fund the collateral and register it from host 0's wallet.
        collateral_address = rpc(0, "getnewaddress")
        funding = json.loads(rpc(0, "sendtoaddress", collateral_address, "1000", "20"))
        assert funding["status"] in ("final", "confirmed"), funding
        wait_until(
            lambda: any(c["txid"] == funding["txid"] for c in json.loads(rpc(0, "listunspent"))),
            20.0,
            "the collateral in host 0's wallet",
        )
        registered = on_host(
            0,
            "timecoin",
            "masternode",
            "--datadir",
            str(datadirs[0]),
            "register",
            "bronze",
            funding["txid"],
            "0",
            keys[4],
            "--network-address",
            address(4),
        )
        assert registered.startswith("masternode id  "), registered

        def host4_state() -> str:
            datadir = str(datadirs[4])
            text = on_host(4, "timecoin", "masternode", "--datadir", datadir, "status", check=False)
            return text.split()[1].rstrip(":") if text else ""

        wait_until(lambda: host4_state() == "PENDING", 30.0, "host4 pending")
        wait_until(lambda: host4_state() == "ACTIVE", EPOCH_WAIT_S, "host4 active")
        info = json.loads(rpc(4, "getconsensusinfo"))
        assert info["isvoter"] is True and info["votingset"]["totalweight"] == 5
    finally:
        for proc in processes:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
