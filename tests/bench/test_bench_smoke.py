"""Every benchmark runs end to end at a tiny size (`--smoke`) and writes its
JSON, so a change that breaks one fails `make test` instead of the next
`make bench`. The figures of a smoke run mean nothing and are not checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
BENCHMARKS = sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "benchlib")


def test_every_benchmark_is_here() -> None:
    assert {"consensus", "finality", "ledger", "network", "p2p", "sync"} <= set(BENCHMARKS)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_runs_and_writes_its_json(name: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), "--smoke", "--results", str(tmp_path)],
        cwd=BENCH.parent,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2_000:] + done.stderr[-4_000:]
    result = json.loads((tmp_path / f"{name}.json").read_text())
    assert result["benchmark"] == name
    assert result["smoke"] is True
