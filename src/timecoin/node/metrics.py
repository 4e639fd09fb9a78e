"""Prometheus metrics of a node, served over HTTP by prometheus-client.

Gauges and counters that mirror state kept elsewhere (height, round,
peers, mempool size, p2p traffic per message class, throttles and bans)
are read at scrape time by a collector, so nothing has to be updated on
the hot paths; commit latency is a histogram observed at each commit, and
event-loop lag a gauge updated by a probe task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from timecoin.p2p.stats import P2PStats

log = logging.getLogger("timecoin.node.metrics")

LOOP_LAG_PROBE_S: Final = 0.5
"""Period of the event-loop lag probe."""
COMMIT_BUCKETS_S: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


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
            "timecoin_clock_offset_ms",
            "Local clock minus the peers' median clock, milliseconds",
            snap.clock_offset_ms,
        )
        for name, value in sorted(snap.extra.items()):
            yield GaugeMetricFamily(name, name.removeprefix("timecoin_").replace("_", " "), value)
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

    def __init__(self, snapshot: Callable[[], NodeSnapshot]) -> None:
        """Metrics whose live figures come from `snapshot()` at scrape time."""
        self.registry = CollectorRegistry()
        self.registry.register(_SnapshotCollector(snapshot))
        self.commit_seconds = Histogram(
            "timecoin_commit_seconds",
            "Time to validate and store a decided block",
            buckets=COMMIT_BUCKETS_S,
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
