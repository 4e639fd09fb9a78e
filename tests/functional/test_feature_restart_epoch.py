"""Restarts at every height of an epoch never halt the network.

A stopped network restarted at an epoch's last heights once stayed there
for good: every member had sent its epoch report before the stop, nobody
sent it again after, and the epoch's last block needs reports of more than
2/3 of the weight (docs/adr/0008-no-wait-without-resend.md). These tests
stop the whole network (SIGKILL and SIGTERM alternately) and single nodes at
every offset of a 10-block epoch and require the chain to go on each time.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from functional_framework import (
    BLOCK_INTERVAL_MS,
    NodeHandle,
    Testnet,
    build_cached_testnet,
    wait_until,
)

EPOCH_LENGTH = 10
"""Blocks per epoch of this module's testnet (the devnet's reward window)."""
PROGRESS_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def epoch_testnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    """A running 4-node testnet with 10-block epochs."""
    cached = build_cached_testnet(tmp_path_factory.mktemp("epoch-cache"), EPOCH_LENGTH)
    net = Testnet(cached, tmp_path_factory.mktemp("epoch-testnet") / "net")
    try:
        net.start()
        yield net
    finally:
        net.stop()


def _tip(net: Testnet, nodes: list[NodeHandle] | None = None) -> int:
    return max(node.height() for node in nodes or net.nodes)


def _next_target(tip: int, covered: set[int]) -> int:
    """The first height above `tip` whose epoch offset is not covered yet."""
    return next(h for h in itertools.count(tip + 1) if h % EPOCH_LENGTH not in covered)


def _explain(net: Testnet) -> str:
    """Heights and warnings of every node (for a failure message)."""
    lines = []
    for node in net.nodes:
        try:
            info = node.rpc("getblockchaininfo")
            lines.append(f"{node.name}: height {info['blocks']} warnings {info['warnings']}")
        except Exception as exc:
            lines.append(f"{node.name}: {exc}")
    return "\n".join(lines)


def _wait_progress(net: Testnet, nodes: list[NodeHandle], height: int) -> None:
    try:
        for node in nodes:
            net.wait_until_height(node, height, PROGRESS_TIMEOUT_S)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_explain(net)}") from None


def test_whole_network_restart_at_every_epoch_offset(epoch_testnet: Testnet) -> None:
    net = epoch_testnet
    covered: set[int] = set()
    for cycle in itertools.count():
        if covered == set(range(EPOCH_LENGTH)):
            break
        assert cycle < 4 * EPOCH_LENGTH, f"offsets covered so far: {sorted(covered)}"
        target = _next_target(_tip(net), covered)
        wait_until(lambda target=target: _tip(net) >= target, PROGRESS_TIMEOUT_S, f"{target}")
        for node in net.nodes:
            if cycle % 2:
                node.terminate()
            else:
                node.kill()
        # Two nodes of four cannot commit: their tips are where the network stopped.
        stopped: list[int] = []
        for node in net.nodes[:2]:
            node.restart()
            stopped.append(wait_until(lambda node=node: node.height() + 1, 30.0, node.name) - 1)
        for node in net.nodes[2:]:
            node.restart()
        covered.update(height % EPOCH_LENGTH for height in stopped)
        _wait_progress(net, net.nodes, max(stopped) + 2)
    tip = _tip(net)
    hashes = {node.rpc("getblockhash", tip - 1) for node in net.nodes}
    assert len(hashes) == 1


def test_single_node_restart_at_every_epoch_offset(epoch_testnet: Testnet) -> None:
    net = epoch_testnet
    covered: set[int] = set()
    for cycle in itertools.count():
        if covered == set(range(EPOCH_LENGTH)):
            break
        assert cycle < 4 * EPOCH_LENGTH, f"offsets covered so far: {sorted(covered)}"
        victim = net.nodes[cycle % len(net.nodes)]
        target = _next_target(_tip(net), covered)
        wait_until(
            lambda target=target, victim=victim: victim.height() >= target,
            PROGRESS_TIMEOUT_S,
            f"{victim.name} at {target}",
        )
        victim.kill()
        victim.restart()
        stopped = wait_until(lambda victim=victim: victim.height() + 1, 30.0, victim.name) - 1
        covered.add(stopped % EPOCH_LENGTH)
        _wait_progress(net, net.nodes, stopped + 2)
        # The restarted node's view agrees with the others'.
        assert len({node.rpc("getblockhash", stopped) for node in net.nodes}) == 1


def test_missing_reports_warn_and_resume(epoch_testnet: Testnet) -> None:
    """Two of four nodes down at an epoch's last height: the others cannot
    gather the reports and say so (warning, metric); back up, the two resend
    what they logged and the network goes on."""
    net = epoch_testnet
    up, down = net.nodes[:2], net.nodes[2:]

    def live() -> bool:
        # A chain whose tip timestamps lag the clock (genesis built earlier)
        # reports at once on commit, before the two could be stopped.
        tip_ms = int(up[0].rpc("getblockchaininfo")["time_ms"])
        return time.time() * 1000 - tip_ms < 2 * BLOCK_INTERVAL_MS

    wait_until(live, 60.0, "block timestamps to catch up with the clock")

    def warned() -> str:
        warnings = up[0].rpc("getblockchaininfo")["warnings"]
        return next((w for w in warnings if "epoch reports" in w), "")

    warning = ""
    for _attempt in range(4):
        tip = _tip(net)
        target = next(h for h in itertools.count(tip + 1) if h % EPOCH_LENGTH == EPOCH_LENGTH - 2)
        # Members report a quarter of a block after that height commits:
        # stop the two at once, before they do.
        deadline = time.monotonic() + PROGRESS_TIMEOUT_S
        while down[0].height() < target and time.monotonic() < deadline:
            time.sleep(0.005)
        with ThreadPoolExecutor(len(down)) as pool:
            list(pool.map(NodeHandle.kill, down))
        if _tip(net, up) == target:
            with contextlib.suppress(AssertionError):
                warning = wait_until(warned, 5.0, "the missing-reports warning")
            if warning:
                break
        # Too late (a report got out, or a block more): back up, next epoch.
        for node in down:
            node.restart()
        _wait_progress(net, net.nodes, _tip(net, up) + 2)
    else:
        pytest.fail(f"two nodes never stopped before reporting\n{_explain(net)}")
    assert "holds 2 of 4" in warning
    assert up[0].metric("timecoin_epoch_reports_awaited_seconds") > 0
    for node in down:
        node.restart()
    _wait_progress(net, net.nodes, target + 3)
    wait_until(lambda: not warned(), PROGRESS_TIMEOUT_S, "the warning to clear")
    assert up[0].metric("timecoin_epoch_reports_awaited_seconds") == 0
