"""The checkers catch what they check: each property broken on purpose."""

from __future__ import annotations

from timecoin.consensus import WalVote, sign_vote
from timecoin.sim.config import SimConfig
from timecoin.sim.simulator import Simulation
from timecoin.types import Coin, OutPoint, VoteType


def _finished(**kwargs: object) -> Simulation:
    sim = Simulation(SimConfig(nodes=4, seed=41, heights=6, **kwargs))  # type: ignore[arg-type]
    result = sim.run()
    assert result.ok, result.failure_report()
    sim.recorder.violations.clear()
    return sim


def test_inflated_utxo_set_breaks_supply_and_commitment() -> None:
    sim = _finished()
    node = sim.nodes[0]
    node.utxo.coins[OutPoint(txid=b"\x01" * 32, index=0)] = Coin(1_000, b"\x02" * 20, 1)
    sim.recorder.finish()
    kinds = {v.kind for v in sim.recorder.violations}
    assert {"supply", "utxo-commitment"} <= kinds


def test_spending_a_coin_twice_is_a_double_spend() -> None:
    sim = _finished()
    node = sim.nodes[0]
    block = next(b for b, _ in node.disk.blocks if len(b.transactions) > 1)
    sim.recorder._check_double_spends(node, block)
    assert [v.kind for v in sim.recorder.violations] == ["double-spend"] * sum(
        len(tx.inputs) for tx in block.transactions
    )


def test_honest_node_signing_twice_is_caught() -> None:
    sim = _finished()
    node = sim.nodes[0]
    chain_id = node.params.chain_id
    for block_hash in (b"\x03" * 32, b"\x04" * 32):
        vote = sign_vote(node.key, chain_id, VoteType.PREVOTE, 99, 0, block_hash)
        sim.recorder.on_persist(node, WalVote(vote))
    assert [v.kind for v in sim.recorder.violations] == ["honest-equivocation"]


def test_unrecorded_equivocation_is_caught() -> None:
    sim = _finished(byzantine=1, strategy="withhold")
    honest = sim.nodes[sim.honest_ids[0]]
    byzantine = sim.nodes[sim.byzantine_ids[0]]
    chain_id = honest.params.chain_id
    for block_hash in (b"\x05" * 32, b"\x06" * 32):
        vote = sign_vote(byzantine.key, chain_id, VoteType.PRECOMMIT, 50, 1, block_hash)
        sim.recorder.on_delivered(honest, vote, True)
    sim.recorder.finish()
    assert [v.kind for v in sim.recorder.violations] == ["evidence"]
