"""`--reindex-chainstate`: the chain state rebuilt from the stored blocks,
with full validation; resumable after a SIGKILL at any moment; a damaged
coin repaired."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from chain_helpers import GENESIS, PARAMS, Node
from chain_state_crash_chain import CRASH_CHAIN_BLOCKS, build_crash_chain

from timecoin.chain import chain_state_from_genesis
from timecoin.crypto import verify
from timecoin.storage import ChainStore, LmdbStore, WriteBatch
from timecoin.storage.chainstate import commit_applied, init_genesis_state, read_chain_state
from timecoin.storage.chainstore import DamagedRecordError
from timecoin.storage.reindex import REINDEX_KEY, is_reindexing, reindex, request_reindex
from timecoin.storage.schema import UTXO_PREFIX

CHILD = Path(__file__).with_name("chain_reindex_child.py")
TIMEOUT_S = 60.0
MAX_RUNS = 30


def _store_chain(path: Path) -> Node:
    """Genesis and the crash chain committed at `path`; the model after them."""
    model = Node.from_genesis(GENESIS)
    with LmdbStore(path) as kv:
        store = ChainStore(kv)
        init_genesis_state(store, GENESIS, *chain_state_from_genesis(GENESIS, PARAMS))
        for applied in build_crash_chain():
            commit_applied(store, applied, sync=False)
            model.accept(applied)
    return model


def _assert_state_is(path: Path, model: Node) -> None:
    with LmdbStore(path) as kv:
        store = ChainStore(kv)
        assert not is_reindexing(kv)
        state = read_chain_state(store, PARAMS)
        assert state.block_hash == model.state.block_hash
        assert state.registry == model.state.registry
        assert dict(store.iter_utxos()) == model.view.coins
        assert store.utxo_count() == len(model.view.coins)
        for applied in model.applied:
            assert store.get_undo(applied.block_hash) == applied.undo


def test_reindex_rebuilds_a_damaged_coin(tmp_path: Path) -> None:
    model = _store_chain(tmp_path)
    with LmdbStore(tmp_path) as kv:
        key, value = next(iter(kv.iter_prefix(UTXO_PREFIX)))
        batch = WriteBatch()
        batch.put(key, value[:9] + bytes([value[9] ^ 0x40]) + value[10:])
        kv.write(batch)
        store = ChainStore(kv)
        with pytest.raises(DamagedRecordError):
            list(store.iter_utxos())
        request_reindex(store)
        state = reindex(store, GENESIS, PARAMS, verifier=verify)
        assert state.block_hash == model.state.block_hash
    _assert_state_is(tmp_path, model)


def _run_and_kill(datadir: Path, lines_before_kill: int) -> bool:
    """Run the child; SIGKILL it after `lines_before_kill` heights. True once it
    reported `done`."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(datadir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    done = False
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        for _ in range(lines_before_kill + 1):
            line = proc.stdout.readline().strip()
            if line in ("done", ""):
                done = line == "done"
                break
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, err)
    return done


def test_reindex_killed_at_random_moments_resumes_to_the_same_state(tmp_path: Path) -> None:
    seed = int(os.environ.get("TIMECOIN_TEST_SEED", random.randrange(2**32)))
    print(f"reindex crash test seed {seed} (replay with TIMECOIN_TEST_SEED={seed})")
    rng = random.Random(seed)
    model = _store_chain(tmp_path)
    for _ in range(MAX_RUNS):
        if _run_and_kill(tmp_path, rng.randrange(0, CRASH_CHAIN_BLOCKS // 4)):
            break
        with LmdbStore(tmp_path) as kv:
            # the mark goes with the tip's state: killed after that, it is done
            if kv.get(REINDEX_KEY) is None:
                assert read_chain_state(ChainStore(kv), PARAMS).height == CRASH_CHAIN_BLOCKS, (
                    f"seed {seed}: reindex mark lost before the tip"
                )
                break
    else:
        raise AssertionError(f"seed {seed}: reindex not done after {MAX_RUNS} runs")
    _assert_state_is(tmp_path, model)
