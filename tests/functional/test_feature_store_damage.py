"""A coin record changed on disk (a valid encoding, another amount) is
detected and never served: the node refuses to run on it and names the coin
and the repair command; `--reindex-chainstate` repairs it."""

from __future__ import annotations

import subprocess

from functional_framework import Testnet

from timecoin.storage import LmdbStore, WriteBatch
from timecoin.storage.schema import UTXO_PREFIX, parse_utxo_key

MSGPACK_ARRAY_3 = 0x93
MSGPACK_UINT32 = 0xCE
MSGPACK_UINT64 = 0xCF
AMOUNT_DELTA_BIT = 0x40
"""The bit flipped in the amount's last byte: the amount moves by 64 units."""


def _change_amount(value: bytes) -> bytes | None:
    """`value` (a coin record: the msgpack array [amount, address, height],
    then whatever the node stores after it) with the amount off by 64 units,
    still a valid canonical encoding; None if the amount is not encoded on
    4 or 8 bytes."""
    if value[0] != MSGPACK_ARRAY_3 or value[1] not in (MSGPACK_UINT32, MSGPACK_UINT64):
        return None
    last = 1 + (4 if value[1] == MSGPACK_UINT32 else 8)
    return value[:last] + bytes([value[last] ^ AMOUNT_DELTA_BIT]) + value[last + 1 :]


def test_a_changed_coin_amount_is_refused_and_named(testnet: Testnet) -> None:
    testnet.wait_for_height(2)
    victim = testnet.nodes[1]
    victim.kill()
    with LmdbStore(victim.datadir / "chain") as kv:
        found = [
            (key, edited)
            for key, value in kv.iter_prefix(UTXO_PREFIX)
            if (edited := _change_amount(value)) is not None
        ]
        assert found, "no coin with a 4- or 8-byte amount"
        key, edited = found[0]
        batch = WriteBatch()
        batch.put(key, edited)
        kv.write(batch)
    outpoint = parse_utxo_key(key)
    victim.restart()
    proc = victim.restarted[-1]
    try:
        status = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        served = victim.rpc("gettxout", outpoint.txid.hex(), outpoint.index)
        raise AssertionError(f"the node runs on a damaged coin and serves {served}") from None
    log_text = (victim.datadir / "restart.log").read_text(errors="replace")
    assert status == 3, log_text[-2_000:]
    assert f"{outpoint.txid.hex()}:{outpoint.index} is damaged" in log_text
    assert "--reindex-chainstate" in log_text
    assert "Traceback" not in log_text
    # the others run on; the repair command rebuilds the state from the blocks
    healthy = testnet.nodes[0]
    expected = healthy.rpc("gettxout", outpoint.txid.hex(), outpoint.index)
    argv = victim.argv
    victim.argv = [*argv, "--reindex-chainstate"]
    try:
        victim.restart()
    finally:
        victim.argv = argv
    target = healthy.height() + 2
    testnet.wait_until_height(victim, target, timeout_s=60.0)
    assert victim.rpc("getblockhash", target) == healthy.rpc("getblockhash", target)
    repaired = victim.rpc("gettxout", outpoint.txid.hex(), outpoint.index)
    assert repaired["value"] == expected["value"]
    log_text = (victim.datadir / "restart.log").read_text(errors="replace")
    assert "reindexing the chain state: done" in log_text


def test_a_deleted_coin_record_stops_the_node(testnet: Testnet) -> None:
    testnet.wait_for_height(2)
    victim = testnet.nodes[2]
    victim.kill()
    with LmdbStore(victim.datadir / "chain") as kv:
        key, _ = next(iter(kv.iter_prefix(UTXO_PREFIX)))
        batch = WriteBatch()
        batch.delete(key)
        kv.write(batch)
    victim.restart()
    proc = victim.restarted[-1]
    try:
        status = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError("the node runs on a UTXO set missing a coin") from None
    log_text = (victim.datadir / "restart.log").read_text(errors="replace")
    assert status == 3, log_text[-2_000:]
    assert "do not add up to the UTXO commitment" in log_text
    assert "--reindex-chainstate" in log_text
