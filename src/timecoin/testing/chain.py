"""A certified chain grown block by block."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from timecoin.chain import (
    AppliedBlock,
    ChainState,
    build_block,
    chain_state_from_genesis,
    voting_set_at,
)
from timecoin.crypto import SigningKey, verify
from timecoin.ledger import BatchVerify, MemoryUtxoSet
from timecoin.masternode import is_last_height_of_epoch
from timecoin.params import ChainParams
from timecoin.testing.certificates import certify, epoch_reports
from timecoin.types import Block, Certificate, EpochReport, Evidence, Transaction

__all__ = ["ChainBuilder"]


class ChainBuilder:
    """The tip of a chain built from a genesis: its state, UTXO set and
    certificate (None at genesis).

    `build` makes the next block, valid, proposed by a member of the next
    voting set (rotating by height), certified by the whole voting set with
    `keys` and, at an epoch's last height, carrying the epoch reports of the
    whole outgoing voting set (listing nothing unless `reports` are given);
    `accept` makes it the tip. Blocks are 1 block interval apart unless told
    otherwise. Only the tip is kept: record what a test needs from `accept`.
    """

    def __init__(
        self, genesis: Block, params: ChainParams, keys: Mapping[bytes, SigningKey]
    ) -> None:
        """The chain holding only `genesis`; `keys` are the operator keys by public key."""
        state, delta = chain_state_from_genesis(genesis, params)
        self.genesis = genesis
        self.keys = keys
        self.state: ChainState = state
        self.view = MemoryUtxoSet(dict(delta.created))
        self.certificate: Certificate | None = None

    @property
    def height(self) -> int:
        """The tip height."""
        return self.state.height

    def proposer(self) -> bytes:
        """The operator key proposing the next block."""
        height = self.state.height + 1
        voting_set = voting_set_at(self.state, height)
        if voting_set is None or not voting_set.voters:
            raise ValueError(f"no voting set at height {height}")
        return voting_set.voters[height % len(voting_set.voters)].operator_key

    def build(
        self,
        transactions: Sequence[Transaction] = (),
        *,
        timestamp_ms: int | None = None,
        proposer: bytes | None = None,
        evidence: Sequence[Evidence] = (),
        reports: Iterable[EpochReport] | None = None,
        verify_batch: BatchVerify | None = None,
    ) -> AppliedBlock:
        """The next block with `transactions`, built and applied to a copy of the
        tip (the tip does not move: `accept` it). `reports` replace the
        default empty reports of every voter at an epoch's last height."""
        state = self.state
        if reports is None:
            due = is_last_height_of_epoch(state.height + 1, state.params)
            reports = epoch_reports(state, self.keys) if due else ()
        return build_block(
            state,
            self.view,
            transactions,
            timestamp_ms=(
                state.header.timestamp_ms + state.params.block_interval_ms
                if timestamp_ms is None
                else timestamp_ms
            ),
            proposer=self.proposer() if proposer is None else proposer,
            prev_certificate=self.certificate,
            evidence=evidence,
            verifier=verify,
            verify_batch=verify_batch,
            reports=reports,
        )

    def accept(self, applied: AppliedBlock) -> Certificate:
        """Make `applied` the tip, certified by its whole voting set; the certificate."""
        self.view.apply_delta(applied.delta)
        self.state = applied.state_after
        self.certificate = certify(self.state, self.keys)
        return self.certificate

    def extend(self, count: int) -> list[AppliedBlock]:
        """Add `count` blocks holding only their coinbase; the blocks added."""
        added = []
        for _ in range(count):
            applied = self.build()
            self.accept(applied)
            added.append(applied)
        return added
