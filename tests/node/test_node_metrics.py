"""The node's Prometheus registry: monotonic figures typed as counters, the
process, GC and platform collectors, the finality-latency histogram and the
build-info gauge; the exposition parses back."""

from __future__ import annotations

import sys

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from timecoin.node.metrics import NodeMetrics, NodeSnapshot


def _snapshot() -> NodeSnapshot:
    return NodeSnapshot(
        height=7,
        round=0,
        peers=2,
        mempool_transactions=3,
        mempool_bytes=400,
        extra={"timecoin_voting_set_weight": 30.0, "timecoin_storage_failed": 0.0},
        counters={
            "timecoin_finality_finalized_total": 12.0,
            "timecoin_signature_verifications_total": 40.0,
        },
    )


def _families() -> tuple[NodeMetrics, dict[str, tuple[str, dict[str, float]]]]:
    metrics = NodeMetrics(_snapshot, version="1.2.3", network="devnet")
    metrics.observe_final_latency_ms(150.0)
    metrics.observe_final_latency_ms(2500.0)
    text = generate_latest(metrics.registry).decode("utf-8")
    families: dict[str, tuple[str, dict[str, float]]] = {}
    for family in text_string_to_metric_families(text):
        samples = {
            sample.name + repr(sorted(sample.labels.items())): sample.value
            for sample in family.samples
        }
        families[family.name] = (family.type, samples)
    return metrics, families


def test_monotonic_figures_are_counters_with_unchanged_sample_names() -> None:
    _, families = _families()
    for family in ("timecoin_finality_finalized", "timecoin_signature_verifications"):
        kind, samples = families[family]
        assert kind == "counter"
        assert f"{family}_total[]" in samples
    assert families["timecoin_finality_finalized"][1]["timecoin_finality_finalized_total[]"] == 12
    assert families["timecoin_voting_set_weight"][0] == "gauge"
    assert "timecoin_finality_finalized_total" not in families


def test_process_gc_and_platform_collectors_are_registered() -> None:
    _, families = _families()
    assert "python_info" in families
    assert "python_gc_objects_collected" in families
    if sys.platform.startswith("linux"):
        for name in (
            "process_resident_memory_bytes",
            "process_cpu_seconds",
            "process_open_fds",
        ):
            assert name in families, name


def test_finality_latency_histogram_and_build_info() -> None:
    _, families = _families()
    kind, samples = families["timecoin_finality_latency_seconds"]
    assert kind == "histogram"
    assert samples["timecoin_finality_latency_seconds_count[]"] == 2
    assert samples["timecoin_finality_latency_seconds_sum[]"] == 2.65
    assert samples["timecoin_finality_latency_seconds_bucket[('le', '0.2')]"] == 1
    assert samples["timecoin_finality_latency_seconds_bucket[('le', '3.0')]"] == 2
    kind, samples = families["timecoin_build_info"]
    assert kind == "gauge"
    assert samples["timecoin_build_info[('network', 'devnet'), ('version', '1.2.3')]"] == 1
