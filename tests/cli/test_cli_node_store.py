"""`timecoin node` on a store it must not run on: a clear message naming
the repair, a non-zero exit, never a traceback (real processes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from timecoin.encoding import u32be
from timecoin.storage import SCHEMA_VERSION, LmdbStore, WriteBatch
from timecoin.storage.schema import CHAIN_STATE_KEY, META_SCHEMA_VERSION_KEY


def _devnet(path: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "timecoin.cli", "devnet", "--datadir", str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return path


def _edit(datadir: Path, puts: dict[bytes, bytes], deletes: tuple[bytes, ...] = ()) -> None:
    with LmdbStore(datadir / "chain") as kv:
        batch = WriteBatch()
        for key, value in puts.items():
            batch.put(key, value)
        for key in deletes:
            batch.delete(key)
        kv.write(batch)


def _run_node(datadir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "timecoin.cli", "node", "--datadir", str(datadir)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (SCHEMA_VERSION + 1, "written by a newer node"),
        (2, "resync into an empty data directory"),
    ],
)
def test_a_store_of_another_schema_is_refused_without_a_traceback(
    tmp_path: Path, version: int, message: str
) -> None:
    datadir = _devnet(tmp_path / "devnet")
    _edit(datadir, {META_SCHEMA_VERSION_KEY: u32be(version)})
    proc = _run_node(datadir)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_missing_chain_state_is_refused_naming_the_repair(tmp_path: Path) -> None:
    datadir = _devnet(tmp_path / "devnet")
    _edit(datadir, {}, (CHAIN_STATE_KEY,))
    proc = _run_node(datadir)
    assert proc.returncode == 1
    assert "no chain state; run `timecoin node --reindex-chainstate`" in proc.stderr
    assert "Traceback" not in proc.stderr
