"""Helpers of the functional tests: a testnet of real node processes, driven over RPC."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from timecoin.rpc.client import RpcClient, RpcClientError

log = logging.getLogger("functional")

T = TypeVar("T")

NODE_COUNT = 4
BLOCK_INTERVAL_MS = 500
START_TIMEOUT_S = 30.0


def wait_until(predicate: Callable[[], T], timeout_s: float, what: str) -> T:
    """Poll `predicate` until it returns a truthy value; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (RpcClientError, OSError) as exc:
            last_error = exc
            value = None  # type: ignore[assignment]
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} ({last_error})")


@dataclass
class NodeHandle:
    """One node of the running testnet."""

    name: str
    rpc_url: str
    datadir: Path
    argv: list[str]
    pid: int | None
    p2p: str = ""
    """The node's p2p address, host:port."""
    metrics_url: str | None = None
    restarted: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def p2p_address(self) -> tuple[str, int]:
        """The node's p2p (host, port)."""
        host, _, port = self.p2p.rpartition(":")
        return host, int(port)

    def rpc(self, method: str, *params: Any) -> Any:
        """Call `method` on this node (cookie authentication)."""
        client = RpcClient.from_cookie(self.datadir, self.rpc_url, timeout_s=10.0)
        return client.call(method, list(params))

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The node's Prometheus samples: (name, sorted labels) -> value."""
        if self.metrics_url is None:
            raise AssertionError(f"{self.name} serves no metrics")
        with urllib.request.urlopen(self.metrics_url, timeout=10.0) as response:
            text = response.read().decode("utf-8")
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def metric(self, name: str, **labels: str) -> float:
        """One sample of the node's metrics (0 when absent, as for an unseen label)."""
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)

    def height(self) -> int:
        """The node's tip height."""
        return int(self.rpc("getblockcount"))

    def kill(self) -> None:
        """SIGKILL the node's current process and wait for it to go."""
        if self.restarted:
            proc = self.restarted[-1]
            proc.kill()
            proc.wait(10)
        elif self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            _wait_pid_gone(self.pid)
        with contextlib.suppress(FileNotFoundError):
            (self.datadir / ".cookie").unlink()

    def terminate(self, timeout_s: float = 15.0) -> None:
        """Stop the node's current process gracefully (SIGTERM) and wait for it."""
        if self.restarted:
            proc = self.restarted[-1]
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout_s)
        elif self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            _wait_pid_gone(self.pid, timeout_s)
        with contextlib.suppress(FileNotFoundError):
            (self.datadir / ".cookie").unlink()

    def restart(self) -> None:
        """Start the node again with its recorded argv."""
        log_file = (self.datadir / "restart.log").open("ab")
        try:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log_file.close()
        self.restarted.append(proc)


def _wait_pid_gone(pid: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def _log_tail(node: NodeHandle, lines: int = 20) -> str:
    """The last lines of a node's log, to explain a node that did not start."""
    try:
        text = (node.datadir / "node.log").read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def build_cached_testnet(cache_dir: Path, epoch_length: int | None = None) -> Path:
    """Build (once) a testnet directory with genesis, keys and wallets; return
    it. `epoch_length` overrides the devnet's 20 blocks."""
    target = cache_dir / "testnet"
    extra = [] if epoch_length is None else ["--epoch-length", str(epoch_length)]
    if not (target / "node0" / "node.toml").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "timecoin.cli",
                "testnet",
                "--nodes",
                str(NODE_COUNT),
                "--datadir",
                str(target),
                "--block-interval-ms",
                str(BLOCK_INTERVAL_MS),
                *extra,
                "--init-only",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return target


class Testnet:
    """A running `timecoin testnet` process and its nodes."""

    __test__ = False

    def __init__(self, cached: Path, datadir: Path) -> None:
        """A testnet in `datadir` copied from the cached one (not started)."""
        shutil.copytree(cached, datadir)
        self.datadir = datadir
        self.process: subprocess.Popen[bytes] | None = None
        self.nodes: list[NodeHandle] = []
        self.description: dict[str, Any] = {}
        seed_text = os.environ.get("TIMECOIN_TEST_SEED")
        self.seed = int(seed_text) if seed_text else random.SystemRandom().randrange(2**32)
        self.rng = random.Random(self.seed)
        log.info("functional test seed %d (set TIMECOIN_TEST_SEED to replay)", self.seed)

    def start(self) -> None:
        """Start the testnet command and wait until every node serves RPC."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "timecoin.cli",
                "testnet",
                "--nodes",
                str(NODE_COUNT),
                "--datadir",
                str(self.datadir),
                "--block-interval-ms",
                str(BLOCK_INTERVAL_MS),
                "--no-restart",  # the tests kill and restart nodes themselves
            ],
            stdin=subprocess.DEVNULL,
            stdout=(self.datadir / "testnet.out").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        description = wait_until(self._read_description, START_TIMEOUT_S, "testnet.json")
        self.description = description
        self.nodes = [
            NodeHandle(
                name=entry["name"],
                rpc_url=entry["rpc_url"],
                datadir=Path(entry["datadir"]),
                argv=list(entry["argv"]),
                pid=entry["pid"],
                p2p=entry.get("p2p", ""),
                metrics_url=entry.get("metrics_url"),
            )
            for entry in description["nodes"]
        ]
        for node in self.nodes:
            try:
                wait_until(
                    lambda node=node: node.height() >= 0, START_TIMEOUT_S, f"{node.name} RPC"
                )
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{node.name}'s log ends:\n{_log_tail(node)}") from None

    def _read_description(self) -> dict[str, Any] | None:
        path = self.datadir / "testnet.json"
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    @property
    def chain_id(self) -> int:
        """The testnet's chain id (from testnet.json)."""
        return int(self.description["chain_id"])

    @property
    def genesis_hash(self) -> bytes:
        """The testnet's genesis block hash (from testnet.json)."""
        return bytes.fromhex(self.description["genesis_hash"])

    def stop(self) -> None:
        """Stop the testnet gracefully; SIGKILL anything still running."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for node in self.nodes:
            for proc in node.restarted:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(8)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            if node.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(node.pid, signal.SIGKILL)

    def wait_until_height(self, node: NodeHandle, height: int, timeout_s: float = 30.0) -> None:
        """Wait until `node`'s tip is at least `height`."""
        wait_until(lambda: node.height() >= height, timeout_s, f"{node.name} at {height}")

    def wait_for_height(self, height: int, timeout_s: float = 30.0) -> None:
        """Wait until every node's tip is at least `height`."""
        for node in self.nodes:
            wait_until(lambda n=node: n.height() >= height, timeout_s, f"{node.name} at {height}")
