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
from pathlib import Path
from typing import Any

from timecoin.rpc.client import RpcClient, RpcClientError

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


class LoneNode:
    """A running node process whose log goes to `datadir/node.log`."""

    def __init__(self, datadir: Path) -> None:
        """Start the node of `datadir`."""
        self.datadir = datadir
        self.log_path = datadir / "node.log"
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                node_argv(datadir),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

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

    def height(self) -> int:
        """The node's tip height."""
        return int(self.rpc("getblockcount"))

    def wait_for_height(self, height: int, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until the node's tip is at least `height`."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if self.height() >= height:
                    return
            except (RpcClientError, OSError):
                pass  # starting
            if time.monotonic() > deadline:
                raise AssertionError(f"not at height {height} after {timeout_s} s:\n{self.log()}")
            time.sleep(0.05)

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


def run_once(datadir: Path) -> tuple[int, str]:
    """Start the node of `datadir` and wait for it to exit by itself: (status, log)."""
    node = LoneNode(datadir)
    status = node.wait_exit()
    return status, node.log()
