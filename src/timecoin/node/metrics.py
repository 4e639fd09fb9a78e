"""Prometheus metrics of a node, served over HTTP by prometheus-client.

Gauges and counters that mirror state kept elsewhere (height, round,
peers, mempool size, p2p traffic per message class, throttles and bans,
masternodes and voting weight) are read at scrape time by a collector, so
nothing has to be updated on the hot paths; commit latency and
broadcast-to-final latency are histograms observed as they happen, and
event-loop lag a gauge updated by a probe task. The registry also holds
prometheus-client's process, GC and platform collectors (RSS, CPU, open
files) and a `timecoin_build_info` gauge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from timecoin.p2p.stats import P2PStats

log = logging.getLogger("timecoin.node.metrics")

LOOP_LAG_PROBE_S: Final = 0.5
"""Period of the event-loop lag probe."""
COMMIT_BUCKETS_S: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
FINALITY_BUCKETS_S: Final = (
    0.025,
    0.05,
    0.1,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    30.0,
)
"""Buckets of broadcast-to-final latency: sub-second is the goal, tens of
seconds a stalled epoch."""


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    """The live figures a scrape reports."""

    height: int
    round: int
    peers: int
    mempool_transactions: int
    mempool_bytes: int
    p2p: P2PStats | None = None
    clock_offset_ms: int = 0
    extra: dict[str, float] = field(default_factory=dict)
    """More gauges, by full name."""
    counters: dict[str, float] = field(default_factory=dict)
    """Monotonic figures, by the name of their sample (ending in `_total`)."""


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Callable[[], NodeSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        yield GaugeMetricFamily("timecoin_height", "Height of the tip", value=snap.height)
        yield GaugeMetricFamily("timecoin_round", "Consensus round being decided", snap.round)
        yield GaugeMetricFamily("timecoin_peers", "Connected peers", value=snap.peers)
        yield GaugeMetricFamily(
            "timecoin_mempool_transactions", "Pooled transactions", snap.mempool_transactions
        )
        yield GaugeMetricFamily("timecoin_mempool_bytes", "Pooled bytes", snap.mempool_bytes)
        yield GaugeMetricFamily(
            "timecoin_clock_offset_seconds",
            "Local clock minus the peers' median clock",
            snap.clock_offset_ms / 1000.0,
        )
        for name, value in sorted(snap.extra.items()):
            yield GaugeMetricFamily(name, name.removeprefix("timecoin_").replace("_", " "), value)
        for name, value in sorted(snap.counters.items()):
            family = name.removesuffix("_total")
            yield CounterMetricFamily(
                family, family.removeprefix("timecoin_").replace("_", " "), value
            )
        stats = snap.p2p
        if stats is None:
            return
        messages = CounterMetricFamily(
            "timecoin_p2p_messages", "P2P messages by class", labels=("class", "direction")
        )
        payload = CounterMetricFamily(
            "timecoin_p2p_bytes", "P2P payload bytes by class", labels=("class", "direction")
        )
        throttled = CounterMetricFamily(
            "timecoin_p2p_throttled", "Messages dropped by rate limits", labels=("class",)
        )
        for cls, counters in stats.classes.items():
            messages.add_metric((cls.value, "in"), counters.messages_in)
            messages.add_metric((cls.value, "out"), counters.messages_out)
            payload.add_metric((cls.value, "in"), counters.bytes_in)
            payload.add_metric((cls.value, "out"), counters.bytes_out)
            throttled.add_metric((cls.value,), counters.throttled)
        yield messages
        yield payload
        yield throttled
        bans = CounterMetricFamily("timecoin_p2p_bans", "Peers banned", labels=("reason",))
        for reason, count in stats.bans_by_reason.items():
            bans.add_metric((reason,), count)
        yield bans


class NodeMetrics:
    """The registry of one node, its histogram and loop-lag gauge."""

    def __init__(
        self,
        snapshot: Callable[[], NodeSnapshot],
        *,
        version: str = "",
        network: str = "",
    ) -> None:
        """Metrics whose live figures come from `snapshot()` at scrape time,
        with a build-info gauge labelled `version` and `network`."""
        self.registry = CollectorRegistry()
        self.registry.register(_SnapshotCollector(snapshot))
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        build = Gauge(
            "timecoin_build_info",
            "The node's version and network (always 1)",
            labelnames=("version", "network"),
            registry=self.registry,
        )
        build.labels(version=version, network=network).set(1)
        self.commit_seconds = Histogram(
            "timecoin_commit_seconds",
            "Time to validate and store a decided block",
            buckets=COMMIT_BUCKETS_S,
            registry=self.registry,
        )
        self.finality_seconds = Histogram(
            "timecoin_finality_latency_seconds",
            "Time from a transaction's first sight (broadcast) to its finality",
            buckets=FINALITY_BUCKETS_S,
            registry=self.registry,
        )
        self.loop_lag_seconds = Gauge(
            "timecoin_event_loop_lag_seconds",
            "Delay of the last event-loop probe beyond its schedule",
            registry=self.registry,
        )
        self.max_loop_lag_s = 0.0
        self._probe: asyncio.Task[None] | None = None
        self._server: object | None = None
        self.port: int | None = None

    def observe_final_latency_ms(self, latency_ms: float) -> None:
        """Record one transaction's broadcast-to-final latency."""
        self.finality_seconds.observe(latency_ms / 1000.0)

    def serve(self, host: str, port: int) -> int:
        """Serve /metrics on `host`:`port` (0: a free port) from a thread; return the port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        self.port = int(server.server_port)
        log.info("metrics on http://%s:%d/metrics", host, self.port)
        return self.port

    def start_probe(self) -> None:
        """Start measuring event-loop lag (every LOOP_LAG_PROBE_S)."""
        self._probe = asyncio.create_task(self._run_probe(), name="loop-lag-probe")

    async def _run_probe(self) -> None:
        while True:
            started = time.monotonic()
            await asyncio.sleep(LOOP_LAG_PROBE_S)
            lag_s = max(0.0, time.monotonic() - started - LOOP_LAG_PROBE_S)
            self.max_loop_lag_s = max(self.max_loop_lag_s, lag_s)
            self.loop_lag_seconds.set(lag_s)

    async def stop(self) -> None:
        """Stop the probe and the HTTP server."""
        probe = self._probe
        if probe is not None:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
        server = self._server
        if server is not None:
            shutdown = getattr(server, "shutdown", None)
            if callable(shutdown):
                await asyncio.get_running_loop().run_in_executor(None, shutdown)
            close = getattr(server, "server_close", None)
            if callable(close):
                close()
            self._server = None
