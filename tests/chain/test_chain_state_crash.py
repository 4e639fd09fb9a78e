"""Crash test: SIGKILL a process that commits real blocks with their chain
state and indexes, and check that the reopened store reads back (without a
replay) the chain state and the indexes of exactly one committed block.

The child (chain_state_crash_child.py) commits the deterministic chain of
`build_crash_chain` (transfers, a registration, a deregistration, epoch
boundaries) with `commit_applied` and prints each height once its commit
has returned. The parent kills it with SIGKILL as soon as it has read a
random number of heights (so the kill lands while the next commit is being
written, or during a map growth), reopens the store, and checks that
`read_chain_state` succeeds and equals the builder's state at the stored
tip, at or above the last height reported, with the UTXO set of that block.
Runs continue on the same directory. The seed is printed and replays with
TIMECOIN_TEST_SEED.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from chain_helpers import GENESIS, PARAMS, Node
from chain_state_crash_chain import CRASH_CHAIN_BLOCKS, build_crash_chain

from timecoin.chain import AppliedBlock, chain_state_from_genesis
from timecoin.storage import ChainStore, KVStore, LmdbStore, MemoryStore
from timecoin.storage.chainstate import commit_applied, init_genesis_state, read_chain_state
from timecoin.storage.indexes import INDEX_NAMES
from timecoin.storage.schema import (
    ADDRESS_INDEX_PREFIX,
    INDEX_STATE_PREFIX,
    SPENT_INDEX_PREFIX,
    TX_INDEX_PREFIX,
)

CHILD = Path(__file__).with_name("chain_state_crash_child.py")
RUNS = 8
TIMEOUT_S = 60.0


def _run_and_kill(datadir: Path, lines_before_kill: int) -> tuple[int, int]:
    """Start the child; SIGKILL it after `lines_before_kill` reported heights
    (or once it is done); return (ready height, last reported height)."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(datadir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reported: list[int] = []
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready and ready[0] == "ready", f"child did not start: {ready!r}"
        while len(reported) < lines_before_kill:
            line = proc.stdout.readline().strip()
            if line in ("done", ""):
                break
            reported.append(int(line))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, err)
    ready_height = int(ready[1])
    return ready_height, reported[-1] if reported else ready_height


def _check(datadir: Path, blocks: tuple[AppliedBlock, ...], reported: int, seed: int) -> int:
    with LmdbStore(datadir) as kv:
        store = ChainStore(kv)
        state = read_chain_state(store, PARAMS)
        assert state.height >= reported, f"seed {seed}: state {state.height} < {reported}"
        expected = blocks[state.height - 1].state_after if state.height else None
        if expected is not None:
            assert state.block_hash == expected.block_hash, f"seed {seed}: {state.height}"
            assert state.registry == expected.registry, f"seed {seed}: registry"
            assert state.utxo_state.digest() == expected.utxo_state.digest()
            assert dict(state.reported_locks) == dict(expected.reported_locks)
            model = Node.from_genesis(GENESIS)
            for applied in blocks[: state.height]:
                model.accept(applied)
            assert dict(store.iter_utxos()) == model.view.coins, f"seed {seed}: UTXO set"
        assert _indexes(kv) == _expected_indexes(blocks[: state.height]), f"seed {seed}: indexes"
        return state.height


def _indexes(kv: KVStore) -> dict[bytes, bytes]:
    prefixes = (TX_INDEX_PREFIX, SPENT_INDEX_PREFIX, ADDRESS_INDEX_PREFIX, INDEX_STATE_PREFIX)
    return {k: v for prefix in prefixes for k, v in kv.iter_prefix(prefix)}


def _expected_indexes(blocks: tuple[AppliedBlock, ...]) -> dict[bytes, bytes]:
    """The index entries of genesis and `blocks`, written in memory."""
    store = ChainStore(MemoryStore())
    store.indexes = frozenset(INDEX_NAMES)
    init_genesis_state(store, GENESIS, *chain_state_from_genesis(GENESIS, PARAMS))
    for applied in blocks:
        commit_applied(store, applied)
    return _indexes(store.kv)


def test_sigkill_during_commits_leaves_one_committed_chain_state(tmp_path: Path) -> None:
    seed = int(os.environ.get("TIMECOIN_TEST_SEED", random.randrange(2**32)))
    print(f"chain state crash test seed {seed} (replay with TIMECOIN_TEST_SEED={seed})")
    rng = random.Random(seed)
    blocks = build_crash_chain()
    datadir = tmp_path / "chain"
    last = 0
    for run in range(RUNS):
        ready, reported = _run_and_kill(datadir, rng.randrange(0, 8))
        assert ready == last, f"seed {seed} run {run}: resumed at {ready}, expected {last}"
        last = _check(datadir, blocks, reported, seed)
        if last == CRASH_CHAIN_BLOCKS:
            break
    assert last > 0, f"seed {seed}: nothing committed"
