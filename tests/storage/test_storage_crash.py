"""Crash test: SIGKILL a process that commits blocks, and check the store after.

A child process (storage_crash_child.py) commits a deterministic chain of
synthetic blocks to a real LmdbStore and prints each height once its commit
has returned. The parent kills it with SIGKILL after a random delay, reopens
the store, and checks that it holds exactly the state after some block at
or above the last height the child reported: the tip, the height index,
the undo data, the UTXO state and count, and the full UTXO set. Several
runs continue on the same directory, so recovery after a kill is itself
tested by the next run. The seed is printed and can be replayed with
TIMECOIN_TEST_SEED.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from storage_synth import SyntheticChain

from timecoin.storage import ChainStore, LmdbStore

CHILD = Path(__file__).with_name("storage_crash_child.py")
RUNS = 10
MAX_KILL_DELAY_S = 0.6
READY_TIMEOUT_S = 30.0


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    return env


def _run_and_kill(datadir: Path, seed: int, delay_s: float) -> tuple[int, int]:
    """Start the child, kill it `delay_s` after it is ready; (ready height, last reported)."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(datadir), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_child_env(),
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready and ready[0] == "ready", (
            f"child did not start: {ready!r} {proc.communicate(timeout=READY_TIMEOUT_S)}"
        )
        time.sleep(delay_s)
        assert proc.poll() is None, f"child exited early: {proc.communicate()}"
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=READY_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, err)
    heights = [int(line) for line in out.split()]
    ready_height = int(ready[1])
    return ready_height, heights[-1] if heights else ready_height


def _check_store(datadir: Path, model: SyntheticChain, reported: int, seed: int) -> int:
    """Check the reopened store against the model; returns the stored tip height."""
    with LmdbStore(datadir) as kv:
        store = ChainStore(kv)
        tip = store.get_tip()
        assert tip is not None, f"seed {seed}: no tip after a reported commit"
        assert tip.height >= reported, f"seed {seed}: tip {tip.height} < reported {reported}"
        assert tip.height >= model.height, f"seed {seed}: tip went back to {tip.height}"
        model.advance_to(tip.height)
        assert tip.block_hash == model.tip_hash, f"seed {seed}: wrong tip hash at {tip.height}"
        assert store.get_block_hash(tip.height) == model.tip_hash
        assert store.get_block_hash(tip.height + 1) is None, f"seed {seed}: partial next block"
        assert store.get_utxo_state() == model.utxo_state, f"seed {seed}: utxo state"
        assert store.get_undo(model.tip_hash) == model.last_undo, f"seed {seed}: undo data"
        stored = dict(store.iter_utxos())
        assert stored == model.coins, (
            f"seed {seed}: UTXO set at height {tip.height} differs: "
            f"{len(stored)} stored, {len(model.coins)} expected"
        )
        assert store.utxo_count() == len(model.coins)
        block = store.get_block(model.tip_hash)
        assert block is not None and block.header.height == tip.height
        return tip.height


def test_sigkill_during_commits_leaves_a_committed_state(tmp_path: Path) -> None:
    seed = int(os.environ.get("TIMECOIN_TEST_SEED", random.randrange(2**32)))
    print(f"storage crash test seed {seed} (replay with TIMECOIN_TEST_SEED={seed})")
    rng = random.Random(seed)
    datadir = tmp_path / "chain"
    model = SyntheticChain(seed)
    last_height = -1
    for run in range(RUNS):
        delay_s = rng.uniform(0.0, MAX_KILL_DELAY_S)
        ready, reported = _run_and_kill(datadir, seed, delay_s)
        assert ready == max(last_height, 0), f"seed {seed} run {run}: resumed at {ready}"
        last_height = _check_store(datadir, model, reported, seed)
        print(f"run {run}: killed after {delay_s:.3f} s, reported {reported}, tip {last_height}")
    assert last_height > 0, f"seed {seed}: no block was committed in {RUNS} runs"
