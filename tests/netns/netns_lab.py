"""A testnet of real node processes, each in its own Linux network namespace.

`NetnsLab` creates one namespace per node and a full mesh of veth pairs
between them: the link between nodes i < j is the /30 subnet 10.77.L.0/30
(L numbers the links from 1), i holding .1 on its interface `to<j>` and j
holding .2 on `to<i>`. Nothing is added to the namespace the tests run in:
every address and route lives inside namespaces the lab created, and
deleting them removes the veths. A partition takes both ends of the cut
links down (`ip link set ... down`); healing brings them up again.

Each node runs `timecoin node` under `ip netns exec`, from a testnet built
by `timecoin.node.testnet.init_testnet`, with its config rewritten: it
listens on every address of its namespace and dials the other nodes at
their addresses on the shared links. Its RPC server stays on 127.0.0.1 of
its namespace; the tests reach it from a worker thread that has joined
that namespace with setns(2).

`netns_unavailable()` says why namespaces cannot be used here (not Linux,
`ip` missing, not root, `ip netns add` refused), or returns None.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import itertools
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from timecoin.node.config import load_config, render_config
from timecoin.node.testnet import CONFIG_FILENAME, TestnetNode, init_testnet
from timecoin.rpc.client import RpcClient, RpcClientError

log = logging.getLogger("netns")

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
SUBNET_PREFIX = "10.77"
IP_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def _run_ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False
    )


def ip(*args: str) -> None:
    """Run `ip ARGS`; raise RuntimeError with its message when it fails."""
    done = _run_ip(*args)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")


def netns_unavailable() -> str | None:
    """Why network namespaces cannot be used here, or None when they can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"tcnprobe{secrets.token_hex(3)}"
    done = _run_ip("netns", "add", probe)
    if done.returncode != 0:
        return f"`ip netns add` is not permitted here: {done.stderr.strip()}"
    _run_ip("netns", "del", probe)
    return None


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _enter_netns(name: str) -> None:
    """Move the calling thread into the network namespace `name`."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc().setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into {name}: {os.strerror(errno)}")
    finally:
        os.close(fd)


@dataclasses.dataclass(frozen=True, slots=True)
class Link:
    """The veth pair between nodes `a` < `b`, on subnet 10.77.`index`.0/30."""

    a: int
    b: int
    index: int

    def address_of(self, node: int) -> str:
        """The address of `node` on this link."""
        return f"{SUBNET_PREFIX}.{self.index}.{1 if node == self.a else 2}"

    def interface_of(self, node: int) -> str:
        """The name of `node`'s end of this link (in its namespace)."""
        return f"to{self.b if node == self.a else self.a}"


@dataclasses.dataclass
class LabNode:
    """One node of the lab: its namespace, data directory and process."""

    index: int
    namespace: str
    testnet: TestnetNode
    rpc_thread: ThreadPoolExecutor
    process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        """node0, node1, ..."""
        return self.testnet.name

    def rpc(self, method: str, *params: Any) -> Any:
        """Call `method` on this node, from inside its namespace."""

        def call() -> Any:
            client = RpcClient.from_cookie(
                self.testnet.datadir, self.testnet.rpc_url, timeout_s=10.0
            )
            return client.call(method, list(params))

        return self.rpc_thread.submit(call).result(timeout=15.0)

    def height(self) -> int:
        """The node's tip height."""
        return int(self.rpc("getblockcount"))

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the node's log."""
        try:
            text = (self.testnet.datadir / "node.log").read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])


def wait_until(predicate: Callable[[], T], timeout_s: float, what: str) -> T:
    """Poll `predicate` until it returns a truthy value; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (RpcClientError, OSError, TimeoutError) as exc:
            last_error = exc
        else:
            if value:
                return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} ({last_error})")


class NetnsLab:
    """Namespaces, links and node processes of one test run (see the module
    docstring). Use as a context manager: leaving it stops the processes and
    deletes the namespaces, whatever happened."""

    def __init__(self, datadir: Path, count: int, block_interval_ms: int) -> None:
        """A lab of `count` nodes in `datadir` (nothing created yet)."""
        if not 2 <= count <= 16:
            raise ValueError(f"a lab holds 2 to 16 nodes, not {count}")
        self.datadir = datadir
        self.count = count
        self.block_interval_ms = block_interval_ms
        self.tag = secrets.token_hex(3)
        self.links = {
            (a, b): Link(a, b, index)
            for index, (a, b) in enumerate(itertools.combinations(range(count), 2), start=1)
        }
        self.namespaces: list[str] = []
        self.nodes: list[LabNode] = []

    def __enter__(self) -> NetnsLab:
        try:
            self._create_network()
            self._create_nodes()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ set-up

    def namespace_of(self, node: int) -> str:
        """The name of `node`'s namespace."""
        return f"tcn{self.tag}-{node}"

    def link(self, a: int, b: int) -> Link:
        """The link between `a` and `b`."""
        return self.links[(min(a, b), max(a, b))]

    def _create_network(self) -> None:
        for node in range(self.count):
            name = self.namespace_of(node)
            ip("netns", "add", name)
            self.namespaces.append(name)
            ip("-n", name, "link", "set", "lo", "up")
        for link in self.links.values():
            ns_a, ns_b = self.namespace_of(link.a), self.namespace_of(link.b)
            if_a, if_b = link.interface_of(link.a), link.interface_of(link.b)
            ip("-n", ns_a, "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
            for node, ns, interface in ((link.a, ns_a, if_a), (link.b, ns_b, if_b)):
                ip("-n", ns, "addr", "add", f"{link.address_of(node)}/30", "dev", interface)
                ip("-n", ns, "link", "set", interface, "up")

    def _create_nodes(self) -> None:
        testnet_nodes = init_testnet(self.datadir, self.count, self.block_interval_ms)
        for index, testnet_node in enumerate(testnet_nodes):
            path = testnet_node.datadir / CONFIG_FILENAME
            config = load_config(path)
            seeds = tuple(
                f"{self.link(index, other).address_of(other)}:{testnet_nodes[other].p2p_port}"
                for other in range(self.count)
                if other != index
            )
            # Private addresses learned by address exchange are refused: each
            # node dials exactly its seeds, one per link.
            p2p = dataclasses.replace(
                config.p2p, host="0.0.0.0", seeds=seeds, allow_local_addresses=False
            )
            path.write_text(render_config(dataclasses.replace(config, p2p=p2p)), "utf-8")
            namespace = self.namespace_of(index)
            rpc_thread = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix=f"rpc-{namespace}",
                initializer=_enter_netns,
                initargs=(namespace,),
            )
            self.nodes.append(LabNode(index, namespace, testnet_node, rpc_thread))

    # ------------------------------------------------------------ processes

    def start(self, timeout_s: float = 30.0) -> None:
        """Start every node under `ip netns exec` and wait until each serves RPC."""
        for node in self.nodes:
            with (node.testnet.datadir / "node.log").open("ab") as log_file:
                node.process = subprocess.Popen(
                    ["ip", "netns", "exec", node.namespace, *node.testnet.argv()],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        for node in self.nodes:
            try:
                wait_until(lambda n=node: n.height() >= 0, timeout_s, f"{node.name} RPC")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{node.name}'s log ends:\n{node.log_tail()}") from None

    def stop(self) -> None:
        """SIGTERM every node, SIGKILL what is left after STOP_TIMEOUT_S."""
        running = [n.process for n in self.nodes if n.process is not None]
        for proc in running:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def close(self) -> None:
        """Stop the nodes, end the RPC threads, delete every namespace (idempotent)."""
        try:
            self.stop()
        finally:
            for node in self.nodes:
                node.rpc_thread.shutdown(wait=False, cancel_futures=True)
            for name in reversed(self.namespaces):
                done = _run_ip("netns", "del", name)
                if done.returncode != 0:
                    log.error("cannot delete namespace %s: %s", name, done.stderr.strip())
            self.namespaces.clear()

    # ------------------------------------------------------------ faults

    def _set_link(self, a: int, b: int, state: str) -> None:
        link = self.link(a, b)
        for node in (link.a, link.b):
            ip("-n", self.namespace_of(node), "link", "set", link.interface_of(node), state)

    def cut(self, a: int, b: int) -> None:
        """Take both ends of the link between `a` and `b` down."""
        self._set_link(a, b, "down")

    def heal(self, a: int, b: int) -> None:
        """Bring both ends of the link between `a` and `b` up."""
        self._set_link(a, b, "up")

    def split(self, groups: list[list[int]]) -> None:
        """Cut every link between nodes of different groups."""
        for group_a, group_b in itertools.combinations(groups, 2):
            for a in group_a:
                for b in group_b:
                    self.cut(a, b)

    def heal_all(self) -> None:
        """Bring every link up."""
        for a, b in self.links:
            self.heal(a, b)
