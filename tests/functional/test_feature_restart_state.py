"""Nodes SIGKILLed again and again at random moments restart from their
stored chain state (no replay), agree with the others on every block,
still find old transactions through their index, and pass the background
check of their UTXO set against the tip's commitment."""

from __future__ import annotations

from pathlib import Path

from functional_framework import Testnet, wait_until

KILLS = 4


def _count(path: Path, text: str) -> int:
    return path.read_text(errors="replace").count(text) if path.exists() else 0


def _catch_up(testnet: Testnet, node_index: int) -> int:
    victim = testnet.nodes[node_index]
    others = [node for i, node in enumerate(testnet.nodes) if i != node_index]
    target = max(node.height() for node in others)
    testnet.wait_until_height(victim, target, timeout_s=60.0)
    return target


def test_repeated_sigkills_restart_from_the_stored_state(testnet: Testnet) -> None:
    testnet.wait_for_height(2)
    first_block = testnet.nodes[0].rpc("getblock", testnet.nodes[0].rpc("getblockhash", 1), 1)
    coinbase = first_block["tx"][0]
    coinbase_txid = coinbase if isinstance(coinbase, str) else coinbase["txid"]
    for kill in range(KILLS):
        index = testnet.rng.randrange(len(testnet.nodes))
        victim = testnet.nodes[index]
        log_path = victim.datadir / "restart.log"
        checks_before = _count(log_path, "checked the UTXO set")
        victim.kill()
        victim.restart()
        target = _catch_up(testnet, index)
        reference = testnet.nodes[(index + 1) % len(testnet.nodes)]
        for height in (1, target // 2, target):
            assert victim.rpc("getblockhash", height) == reference.rpc("getblockhash", height), (
                f"kill {kill}: block {height} differs"
            )
        found = victim.rpc("getrawtransaction", coinbase_txid, True)
        assert found["blockhash"] == first_block["hash"]
        log_path = victim.datadir / "restart.log"
        wait_until(
            lambda path=log_path, n=checks_before: _count(path, "checked the UTXO set") > n,
            30.0,
            "the background UTXO set check",
        )
        assert "Traceback" not in log_path.read_text(errors="replace")
    testnet.wait_for_height(max(node.height() for node in testnet.nodes) + 2)
