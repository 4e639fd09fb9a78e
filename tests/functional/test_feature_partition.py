"""Partitions on real processes: every link between the four nodes crosses a
fault-injecting TCP proxy (faultproxy.py). Scenarios: a 2+2 split commits
nothing, a 3+1 split keeps the majority committing while the minority
stalls, healing converges (the time is measured and reported), and 50 ms +-
10 ms delay with 5% loss keeps the network committing."""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from functional_framework import NodeHandle, Testnet, wait_until

log = logging.getLogger("functional.partition")

HEAL_BOUND_S = 30.0
"""Asserted bound on convergence after a heal (target < 5 s)."""


def link_name(a: int, b: int) -> str:
    return f"{min(a, b)}-{max(a, b)}"


def _p2p_port(config: str) -> int:
    section = config.split("[p2p]", 1)[1]
    match = re.search(r"^port\s*=\s*(\d+)", section, re.MULTILINE)
    if match is None:
        raise AssertionError("no [p2p] port in node.toml")
    return int(match.group(1))


def route_through_proxy(datadir: Path, proxy: FaultProxy, count: int) -> None:
    """Point every node's seeds at proxy ports and stop address exchange of loopback peers."""
    configs = [datadir / f"node{i}" / "node.toml" for i in range(count)]
    ports = [_p2p_port(path.read_text(encoding="utf-8")) for path in configs]
    for i, path in enumerate(configs):
        seeds = [
            f'"127.0.0.1:{proxy.add_route(link_name(i, j), ports[j])}"'
            for j in range(count)
            if j != i
        ]
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^seeds\s*=.*$", f"seeds = [{', '.join(seeds)}]", text, flags=re.MULTILINE)
        text = re.sub(
            r"^allow_local_addresses\s*=.*$",
            "allow_local_addresses = false",
            text,
            flags=re.MULTILINE,
        )
        path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def proxied(
    cached_testnet: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Testnet, FaultProxy]]:
    """A 4-node testnet whose every link crosses the fault proxy."""
    net = Testnet(cached_testnet, tmp_path_factory.mktemp("partition") / "net")
    proxy = FaultProxy(net.seed)
    try:
        route_through_proxy(net.datadir, proxy, 4)
        net.start()
        yield net, proxy
    finally:
        net.stop()
        proxy.close()


def split(proxy: FaultProxy, groups: list[list[int]]) -> None:
    for a_group, b_group in itertools.combinations(groups, 2):
        for a in a_group:
            for b in b_group:
                proxy.cut(link_name(a, b))


def heal_all(proxy: FaultProxy) -> None:
    for link in proxy.links:
        proxy.heal(link)


def heights(nodes: list[NodeHandle]) -> list[int]:
    return [node.height() for node in nodes]


def converge_after_heal(net: Testnet, proxy: FaultProxy) -> float:
    """Heal every link; the seconds until every node holds one same new block."""
    target = max(heights(net.nodes)) + 1
    started = time.monotonic()
    heal_all(proxy)

    def converged() -> bool:
        if min(heights(net.nodes)) < target:
            return False
        return len({node.rpc("getblockhash", target) for node in net.nodes}) == 1

    wait_until(converged, HEAL_BOUND_S, f"convergence at height {target}")
    elapsed_s = time.monotonic() - started
    return elapsed_s


def test_two_two_split_commits_nothing_then_heals(
    proxied: tuple[Testnet, FaultProxy], record_property: pytest.RecordProperty
) -> None:
    net, proxy = proxied
    net.wait_for_height(3)
    split(proxy, [[0, 1], [2, 3]])
    time.sleep(1.5)  # a block already decided may still land
    frozen = heights(net.nodes)
    time.sleep(3.0)
    assert heights(net.nodes) == frozen, "a half of the network committed without a quorum"
    heal_s = converge_after_heal(net, proxy)
    record_property("heal_seconds_2_2", round(heal_s, 2))
    log.warning("2+2 split healed: converged in %.2f s", heal_s)
    print(f"\n2+2 split: converged {heal_s:.2f} s after heal")


def test_three_one_split_majority_commits_minority_stalls_then_catches_up(
    proxied: tuple[Testnet, FaultProxy], record_property: pytest.RecordProperty
) -> None:
    net, proxy = proxied
    minority = net.nodes[3]
    majority = net.nodes[:3]
    split(proxy, [[0, 1, 2], [3]])
    time.sleep(1.0)
    stalled_at = minority.height()
    start = max(heights(majority))
    for node in majority:
        net.wait_until_height(node, start + 4, timeout_s=20.0)
    assert minority.height() <= stalled_at + 1
    heal_s = converge_after_heal(net, proxy)
    record_property("heal_seconds_3_1", round(heal_s, 2))
    log.warning("3+1 split healed: converged in %.2f s", heal_s)
    print(f"\n3+1 split: converged {heal_s:.2f} s after heal")
    # the minority votes again: the network commits with it
    net.wait_for_height(max(heights(net.nodes)) + 2, timeout_s=20.0)


def test_delay_jitter_and_loss_keep_the_network_committing(
    proxied: tuple[Testnet, FaultProxy],
) -> None:
    net, proxy = proxied
    for link in proxy.links:
        proxy.shape(link, delay_ms=50.0, jitter_ms=10.0, loss=0.05)
    try:
        start = max(heights(net.nodes))
        net.wait_for_height(start + 6, timeout_s=30.0)
        common = min(heights(net.nodes))
        assert len({node.rpc("getblockhash", common) for node in net.nodes}) == 1
    finally:
        for link in proxy.links:
            proxy.shape(link, delay_ms=0.0)
