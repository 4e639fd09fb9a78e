"""A local testnet: N masternode processes on loopback with funded wallets.

`init_testnet` builds, once, a devnet genesis in which every node is a
Bronze masternode (its collateral created by genesis and paid to its
operator key's address) and its wallet holds an allocation, then writes
each node's data directory: config, operator key, wallet and its password,
and the genesis block. Ports are chosen free on loopback when the testnet
is built and kept in the configs, so a node restarts on the same ports.

Each node also serves Prometheus metrics on its own loopback port.

`TestnetRunner` starts one `timecoin node` process per node, writes
`DIR/testnet.json` (per node: name, RPC URL, p2p address, metrics URL, data
directory, cookie, pid and command; for the network: its name, chain id and
genesis hash), shows a status line, and stops every node gracefully. A
node whose process ends is started again (`restart_exited`, unless
`restart` is off) after a back-off that doubles from `RESTART_BACKOFF_S` up
to `MAX_RESTART_BACKOFF_S` with each restart, and `testnet.json` is
rewritten with its new pid, so that stopping the testnet reaches it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from timecoin.chain import GenesisMasternode, GenesisSpec, build_genesis
from timecoin.encoding import DecodeError, decode, encode
from timecoin.node.config import (
    MetricsSection,
    NodeConfig,
    P2PSection,
    RestSection,
    RpcSection,
    load_config,
    render_config,
)
from timecoin.node.keys import load_or_create_key
from timecoin.params import COIN, DEVNET, ChainParams, Tier
from timecoin.types import Block, compute_block_hash
from timecoin.wallet import KdfParams, Wallet
from timecoin.wallet.keyfile import MIN_MEMLIMIT_BYTES, MIN_OPSLIMIT

TESTNET_FILENAME: Final = "testnet.json"
CONFIG_FILENAME: Final = "node.toml"
GENESIS_FILENAME: Final = "genesis.block"
WALLET_FILENAME: Final = "wallet.json"
PASSWORD_FILENAME: Final = "wallet.password"  # noqa: S105 (a file name)
COOKIE_FILENAME: Final = ".cookie"
JOINED_MARKER: Final = "joined"
"""A file in the directory of a node added after genesis (`add_testnet_node`)."""
ALLOCATION_UNITS: Final = 1_000_000 * COIN
"""What genesis pays each node's wallet."""
DEVNET_KDF: Final = KdfParams(MIN_OPSLIMIT, MIN_MEMLIMIT_BYTES)
"""The cheapest Argon2id cost: a testnet wallet guards nothing, and N nodes
start at once."""
RESTART_BACKOFF_S: Final = 1.0
"""Wait before restarting a node that exited, doubled with each restart."""
MAX_RESTART_BACKOFF_S: Final = 60.0
STOP_TIMEOUT_S: Final = 8.0
MAX_NODES: Final = 64
MAX_GENESIS_BYTES: Final = 16_000_000
PORTS_PER_NODE: Final = 4
"""RPC, p2p, metrics and REST."""


class TestnetError(Exception):
    """A testnet that cannot be built or started; the message says why."""


@dataclass(frozen=True, slots=True)
class TestnetNode:
    """One node of the testnet as `testnet.json` describes it."""

    name: str
    datadir: Path
    rpc_port: int
    p2p_port: int
    metrics_port: int | None = None
    """None when the node serves no metrics (a testnet built by an older version)."""
    rest_port: int | None = None
    """None when the node serves no REST API and explorer."""

    @property
    def rpc_url(self) -> str:
        """The node's JSON-RPC URL."""
        return f"http://127.0.0.1:{self.rpc_port}/"

    @property
    def metrics_url(self) -> str | None:
        """The node's Prometheus endpoint, or None."""
        if self.metrics_port is None:
            return None
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def rest_url(self) -> str | None:
        """The base of the node's REST API, or None."""
        if self.rest_port is None:
            return None
        return f"http://127.0.0.1:{self.rest_port}/api"

    @property
    def explorer_url(self) -> str | None:
        """The node's web explorer, or None."""
        if self.rest_port is None:
            return None
        return f"http://127.0.0.1:{self.rest_port}/"

    @property
    def p2p(self) -> str:
        """The node's p2p address, host:port."""
        return f"127.0.0.1:{self.p2p_port}"

    @property
    def cookie(self) -> Path:
        """The path of the node's RPC cookie file."""
        return self.datadir / COOKIE_FILENAME

    def argv(self) -> list[str]:
        """The command that starts this node."""
        return [
            sys.executable,
            "-m",
            "timecoin.cli",
            "node",
            "--config",
            str(self.datadir / CONFIG_FILENAME),
            "--datadir",
            str(self.datadir),
        ]


def find_free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on 127.0.0.1 now."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def testnet_params(block_interval_ms: int, epoch_length: int | None = None) -> ChainParams:
    """The devnet parameters with the testnet's block interval (and epoch length)."""
    params = replace(DEVNET, block_interval_ms=block_interval_ms)
    if epoch_length is not None:
        params = replace(params, epoch_length=epoch_length)
    return params


def node_names(count: int) -> list[str]:
    """node0, node1, ..."""
    return [f"node{i}" for i in range(count)]


def init_testnet(
    datadir: Path, count: int, block_interval_ms: int, epoch_length: int | None = None
) -> list[TestnetNode]:
    """Build the testnet in `datadir` (or reuse the one there); return its nodes.
    `epoch_length` overrides the devnet's (a multiple of its reward window).

    Raises TestnetError when `datadir` holds a testnet of another size.
    """
    if not 1 <= count <= MAX_NODES:
        raise TestnetError(f"--nodes must be in 1..{MAX_NODES}, got {count}")
    datadir.mkdir(parents=True, exist_ok=True)
    names = node_names(count)
    existing = [name for name in names if (datadir / name / CONFIG_FILENAME).exists()]
    if existing:
        next_dir = datadir / f"node{count}"
        if len(existing) != count or (next_dir.exists() and not is_joined_node(next_dir)):
            raise TestnetError(f"{datadir} holds a testnet of another size: use a new --datadir")
        return [_read_node(datadir / name) for name in names] + _joined_nodes(datadir, count)
    params = testnet_params(block_interval_ms, epoch_length)
    if params.epoch_length < 1 or params.epoch_length % params.reward_window_blocks:
        raise TestnetError(
            f"--epoch-length must be a positive multiple of {params.reward_window_blocks}"
        )
    ports = find_free_ports(PORTS_PER_NODE * count)
    nodes = [
        TestnetNode(
            name,
            datadir / name,
            rpc_port=ports[PORTS_PER_NODE * i],
            p2p_port=ports[PORTS_PER_NODE * i + 1],
            metrics_port=ports[PORTS_PER_NODE * i + 2],
            rest_port=ports[PORTS_PER_NODE * i + 3],
        )
        for i, name in enumerate(names)
    ]
    masternodes: list[GenesisMasternode] = []
    allocations: list[tuple[bytes, int]] = []
    for node in nodes:
        node.datadir.mkdir(parents=True, exist_ok=True)
        key = load_or_create_key(node.datadir / "operator.key")
        password = secrets.token_urlsafe(18)
        password_path = node.datadir / PASSWORD_FILENAME
        password_path.touch(mode=0o600)
        password_path.write_text(password + "\n", encoding="utf-8")
        wallet = Wallet.create(node.datadir / WALLET_FILENAME, password, params, kdf=DEVNET_KDF)
        with wallet:
            address = wallet.new_address()
        allocations.append((address, ALLOCATION_UNITS))
        masternodes.append(
            GenesisMasternode(
                tier=Tier.BRONZE,
                owner_key=key.public_key,
                operator_key=key.public_key,
                reward_address=address,
                network_address=node.p2p.encode(),
            )
        )
    genesis = build_genesis(
        GenesisSpec(
            params=params,
            timestamp_ms=int(time.time() * 1000) - 1_000,
            allocations=tuple(allocations),
            masternodes=tuple(masternodes),
        )
    )
    genesis_bytes = encode(genesis)
    for node in nodes:
        (node.datadir / GENESIS_FILENAME).write_bytes(genesis_bytes)
        seeds = tuple(other.p2p for other in nodes if other is not node)
        config = NodeConfig(
            network=params.name,
            genesis_file=Path(GENESIS_FILENAME),
            wallet_file=Path(WALLET_FILENAME),
            wallet_password_file=Path(PASSWORD_FILENAME),
            block_interval_ms=block_interval_ms,
            epoch_length=epoch_length,
            p2p=P2PSection(
                host="127.0.0.1",
                port=node.p2p_port,
                seeds=seeds,
                allow_local_addresses=True,
            ),
            rpc=RpcSection(host="127.0.0.1", port=node.rpc_port),
            metrics=MetricsSection(
                enabled=node.metrics_port is not None,
                host="127.0.0.1",
                port=node.metrics_port or MetricsSection().port,
            ),
            rest=RestSection(
                enabled=node.rest_port is not None,
                host="127.0.0.1",
                port=node.rest_port or RestSection().port,
            ),
        )
        (node.datadir / CONFIG_FILENAME).write_text(render_config(config), encoding="utf-8")
    return nodes


def is_joined_node(node_dir: Path) -> bool:
    """True for a node `add_testnet_node` created (not a genesis masternode)."""
    return (node_dir / JOINED_MARKER).exists()


def _joined_nodes(datadir: Path, first_index: int) -> list[TestnetNode]:
    """The nodes added after genesis, node{first_index} onwards, in order."""
    nodes = []
    for index in range(first_index, first_index + MAX_NODES):
        node_dir = datadir / f"node{index}"
        if not is_joined_node(node_dir):
            break
        nodes.append(_read_node(node_dir))
    return nodes


def add_testnet_node(datadir: Path) -> TestnetNode:
    """Create the data directory of a new, non-genesis node of the testnet in
    `datadir`: its operator key, free ports, the testnet's genesis block and
    block interval, and every existing node as a seed. Return it (not started).

    The node is not a masternode until a wallet registers its operator key
    (`masternoderegister`). Raises TestnetError when `datadir` holds no
    testnet or already MAX_NODES nodes.
    """
    first = datadir / "node0"
    if not (first / CONFIG_FILENAME).exists():
        raise TestnetError(f"{datadir}: no testnet here (node0/{CONFIG_FILENAME} is missing)")
    existing: list[TestnetNode] = []
    for index in range(MAX_NODES):
        node_dir = datadir / f"node{index}"
        if not (node_dir / CONFIG_FILENAME).exists():
            break
        existing.append(_read_node(node_dir))
    else:
        raise TestnetError(f"{datadir} already holds {MAX_NODES} nodes")
    base = load_config(first / CONFIG_FILENAME)
    genesis_bytes = (first / GENESIS_FILENAME).read_bytes()
    rpc_port, p2p_port, metrics_port, rest_port = find_free_ports(PORTS_PER_NODE)
    node = TestnetNode(
        f"node{len(existing)}",
        datadir / f"node{len(existing)}",
        rpc_port=rpc_port,
        p2p_port=p2p_port,
        metrics_port=metrics_port,
        rest_port=rest_port,
    )
    node.datadir.mkdir(parents=True)
    load_or_create_key(node.datadir / "operator.key")
    (node.datadir / GENESIS_FILENAME).write_bytes(genesis_bytes)
    config = NodeConfig(
        network=base.network,
        genesis_file=Path(GENESIS_FILENAME),
        block_interval_ms=base.block_interval_ms,
        epoch_length=base.epoch_length,
        p2p=P2PSection(
            host="127.0.0.1",
            port=p2p_port,
            seeds=tuple(other.p2p for other in existing),
            allow_local_addresses=True,
        ),
        rpc=RpcSection(host="127.0.0.1", port=rpc_port),
        metrics=MetricsSection(enabled=True, host="127.0.0.1", port=metrics_port),
        rest=RestSection(enabled=True, host="127.0.0.1", port=rest_port),
    )
    (node.datadir / CONFIG_FILENAME).write_text(render_config(config), encoding="utf-8")
    (node.datadir / JOINED_MARKER).write_text("added after genesis\n", encoding="utf-8")
    return node


def start_joined_node(datadir: Path, node: TestnetNode) -> int:
    """Start `node` in the background (log in its node.log), record it in
    `testnet.json` and return its pid. It runs until stopped (`timecoin
    stop` over RPC, or a signal)."""
    log_file = (node.datadir / "node.log").open("ab")
    try:
        proc = subprocess.Popen(
            node.argv(),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log_file.close()
    path = datadir / TESTNET_FILENAME
    document: dict[str, Any] = {"nodes": []}
    if path.exists():
        document = json.loads(path.read_text(encoding="utf-8"))
    entries = [e for e in document.get("nodes", []) if e.get("name") != node.name]
    entries += describe([node], {node.name: proc.pid})["nodes"]
    document["nodes"] = entries
    _write_json(path, document)
    return proc.pid


def _write_json(path: Path, document: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)  # readers never see half a file


def _read_node(datadir: Path) -> TestnetNode:
    config = load_config(datadir / CONFIG_FILENAME)
    if config.rpc.port is None or config.p2p.port is None:
        raise TestnetError(f"{datadir / CONFIG_FILENAME}: a testnet node needs fixed ports")
    metrics_port = config.metrics.port if config.metrics.enabled else None
    rest_port = config.rest.port if config.rest.enabled else None
    return TestnetNode(
        datadir.name, datadir, config.rpc.port, config.p2p.port, metrics_port, rest_port
    )


@dataclass(frozen=True, slots=True)
class TestnetChain:
    """What names the testnet's chain: preset name, chain id, genesis hash."""

    network: str
    chain_id: int
    genesis_hash: bytes


def read_testnet_chain(node: TestnetNode) -> TestnetChain:
    """The chain of the testnet, read from `node`'s config and genesis block.

    Raises TestnetError when the genesis file is missing or not a block.
    """
    config = load_config(node.datadir / CONFIG_FILENAME)
    path = node.datadir / GENESIS_FILENAME
    try:
        block = decode(path.read_bytes(), Block, MAX_GENESIS_BYTES)
    except OSError as exc:
        raise TestnetError(f"{path}: cannot read the genesis block: {exc.strerror}") from None
    except DecodeError as exc:
        raise TestnetError(f"{path}: not a genesis block: {exc}") from None
    return TestnetChain(config.network, block.header.chain_id, compute_block_hash(block.header))


def describe(
    nodes: list[TestnetNode], pids: dict[str, int], chain: TestnetChain | None = None
) -> dict[str, Any]:
    """The `testnet.json` document."""
    document: dict[str, Any] = {}
    if chain is not None:
        document["network"] = chain.network
        document["chain_id"] = chain.chain_id
        document["genesis_hash"] = chain.genesis_hash.hex()
    document["nodes"] = [
        {
            "name": node.name,
            "rpc_url": node.rpc_url,
            "p2p": node.p2p,
            "metrics_url": node.metrics_url,
            "rest_url": node.rest_url,
            "explorer_url": node.explorer_url,
            "datadir": str(node.datadir),
            "cookie": str(node.cookie),
            "pid": pids.get(node.name),
            "argv": node.argv(),
        }
        for node in nodes
    ]
    return document


class TestnetRunner:
    """The node processes of a testnet."""

    def __init__(
        self,
        datadir: Path,
        nodes: list[TestnetNode],
        *,
        restart: bool = True,
        restart_backoff_s: float = RESTART_BACKOFF_S,
    ) -> None:
        """Processes for `nodes` of the testnet in `datadir` (none started)."""
        self.datadir = datadir
        self.nodes = nodes
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.restart = restart
        self._backoff_s = restart_backoff_s
        self._restarts: dict[str, int] = {}
        self._exited_at: dict[str, float] = {}

    def _spawn(self, node: TestnetNode) -> None:
        log_file = (node.datadir / "node.log").open("ab")
        try:
            self.processes[node.name] = subprocess.Popen(
                node.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log_file.close()

    def start(self) -> None:
        """Start every node (logs in DATADIR/NODE/node.log) and write testnet.json."""
        for node in self.nodes:
            self._spawn(node)
        self._write_description()

    def restart_exited(self, now: float | None = None) -> list[str]:
        """Start again the nodes whose process ended and whose back-off has
        passed; rewrite testnet.json; return their names (none when
        `restart` is off)."""
        if not self.restart:
            return []
        now = time.monotonic() if now is None else now
        restarted: list[str] = []
        for node in self.nodes:
            if self.processes[node.name].poll() is None:
                continue
            exited_at = self._exited_at.setdefault(node.name, now)
            count = self._restarts.get(node.name, 0)
            delay = min(MAX_RESTART_BACKOFF_S, self._backoff_s * 2**count)
            if now - exited_at < delay:
                continue
            self._spawn(node)
            self._restarts[node.name] = count + 1
            del self._exited_at[node.name]
            restarted.append(node.name)
        if restarted:
            self._write_description()
        return restarted

    def _write_description(self) -> None:
        pids = {name: proc.pid for name, proc in self.processes.items()}
        chain = read_testnet_chain(self.nodes[0]) if self.nodes else None
        document = describe(self.nodes, pids, chain)
        _write_json(self.datadir / TESTNET_FILENAME, document)

    def exited(self) -> list[str]:
        """Names of nodes whose process has ended."""
        return [name for name, proc in self.processes.items() if proc.poll() is not None]

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM every node, wait up to `timeout_s`, then SIGKILL the rest."""
        for proc in self.processes.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.processes.values():
            remaining = max(0.0, deadline - time.monotonic())
            try:
                proc.wait(remaining)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


@dataclass(slots=True)
class StatusSample:
    """One poll of the testnet."""

    heights: list[int | None]
    peers: list[int | None]
    tx_count: int


def poll_status(nodes: list[TestnetNode], timeout_s: float = 1.0) -> StatusSample:
    """Heights, peer counts and the total transactions of node 0's tip block."""
    from timecoin.rpc.client import RpcClient, RpcClientError

    heights: list[int | None] = []
    peers: list[int | None] = []
    tx_count = 0
    for index, node in enumerate(nodes):
        try:
            client = RpcClient.from_cookie(node.datadir, node.rpc_url, timeout_s=timeout_s)
            height = int(client.call("getblockcount"))
            heights.append(height)
            peers.append(int(client.call("getconnectioncount")))
            if index == 0:
                block_hash = client.call("getblockhash", [height])
                block = client.call("getblock", [block_hash, 1])
                tx_count = len(block.get("tx", [])) - 1 if isinstance(block, dict) else 0
        except (RpcClientError, OSError, ValueError, TypeError):
            heights.append(None)
            peers.append(None)
    return StatusSample(heights, peers, max(0, tx_count))


def format_status(sample: StatusSample, tx_per_s: float, stalled_s: float | None = None) -> str:
    """The status line: height per node, peers per node, transactions per
    second, and `STALLED` with the seconds since the last block when
    `stalled_s` is given."""

    def show(values: list[int | None]) -> str:
        return " ".join("-" if v is None else str(v) for v in values)

    line = f"height [{show(sample.heights)}]  peers [{show(sample.peers)}]  tx/s {tx_per_s:.1f}"
    if stalled_s is not None:
        line += f"  STALLED: no block for {stalled_s:.0f} s"
    return line


def format_start_banner(datadir: Path, nodes: list[TestnetNode]) -> list[str]:
    """What a testnet prints once its nodes are started: each node's RPC URL,
    the explorer and REST API, and the commands to try next."""
    lines = [f"{node.name}  rpc {node.rpc_url}  datadir {node.datadir}" for node in nodes]
    if nodes:
        first = nodes[0].datadir
        if nodes[0].explorer_url is not None:
            lines.append(f"explorer: {nodes[0].explorer_url}  (REST API: {nodes[0].rest_url})")
        lines += [
            f"try:  timecoin rpc --datadir {first} getblockchaininfo",
            f"      timecoin masternode --datadir {first} list",
            f"      timecoin testnet add-node --datadir {datadir}",
        ]
    return lines


def compute_stall_after_s(nodes: list[TestnetNode]) -> float:
    """How long without a new block marks the testnet stalled: ten block
    intervals, at least 5 s."""
    interval_ms = 1_000
    if nodes:
        config = load_config(nodes[0].datadir / CONFIG_FILENAME)
        interval_ms = config.block_interval_ms or interval_ms
    return max(5.0, 10 * interval_ms / 1000)


def run_status_loop(
    runner: TestnetRunner,
    should_stop: Callable[[], bool],
    write: Callable[[str], None],
    interval_s: float = 1.0,
) -> None:
    """Show the status line every `interval_s` until `should_stop()`."""
    last_height: int | None = None
    last_change = time.monotonic()
    stall_after_s = compute_stall_after_s(runner.nodes)
    tx_window: list[tuple[float, int]] = []
    while not should_stop():
        sample = poll_status(runner.nodes)
        now = time.monotonic()
        height = sample.heights[0] if sample.heights else None
        if height is not None and height != last_height:
            tx_window.append((now, sample.tx_count))
            last_height = height
            last_change = now
        tx_window = [(t, c) for t, c in tx_window if now - t <= 10.0]
        span = (now - tx_window[0][0]) if len(tx_window) > 1 else 0.0
        tx_per_s = sum(c for _, c in tx_window[1:]) / span if span > 0 else 0.0
        dead = runner.exited()
        restarted = runner.restart_exited()
        quiet_s = now - last_change
        line = format_status(sample, tx_per_s, quiet_s if quiet_s > stall_after_s else None)
        if restarted:
            line += f"  restarted: {', '.join(restarted)}"
        elif dead:
            line += f"  exited: {', '.join(dead)}"
        write(line)
        deadline = time.monotonic() + interval_s
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(0.05)
