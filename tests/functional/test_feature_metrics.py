"""A real node's /metrics: monotonic figures are counters, the process
collector reports RSS, CPU and open files, a payment made final is observed
in the broadcast-to-final histogram, the masternode and voting-weight gauges
describe the lone masternode, every metric the Grafana dashboard
(contrib/grafana/timecoin.json) queries is in the scrape, and `promtool
check metrics` finds nothing to report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from single_node import (
    LoneNode,
    build_lone_testnet,
    make_lone_node,
    stop_lone_nodes,  # noqa: F401  (autouse: stops the nodes)
)

DASHBOARD = Path(__file__).resolve().parents[2] / "contrib" / "grafana" / "timecoin.json"

PROMQL_WORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
    | {"offset", "bool"}
)
"""PromQL keywords that look like metric names."""


@pytest.fixture(scope="session")
def lone_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-node testnet's node directory, built once per session."""
    return build_lone_testnet(tmp_path_factory.mktemp("lone-cache"))


@pytest.fixture(scope="module")
def scrape(lone_source: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The /metrics text of a lone masternode after a payment became final."""
    node = LoneNode(make_lone_node(lone_source, tmp_path_factory.mktemp("metrics") / "node"))
    try:
        node.wait_for_height(2)
        address = node.rpc("getnewaddress")
        sent = node.rpc("sendtoaddress", address, "1", 20)
        assert sent["status"] in ("final", "confirmed"), sent
        with urllib.request.urlopen(node.url("metrics on"), timeout=10.0) as response:
            return str(response.read().decode("utf-8"))
    finally:
        node.stop()


def _families(text: str) -> dict[str, tuple[str, dict[str, float]]]:
    """family name -> (type, {sample name and labels: value})."""
    families: dict[str, tuple[str, dict[str, float]]] = {}
    for family in text_string_to_metric_families(text):
        samples = {
            sample.name + "".join(f",{k}={v}" for k, v in sorted(sample.labels.items())): (
                sample.value
            )
            for sample in family.samples
        }
        families[family.name] = (family.type, samples)
    return families


def dashboard_metric_names(dashboard: dict[str, object]) -> set[str]:
    """The metric names the dashboard's queries (panel targets and template
    variables) read."""
    exprs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "definition") and isinstance(value, str):
                    exprs.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dashboard)
    names: set[str] = set()
    for expr in exprs:
        bare = re.sub(r'"[^"]*"', "", expr)  # label values, legend strings
        bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", bare)  # matchers, ranges
        bare = re.sub(r"\b(by|without)\s*\([^)]*\)", "", bare)  # grouping labels
        bare = re.sub(r"label_values\((\w+),[^)]*\)", r"\1", bare)
        for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?!\w|\s*\()", bare):
            if match.group() not in PROMQL_WORDS:
                names.add(match.group())
    return names


def test_dashboard_queries_only_metrics_a_node_exports(scrape: str) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    used = dashboard_metric_names(dashboard)
    assert {"timecoin_height", "timecoin_finality_latency_seconds_bucket"} <= used
    assert "process_resident_memory_bytes" in used
    families = _families(scrape)
    exported = {name.split(",")[0] for _, samples in families.values() for name in samples}
    assert used <= exported, sorted(used - exported)


def test_node_metrics_types_and_values(scrape: str) -> None:
    families = _families(scrape)
    for family in (
        "timecoin_finality_finalized",
        "timecoin_signature_verifications",
        "timecoin_proposals_prebuilt",
        "timecoin_proposals_built_on_loop",
    ):
        kind, samples = families[family]
        assert kind == "counter", family
        assert f"{family}_total" in samples
    assert families["timecoin_finality_finalized"][1]["timecoin_finality_finalized_total"] >= 1
    kind, latency = families["timecoin_finality_latency_seconds"]
    assert kind == "histogram"
    assert latency["timecoin_finality_latency_seconds_count"] >= 1
    assert families["process_resident_memory_bytes"][1]["process_resident_memory_bytes"] > 0
    assert families["process_open_fds"][1]["process_open_fds"] > 0
    assert families["timecoin_masternodes_registered"][1]["timecoin_masternodes_registered"] == 1
    assert families["timecoin_voting_set_voters"][1]["timecoin_voting_set_voters"] == 1
    total = families["timecoin_voting_set_weight"][1]["timecoin_voting_set_weight"]
    assert total > 0
    assert families["timecoin_voting_weight"][1]["timecoin_voting_weight"] == total
    (build,) = families["timecoin_build_info"][1]
    assert ",network=" in build and ",version=" in build


def test_promtool_finds_nothing_to_report(scrape: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool absent (Debian's prometheus package has it)")
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=scrape,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
