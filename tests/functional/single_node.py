"""One real node process on its own: the only masternode of a one-node
testnet, so it commits a block every interval with no peers. For tests of
what a node does with a damaged or full data directory."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from timecoin.rpc.client import RpcClient, RpcClientError

T = TypeVar("T")

START_TIMEOUT_S = 30.0
STARTED_LINE = "node started at height"
BLOCK_INTERVAL_MS = 100


def build_lone_testnet(cache_dir: Path) -> Path:
    """Build a one-node testnet (genesis, key, wallet, config); return its node directory."""
    target = cache_dir / "lone"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "timecoin.cli",
            "testnet",
            "--nodes",
            "1",
            "--datadir",
            str(target),
            "--block-interval-ms",
            str(BLOCK_INTERVAL_MS),
            "--init-only",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return target / "node0"


def make_lone_node(source: Path, datadir: Path) -> Path:
    """Copy the node directory `source` to `datadir`, every port chosen at start."""
    shutil.copytree(source, datadir)
    config = datadir / "node.toml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^port = .*$", "port = 0", text)
    text = re.sub(r"(?m)^seeds = .*$", "seeds = []", text)
    config.write_text(text, encoding="utf-8")
    return datadir


def node_argv(datadir: Path) -> list[str]:
    """The command that runs the node of `datadir`."""
    return [
        sys.executable,
        "-m",
        "timecoin.cli",
        "node",
        "--config",
        str(datadir / "node.toml"),
        "--datadir",
        str(datadir),
    ]


_running: list[LoneNode] = []


@pytest.fixture(autouse=True)
def stop_lone_nodes() -> Iterator[None]:
    """After each test, stop every lone node it started, failed or not (a
    test module activates this by importing it)."""
    yield
    while _running:
        _running.pop().stop()


class LoneNode:
    """A running node process whose log goes to `datadir/node.log`."""

    def __init__(self, datadir: Path, log_path: Path | None = None) -> None:
        """Start the node of `datadir`, logging to `log_path` (default `datadir/node.log`)."""
        self.datadir = datadir
        self.log_path = datadir / "node.log" if log_path is None else log_path
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                node_argv(datadir),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _running.append(self)

    def log(self) -> str:
        """What this process has logged so far."""
        with self.log_path.open("rb") as stream:
            stream.seek(self._offset)
            return stream.read().decode("utf-8", errors="replace")

    def wait_for_log(self, text: str, timeout_s: float = START_TIMEOUT_S) -> str:
        """Wait until the log contains `text`; fail if the process exits first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            log = self.log()
            if text in log:
                return log
            if self.process.poll() is not None:
                status = self.process.returncode
                raise AssertionError(f"node exited ({status}) before {text!r}:\n{log}")
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {text!r}:\n{self.log()}")

    def url(self, what: str) -> str:
        """The URL the node logged for `what` ("RPC server listening on", "metrics on")."""
        match = re.search(re.escape(what) + r" (http://\S+)", self.wait_for_log(what))
        assert match is not None
        return match.group(1)

    def rpc(self, method: str, *params: Any) -> Any:
        """Call `method` over JSON-RPC (cookie authentication)."""
        url = self.url("RPC server listening on")
        return RpcClient.from_cookie(self.datadir, url, timeout_s=10.0).call(method, list(params))

    def metric(self, name: str) -> float:
        """One unlabelled sample of the node's Prometheus metrics (0 when absent)."""
        with urllib.request.urlopen(self.url("metrics on"), timeout=10.0) as response:
            text = response.read().decode("utf-8")
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and not sample.labels:
                    return float(sample.value)
        return 0.0

    def height(self) -> int:
        """The node's tip height."""
        return int(self.rpc("getblockcount"))

    def wait_for(
        self, predicate: Callable[[], T | None], what: str, timeout_s: float = START_TIMEOUT_S
    ) -> T:
        """Poll `predicate` (RPC errors count as not yet) until it returns a
        value; fail after `timeout_s` or if the node exits."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                value = predicate()
            except (RpcClientError, OSError):
                value = None  # starting
            if value is not None and value is not False:
                return value
            if self.process.poll() is not None:
                raise AssertionError(f"node exited ({self.process.returncode}) before {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} after {timeout_s} s:\n{self.log()}")
            time.sleep(0.05)

    def wait_for_height(self, height: int, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until the node's tip is at least `height`."""
        self.wait_for(lambda: self.height() >= height, f"height {height}", timeout_s)

    def wait_exit(self, timeout_s: float = START_TIMEOUT_S) -> int:
        """Wait for the process to exit by itself; return its status."""
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"node still running after {timeout_s} s:\n{self.log()}") from None

    def stop(self) -> int:
        """SIGTERM the node and wait for it (SIGKILL after a bound); return its status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def run_once(datadir: Path, log_path: Path | None = None) -> tuple[int, str]:
    """Start the node of `datadir` and wait for it to exit by itself: (status, log)."""
    node = LoneNode(datadir, log_path)
    status = node.wait_exit()
    return status, node.log()
