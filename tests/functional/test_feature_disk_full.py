"""A real node whose disk fills up stops producing blocks and voting at once,
says "disk full" in getblockchaininfo warnings, the log and a metric, exits
with status 4; restarted on the full disk it refuses with the same reason,
and restarted with space it carries on from where it stopped. The data
directory is on a small tmpfs (skipped unless root)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from single_node import (
    LoneNode,
    build_lone_testnet,
    make_lone_node,
    run_once,
    stop_lone_nodes,  # noqa: F401  (autouse: stops the nodes)
)

from timecoin.node.faults import EXIT_STORAGE_FAILED, MIN_FREE_DISK_BYTES, STORAGE_FAILURE_EXIT_S

MIB = 1 << 20


@pytest.fixture(scope="session")
def lone_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-node testnet's node directory, built once per session."""
    return build_lone_testnet(tmp_path_factory.mktemp("lone-cache"))


def test_node_stops_on_a_full_disk_and_recovers_with_space(
    lone_source: Path,
    tmp_path: Path,
    mount_tmpfs: Callable[[int], Path],
    fill_filesystem: Callable[[Path, int], Path],
) -> None:
    disk = mount_tmpfs(MIN_FREE_DISK_BYTES + 32 * MIB)
    datadir = make_lone_node(lone_source, disk / "node")
    log_path = tmp_path / "node.log"  # off the full disk, as an operator's journal
    node = LoneNode(datadir, log_path)
    node.wait_for_height(5)
    filler = fill_filesystem(disk, MIN_FREE_DISK_BYTES // 2)

    def warned() -> dict[str, object] | None:
        info: dict[str, object] = node.rpc("getblockchaininfo")
        return info if info["warnings"] else None

    info = node.wait_for(warned, "a warning in getblockchaininfo")
    (warning,) = info["warnings"]  # type: ignore[misc]
    assert warning.startswith("disk full: cannot write the chain store")
    assert "no space left on device" in warning
    assert "block production and voting stopped" in warning
    stopped_at = int(info["blocks"])  # type: ignore[call-overload]
    assert node.metric("timecoin_storage_failed") == 1.0
    assert node.height() == stopped_at
    assert node.wait_exit(STORAGE_FAILURE_EXIT_S + 20) == EXIT_STORAGE_FAILED
    log = node.log()
    assert "disk full: cannot write the chain store" in log
    assert f"the node exits in {STORAGE_FAILURE_EXIT_S:.0f} s" in log

    status, log = run_once(datadir, log_path)
    assert status == EXIT_STORAGE_FAILED, log
    assert "cannot start: no space left on device" in log

    filler.unlink()
    node = LoneNode(datadir, log_path)
    node.wait_for_height(stopped_at + 3)
    assert node.rpc("getblockchaininfo")["warnings"] == []
    assert node.stop() == 0
