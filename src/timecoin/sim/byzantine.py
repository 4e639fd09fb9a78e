"""Byzantine masternodes: strategies that replace or add to a node's sends.

A Byzantine node runs the honest node code; its strategy sees every
`Broadcast` the consensus machine asks for (and may send something else
instead) and runs at every maintenance tick. Strategies:

- `equivocate`: as proposer it signs two different blocks and sends one to
  each half of the honest members; the coalition of all equivocating nodes
  then signs prevotes and precommits for each block and sends them to the
  matching half, so that with more than 1/3 of the weight each half sees a
  quorum (the non-vacuity attack). Outside such a round it double votes:
  its vote to one half, a conflicting vote to the other. Sometimes one
  honest node receives both versions, so evidence is observed.
- `withhold`: never sends a vote (it still proposes).
- `invalid`: as proposer it sends an invalid block instead of its own:
  tampered UTXO commitment, a double spend (a transaction already in the
  chain, so its coins are spent), or an inflated coinbase.
- `garbage`: behaves honestly, and at every tick sends malformed bytes
  (random, truncated, with a flipped byte, with trailing bytes) and
  well-formed messages with bad signatures to random members.
- `doublevote`: behaves honestly in consensus, and as a committee member
  signs a transaction vote for every valid transaction it sees, on top of
  its machine's votes: it votes for both sides of every double spend. With
  more than 1/3 of the weight, conflicting transactions both become final
  (the non-vacuity attack of the finality checkers).
- `grind`: behaves honestly, except as proposer of an epoch's seed block (the
  block before its last, whose hash seeds the next committee): it builds
  `GRIND_VARIANTS` versions of its block (timestamps 0 to K - 1 ms later),
  computes the next committee each would seed, and proposes the one that
  seats the most Byzantine weight (ADR 0013 measures what this buys under
  each committee rule).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Final

from msgspec.structs import replace

from timecoin.chain.finality import compute_inputs_root
from timecoin.consensus import Broadcast, sign_proposal, sign_vote
from timecoin.consensus.finality_votes import sign_tx_vote_batch
from timecoin.crypto import merkle_root, sha256
from timecoin.encoding import encode
from timecoin.ledger import check_transaction, validate_transaction
from timecoin.masternode import compute_voting_set_from_entries, is_last_height_of_epoch
from timecoin.p2p.messages import Message, ProposalMsg, Txs, VoteMsg, encode_message
from timecoin.sim.promise import compute_committee_share
from timecoin.sim.view import StrategyNode, StrategyRun
from timecoin.types import (
    ZERO_HASH,
    Block,
    InvalidTransaction,
    Proposal,
    Transaction,
    TxOutput,
    Vote,
    VoteLeaf,
    VoteType,
    compute_block_hash,
    compute_txid,
    compute_witness_hash,
)

STRATEGIES: Final = ("equivocate", "withhold", "invalid", "garbage", "doublevote", "grind")
"""Names of the Byzantine strategies."""

LEAK_PROBABILITY: Final = 0.5
"""Chance that one honest node receives both versions of an equivocation."""

LEAK_DELAY_MS: Final = 10
"""Extra delay of the leaked second version."""

GARBAGE_PER_TICK: Final = 3
"""Malformed messages a `garbage` node sends per maintenance tick."""

GRIND_VARIANTS: Final = 16
"""Blocks a `grind` proposer builds for an epoch's seed block."""

MAX_REMEMBERED_TXS: Final = 32
"""Committed transactions an `invalid` node keeps to replay as double spends."""


class ByzantineStrategy:
    """Base strategy: behaves honestly."""

    name = "honest"

    def on_broadcast(self, node: StrategyNode, effect: Broadcast) -> bool:
        """Handle a send the machine asked for; True when handled (the node
        then does not send it itself)."""
        return False

    def on_maintenance(self, node: StrategyNode) -> None:
        """Called at every maintenance tick of the node."""

    def on_transaction(self, node: StrategyNode, tx: Transaction) -> None:
        """Called for every transaction the node receives, before it is pooled."""


class DoubleVoteStrategy(ByzantineStrategy):
    """Votes for every valid transaction it sees, conflicting ones included."""

    name = "doublevote"

    def __init__(self) -> None:
        """A strategy that has voted for nothing yet."""
        self._voted: set[tuple[int, bytes]] = set()

    def on_transaction(self, node: StrategyNode, tx: Transaction) -> None:
        """Sign a one-leaf vote batch for `tx` when it is valid against the tip
        (whatever this node voted for before) and send it."""
        finality = node.finality
        if finality is None or not finality.is_member or finality.has_reported:
            return
        txid = compute_txid(tx)
        key = (finality.epoch, txid)
        if key in self._voted:
            return
        params = node.params
        try:
            check_transaction(tx, params)
            validate_transaction(
                tx, txid, node.utxo, params, node.height + 1, sig_cache=node.sim.sig_cache
            )
        except InvalidTransaction:
            return
        self._voted.add(key)
        leaf = VoteLeaf(txid=txid, inputs_root=compute_inputs_root(tx))
        batch, _ = sign_tx_vote_batch(node.key, params.chain_id, finality.epoch, [leaf])
        node.send_votes(batch, [leaf])


class WithholdStrategy(ByzantineStrategy):
    """Never sends a vote."""

    name = "withhold"

    def on_broadcast(self, node: StrategyNode, effect: Broadcast) -> bool:
        """Drop every vote."""
        return isinstance(effect.message, Vote)


class GrindStrategy(ByzantineStrategy):
    """Chooses the seed of the next committee among its block variants."""

    name = "grind"

    def __init__(self) -> None:
        """A strategy that has ground no seed yet."""
        self.ground = 0
        self.improved = 0
        self.gained_weight = 0
        self._swapped: dict[tuple[int, int], tuple[bytes, bytes]] = {}

    def on_broadcast(self, node: StrategyNode, effect: Broadcast) -> bool:
        """Replace a new proposal of a seed block by its most favourable
        variant, and this node's votes for the original by votes for it."""
        message = effect.message
        params = node.params
        if isinstance(message, Vote):
            swap = self._swapped.get((message.height, message.round))
            if swap is None or message.block_hash != swap[0] or node.machine is None:
                return False
            vote = sign_vote(
                node.key,
                params.chain_id,
                message.vote_type,
                message.height,
                message.round,
                swap[1],
            )
            node.send_to(
                node.sim.members_of(node.machine.context.voting_set), VoteMsg(votes=[vote])
            )
            return True
        if (
            not isinstance(message, Proposal)
            or not isinstance(effect.block_value, Block)
            or message.pol_round != -1
            or not is_last_height_of_epoch(message.height + 1, params)
            or node.machine is None
        ):
            return False
        next_epoch = params.epoch_of(message.height + 2)
        entries = node.state.registry.entries

        def byzantine_weight(block: Block) -> int:
            seed = compute_block_hash(block.header)
            voting_set = compute_voting_set_from_entries(entries, next_epoch, seed, params)
            return compute_committee_share(voting_set, node.sim.is_byzantine_key).byzantine_weight

        honest_weight = byzantine_weight(effect.block_value)
        best: tuple[int, int, Block] = (honest_weight, 0, effect.block_value)
        for offset in range(1, GRIND_VARIANTS):
            variant = node.build_block(message.timestamp_ms + offset)
            if variant is not None and byzantine_weight(variant) > best[0]:
                best = (byzantine_weight(variant), offset, variant)
        self.ground += 1
        weight, offset, block = best
        if offset == 0:
            return False
        self.improved += 1
        self.gained_weight += weight - honest_weight
        self._swapped[(message.height, message.round)] = (
            message.block_hash,
            compute_block_hash(block.header),
        )
        proposal = sign_proposal(
            node.key,
            params.chain_id,
            message.height,
            message.round,
            -1,
            compute_block_hash(block.header),
            message.timestamp_ms + offset,
        )
        node.sim.recorder.on_proposal_sent(proposal, node.sim.queue.now_ms)
        node.send_to(
            node.sim.members_of(node.machine.context.voting_set),
            ProposalMsg(proposal=proposal, block=block),
        )
        return True


class InvalidStrategy(ByzantineStrategy):
    """Proposes invalid blocks."""

    name = "invalid"

    def __init__(self) -> None:
        """A strategy with no remembered transactions yet."""
        self.committed_txs: list[Transaction] = []
        self.sent = 0

    def remember(self, block: Block) -> None:
        """Keep recent committed transactions (to replay as double spends)."""
        self.committed_txs.extend(tx for tx in block.transactions if not tx.is_coinbase)
        del self.committed_txs[:-MAX_REMEMBERED_TXS]

    def on_broadcast(self, node: StrategyNode, effect: Broadcast) -> bool:
        """Replace a new proposal by a signed proposal of a tampered block."""
        message = effect.message
        if not isinstance(message, Proposal) or not isinstance(effect.block_value, Block):
            return False
        if message.pol_round != -1:
            return False
        block = tamper_block(effect.block_value, self.committed_txs, node.sim.rng)
        proposal = sign_proposal(
            node.key,
            node.params.chain_id,
            message.height,
            message.round,
            -1,
            compute_block_hash(block.header),
            message.timestamp_ms,
        )
        machine = node.machine
        if machine is None:
            return True
        self.sent += 1
        node.send_to(
            node.sim.members_of(machine.context.voting_set),
            ProposalMsg(proposal=proposal, block=block),
        )
        return True


def tamper_block(block: Block, committed: Sequence[Transaction], rng: random.Random) -> Block:
    """An invalid variant of `block` whose header still commits to its body.

    One of: a wrong UTXO commitment; a transaction already in the chain
    added again (its inputs are spent: a double spend); a coinbase paying
    one unit more than allowed.
    """
    kind = rng.choice(("utxo-commitment", "double-spend", "coinbase"))
    transactions = list(block.transactions)
    if kind == "double-spend" and committed:
        transactions.append(rng.choice(list(committed)))
    elif kind == "coinbase" and transactions and transactions[0].outputs:
        coinbase = transactions[0]
        first = coinbase.outputs[0]
        outputs = [TxOutput(amount=first.amount + 1, address=first.address), *coinbase.outputs[1:]]
        transactions[0] = replace(coinbase, outputs=outputs)
    else:
        header = replace(block.header, utxo_commitment=sha256(rng.randbytes(32)))
        return replace(block, header=header)
    header = replace(
        block.header,
        tx_root=merkle_root([compute_txid(tx) for tx in transactions]),
        witness_root=merkle_root([compute_witness_hash(tx) for tx in transactions]),
    )
    return replace(block, header=header, transactions=transactions)


class GarbageStrategy(ByzantineStrategy):
    """Honest, plus malformed messages at every tick."""

    name = "garbage"

    def __init__(self) -> None:
        """A strategy that has sent nothing yet."""
        self.sent = 0

    def on_maintenance(self, node: StrategyNode) -> None:
        """Send GARBAGE_PER_TICK malformed messages to random nodes."""
        sim = node.sim
        rng = sim.rng
        for _ in range(GARBAGE_PER_TICK):
            data = make_garbage(node, rng)
            target = rng.randrange(sim.node_count)
            if target != node.node_id:
                self.sent += 1
                sim.send(node.node_id, target, data)


def make_garbage(node: StrategyNode, rng: random.Random) -> bytes:
    """One malformed message: random bytes, a real message truncated, with a
    flipped byte or trailing bytes, or a well-formed vote with a bad signature."""
    vote = Vote(
        vote_type=int(VoteType.PREVOTE),
        height=node.state.height + 1,
        round=0,
        block_hash=sha256(rng.randbytes(8)),
        voter=node.public_key,
        signature=rng.randbytes(64),
    )
    real = encode_message(VoteMsg(votes=[vote]))
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randbytes(rng.randint(0, 200))
    if kind == 1:
        return real[: rng.randrange(len(real))]
    if kind == 2:
        position = rng.randrange(len(real))
        return real[:position] + bytes([real[position] ^ 0xFF]) + real[position + 1 :]
    if kind == 3:
        return real + rng.randbytes(rng.randint(1, 8))
    if kind == 4:
        pooled = [entry.tx for entry in node.mempool.entries()]
        if pooled:
            return encode_message(Txs(transactions=[rng.choice(pooled)]))[:-1]
        return b"\x91\xc4\x00"
    return real


class EquivocateStrategy(ByzantineStrategy):
    """Double proposals and double votes, coordinated by a `Coalition`."""

    name = "equivocate"

    def __init__(self, coalition: Coalition) -> None:
        """A member of `coalition`."""
        self.coalition = coalition

    def on_broadcast(self, node: StrategyNode, effect: Broadcast) -> bool:
        """Split new proposals; suppress or double the votes."""
        message = effect.message
        coalition = self.coalition
        if isinstance(message, Proposal):
            if message.pol_round != -1 or not isinstance(effect.block_value, Block):
                return False
            return coalition.split_proposal(node, message, effect.block_value)
        if coalition.is_split(message.height, message.round):
            return True
        coalition.double_vote(node, message)
        return True


class Coalition:
    """The equivocating nodes acting together.

    Honest nodes are ranked once per run (from the run's generator); the
    first half of the honest members of a voting set, in that order, is
    half A, the rest half B. Byzantine members are sent the A versions.
    """

    def __init__(self, sim: StrategyRun, members: Sequence[int], honest: Sequence[int]) -> None:
        """A coalition of node ids `members`; `honest` are the other nodes."""
        self.sim = sim
        self.members = list(members)
        ranked = list(honest)
        sim.rng.shuffle(ranked)
        self._rank = {node: rank for rank, node in enumerate(ranked)}
        self._splits: set[tuple[int, int]] = set()
        self.split_rounds = 0
        self.double_votes = 0

    def is_split(self, height: int, round: int) -> bool:
        """Whether the coalition has split (height, round)."""
        return (height, round) in self._splits

    def _halves(self, node: StrategyNode) -> tuple[list[int], list[int], list[int]]:
        """(half A, half B, Byzantine members) of the node's current voting set."""
        machine = node.machine
        if machine is None:
            return [], [], []
        members = self.sim.members_of(machine.context.voting_set)
        honest = sorted((m for m in members if m in self._rank), key=lambda m: self._rank[m])
        byzantine = [m for m in members if m not in self._rank]
        cut = (len(honest) + 1) // 2
        return honest[:cut], honest[cut:], byzantine

    def split_proposal(self, node: StrategyNode, proposal: Proposal, block_a: Block) -> bool:
        """Send block A and block B (built with a later timestamp) to the two
        halves, with prevotes and precommits of every coalition member for
        the matching block. False when no second block can be built."""
        block_b = node.build_block(proposal.timestamp_ms + 1)
        if block_b is None:
            return False
        sim = self.sim
        chain_id = node.params.chain_id
        height, round = proposal.height, proposal.round
        hash_a = proposal.block_hash
        hash_b = compute_block_hash(block_b.header)
        proposal_b = sign_proposal(
            node.key, chain_id, height, round, -1, hash_b, proposal.timestamp_ms + 1
        )
        half_a, half_b, byzantine = self._halves(node)
        self._splits.add((height, round))
        self.split_rounds += 1
        sim.recorder.on_proposal_sent(proposal, sim.queue.now_ms)
        versions: list[tuple[list[int], list[Message]]] = [
            (half_a + byzantine, [ProposalMsg(proposal=proposal, block=block_a)]),
            (half_b, [ProposalMsg(proposal=proposal_b, block=block_b)]),
        ]
        machine = node.machine
        voting_set = None if machine is None else machine.context.voting_set
        for member_id in self.members:
            member = sim.nodes[member_id]
            if voting_set is None or voting_set.index_of(member.public_key) is None:
                continue
            for vote_type in (VoteType.PREVOTE, VoteType.PRECOMMIT):
                for (_, messages), block_hash in zip(versions, (hash_a, hash_b), strict=True):
                    vote = sign_vote(member.key, chain_id, vote_type, height, round, block_hash)
                    messages.append(VoteMsg(votes=[vote]))
        for targets, messages in versions:
            for message in messages:
                node.send_to(targets, message)
        if half_a and sim.rng.random() < LEAK_PROBABILITY:
            witness = sim.rng.choice(half_a)
            for message in versions[1][1]:
                sim.send(node.node_id, witness, encode_message(message), LEAK_DELAY_MS)
        return True

    def double_vote(self, node: StrategyNode, vote: Vote) -> None:
        """Send `vote` to half A and a conflicting vote of the same slot to half B."""
        sim = self.sim
        if vote.block_hash != ZERO_HASH:
            other_hash = ZERO_HASH
        else:
            other_hash = sha256(b"equivocation" + encode((vote.height, vote.round)))
        other = sign_vote(
            node.key, node.params.chain_id, vote.vote_type, vote.height, vote.round, other_hash
        )
        half_a, half_b, byzantine = self._halves(node)
        self.double_votes += 1
        node.send_to(half_a + byzantine, VoteMsg(votes=[vote]))
        node.send_to(half_b, VoteMsg(votes=[other]))
        if half_a and sim.rng.random() < LEAK_PROBABILITY:
            witness = sim.rng.choice(half_a)
            sim.send(node.node_id, witness, encode_message(VoteMsg(votes=[other])), LEAK_DELAY_MS)


def make_strategy(name: str, coalition: Coalition | None) -> ByzantineStrategy:
    """The strategy called `name` (equivocate needs the run's coalition).

    Raises ValueError for an unknown name.
    """
    if name == "equivocate":
        if coalition is None:
            raise ValueError("the equivocate strategy needs a coalition")
        return EquivocateStrategy(coalition)
    if name == "withhold":
        return WithholdStrategy()
    if name == "doublevote":
        return DoubleVoteStrategy()
    if name == "invalid":
        return InvalidStrategy()
    if name == "garbage":
        return GarbageStrategy()
    if name == "grind":
        return GrindStrategy()
    raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
