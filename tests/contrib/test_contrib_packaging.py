"""The packaging files in contrib/: the systemd unit, the image and the compose file.

A container engine is not always there: where `docker info` fails, the image
and compose tests skip and say so; the entry point they run is covered on
real processes by tests/functional/test_feature_entrypoint.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib"
UNIT = CONTRIB / "init" / "timecoind.service"
DOCKERFILE = CONTRIB / "docker" / "Dockerfile"
COMPOSE = CONTRIB / "docker" / "compose.yaml"


def _engine_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    result = subprocess.run([docker, "info"], capture_output=True, timeout=30, check=False)
    return result.returncode == 0


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is absent")
def test_systemd_unit_verifies_without_warnings(tmp_path: Path) -> None:
    # verify requires ExecStart's program to exist: point it at this install.
    timecoin = Path(sys.executable).with_name("timecoin")
    text = UNIT.read_text(encoding="utf-8")
    assert "ExecStart=/usr/local/bin/timecoin node --datadir /var/lib/timecoind" in text
    unit = tmp_path / "timecoind.service"
    unit.write_text(text.replace("/usr/local/bin/timecoin", str(timecoin)), encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_systemd_unit_is_hardened_like_bitcoind() -> None:
    settings = dict(
        line.split("=", 1)
        for line in UNIT.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    )
    expected = {
        "User": "timecoin",
        "PrivateTmp": "true",
        "ProtectSystem": "full",
        "ProtectHome": "true",
        "NoNewPrivileges": "true",
        "PrivateDevices": "true",
        "MemoryDenyWriteExecute": "true",
        "SystemCallArchitectures": "native",
        "StateDirectory": "timecoind",
    }
    assert {k: settings.get(k) for k in expected} == expected


def test_dockerfile_runs_as_a_user_with_a_volume_ports_and_a_health_check() -> None:
    instructions = [
        line.split(None, 1)
        for line in DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    by_name: dict[str, list[str]] = {}
    for name, argument in instructions:
        by_name.setdefault(name, []).append(argument)
    assert by_name["USER"] == ["timecoin"]
    assert by_name["VOLUME"] == ['["/data"]']
    assert set(by_name["EXPOSE"][0].split()) >= {"24100", "24101", "24200", "24201"}
    assert '"timecoin", "rpc", "--datadir", "/data", "getblockcount"' in by_name["HEALTHCHECK"][0]
    assert by_name["ENTRYPOINT"] == ['["timecoin-entrypoint"]']
    for argument in by_name["COPY"]:
        if argument.startswith("--from="):
            continue  # from the build stage
        sources = [s for s in argument.split()[:-1] if not s.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY source {source} is missing"


def test_compose_runs_four_nodes_from_the_init_service() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    assert '"timecoin-init-network", "/data", "4", "devnet", "node%d:24300"' in text
    for index in range(4):
        block = text.split(f"  node{index}:\n", 1)[1].split("\n  node", 1)[0]
        assert f"TIMECOIN_DATADIR: /data/node{index}" in block
        seeds = re.search(r"TIMECOIN_SEEDS: (\S+)", block)
        assert seeds is not None
        assert set(seeds.group(1).split(",")) == {f"node{j}:24300" for j in range(4) if j != index}


@pytest.mark.skipif(not _engine_available(), reason="no container engine (docker info fails)")
def test_image_builds() -> None:
    result = subprocess.run(
        ["docker", "build", "-f", str(DOCKERFILE), "-t", "timecoin-test", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=1_800,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def test_compose_provisions_prometheus_and_grafana_over_every_node() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    port = re.search(r'TIMECOIN_METRICS_PORT: "(\d+)"', text)
    assert port is not None
    assert "TIMECOIN_METRICS_HOST: 0.0.0.0" in text
    scrape = (CONTRIB / "docker" / "prometheus.yml").read_text(encoding="utf-8")
    for index in range(4):
        assert f'"node{index}:{port.group(1)}"' in scrape
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in text
    assert "../grafana/provisioning:/etc/grafana/provisioning:ro" in text
    mount = re.search(r"\.\./grafana/timecoin\.json:(\S+)/timecoin\.json:ro", text)
    assert mount is not None
    assert (CONTRIB / "grafana" / "timecoin.json").exists()
    provisioning = CONTRIB / "grafana" / "provisioning"
    dashboards = (provisioning / "dashboards" / "timecoin.yaml").read_text(encoding="utf-8")
    assert f"path: {mount.group(1)}\n" in dashboards
    datasource = (provisioning / "datasources" / "prometheus.yaml").read_text(encoding="utf-8")
    assert "url: http://prometheus:9090" in datasource
    assert "  prometheus:\n" in text


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is absent")
def test_prometheus_config_checks() -> None:
    result = subprocess.run(
        ["promtool", "check", "config", str(CONTRIB / "docker" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
