"""The transaction pool: admission, protection of voted and final
transactions, eviction, per-peer limits, orphans and a shared signature cache.

Pure and I/O-free: time is an argument, state is read through a
`timecoin.ledger.UtxoView` the caller passes (normally a `FinalUtxoView`:
the tip plus final-but-unblocked outputs). docs/spec/finality.md section 8
states the policy.

Two classes of entries:

- **protected**: transactions this node voted for (`mark_voted`) or holds a
  finality proof of (`mark_final`, or `add(..., final=True)`). They are never
  evicted and do not count against per-peer limits; they leave only when a
  block includes them or spends one of their inputs (`remove_block`).
- **candidates**: everything else. They count against their peer's share,
  and when the memory cap is reached the candidate with the lowest fee rate
  (and its in-pool descendants) is evicted, if the newcomer pays a higher
  rate.

A voting pool (`voting=True`, what a committee member runs) admits by
consensus rules only: no fee, dust or size floor above consensus. Its
resource limits (memory cap, per-peer share) only delay: the transaction is
refused for now with a retryable code and comes again with the next
re-announcement.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from timecoin.ledger import (
    SignatureCache,
    UtxoView,
    check_transaction,
    compute_tx_size,
    validate_transaction,
)
from timecoin.ledger import errors as ledger_errors
from timecoin.mempool.errors import (
    REJECT_DUST,
    REJECT_FEE_RATE,
    REJECT_MEMPOOL_CONFLICT,
    REJECT_MEMPOOL_FULL,
    REJECT_ORPHAN,
    REJECT_PEER_LIMIT,
    REJECT_TOO_LARGE,
    MempoolRejected,
)
from timecoin.params import ChainParams
from timecoin.types import InvalidTransaction, OutPoint, Transaction, compute_txid

__all__ = [
    "ENTRY_OVERHEAD_BYTES",
    "AddResult",
    "Mempool",
    "MempoolPolicy",
    "PoolEntry",
    "estimate_entry_memory_bytes",
]

ENTRY_OVERHEAD_BYTES = 1_024
"""Estimated Python memory of an entry beyond its encoded bytes (objects,
dict slots, indexes); `estimate_entry_memory_bytes` adds per-input and
per-output costs."""
_INPUT_MEMORY_BYTES = 400
_OUTPUT_MEMORY_BYTES = 200


def estimate_entry_memory_bytes(tx: Transaction, size_bytes: int) -> int:
    """An estimate of the memory a pooled transaction takes (what the cap counts)."""
    return (
        ENTRY_OVERHEAD_BYTES
        + size_bytes
        + _INPUT_MEMORY_BYTES * len(tx.inputs)
        + _OUTPUT_MEMORY_BYTES * len(tx.outputs)
    )


@dataclass(frozen=True, slots=True)
class MempoolPolicy:
    """Local admission limits (not consensus rules).

    - `max_memory_bytes`: the total memory cap (estimated, all entries);
    - `max_peer_txs`, `max_peer_memory_bytes`: one peer's share of the
      candidates;
    - `max_orphans`: transactions kept aside while a parent is not final;
    - `min_fee_per_kb`, `dust_limit`, `max_tx_bytes`: relay floors of a
      non-voting pool; None means the consensus value. A voting pool ignores
      them.
    """

    max_memory_bytes: int = 300_000_000
    max_peer_txs: int = 5_000
    max_peer_memory_bytes: int = 30_000_000
    max_orphans: int = 1_000
    min_fee_per_kb: int | None = None
    dust_limit: int | None = None
    max_tx_bytes: int | None = None


@dataclass(slots=True)
class PoolEntry:
    """A pooled transaction and what the pool knows about it."""

    tx: Transaction
    txid: bytes
    size_bytes: int
    memory_bytes: int
    fee: int
    time_ms: int
    peer: str | None
    voted: bool = False
    final: bool = False

    @property
    def is_protected(self) -> bool:
        """Voted for or final: never evicted, outside the per-peer limits."""
        return self.voted or self.final

    @property
    def fee_rate(self) -> float:
        """Fee per byte (the eviction order)."""
        return self.fee / max(self.size_bytes, 1)


@dataclass(frozen=True, slots=True)
class AddResult:
    """Outcome of `Mempool.add`: the txid, its fee, and whether it is new,
    with the txids evicted to make room."""

    txid: bytes
    fee: int
    added: bool
    evicted: tuple[bytes, ...] = ()


@dataclass(slots=True)
class _PeerUsage:
    txs: int = 0
    memory_bytes: int = 0


@dataclass(slots=True)
class _Orphan:
    tx: Transaction
    peer: str | None
    missing: set[bytes] = field(default_factory=set)


class Mempool:
    """Transactions waiting for finality and for a block (see the module doc)."""

    def __init__(
        self,
        params: ChainParams,
        policy: MempoolPolicy | None = None,
        *,
        voting: bool = True,
        sig_cache: SignatureCache | None = None,
    ) -> None:
        """An empty pool. `sig_cache` is the node's one signature cache, shared
        with block validation (and, wrapped as a verifier, with the finality
        machine), so that no signature is verified twice."""
        self.params = params
        self.policy = policy or MempoolPolicy()
        self.voting = voting
        self.sig_cache = sig_cache if sig_cache is not None else SignatureCache()
        self._entries: dict[bytes, PoolEntry] = {}
        # Pooled spenders of each outpoint: one, or a final transaction and
        # the protected ones it conflicts with.
        self._spenders: dict[OutPoint, set[bytes]] = {}
        self._memory_bytes = 0
        self._peers: dict[str, _PeerUsage] = {}
        self._orphans: OrderedDict[bytes, _Orphan] = OrderedDict()
        self._orphans_by_parent: dict[bytes, set[bytes]] = {}

    # ---------------------------------------------------------------- reads

    def __len__(self) -> int:
        """Number of pooled transactions (orphans excluded)."""
        return len(self._entries)

    def __contains__(self, txid: object) -> bool:
        """Whether `txid` is pooled."""
        return txid in self._entries

    @property
    def memory_bytes(self) -> int:
        """Estimated memory of all entries (what `max_memory_bytes` caps)."""
        return self._memory_bytes

    @property
    def orphan_count(self) -> int:
        """Transactions kept aside for a parent."""
        return len(self._orphans)

    def get(self, txid: bytes) -> PoolEntry | None:
        """The entry of `txid`, or None."""
        return self._entries.get(txid)

    def entries(self) -> list[PoolEntry]:
        """Every entry, oldest first."""
        return list(self._entries.values())

    def spenders_of(self, outpoint: OutPoint) -> set[bytes]:
        """The txids of the pooled transactions spending `outpoint` (more than one
        only when a final transaction conflicts with one this node voted for)."""
        return set(self._spenders.get(outpoint, ()))

    def peer_usage(self, peer: str) -> tuple[int, int]:
        """(candidate transactions, estimated memory) held for `peer`."""
        usage = self._peers.get(peer)
        return (0, 0) if usage is None else (usage.txs, usage.memory_bytes)

    # --------------------------------------------------------------- writes

    def add(
        self,
        tx: Transaction,
        view: UtxoView,
        height: int,
        *,
        now_ms: int,
        peer: str | None = None,
        final: bool = False,
        size_bytes: int | None = None,
    ) -> AddResult:
        """Validate `tx` for a block at `height` against `view` and pool it.

        Consensus first (`check_transaction`, `validate_transaction` with the
        shared signature cache), then, for a non-voting pool, the relay
        floors; then conflicts, the peer's share and the memory cap. A
        transaction with a missing input whose parent is not in `view` is
        kept aside as an orphan (`take_orphans`) and reported with the
        retryable code `orphan`. `final=True` (a transaction with a checked
        finality proof) skips the policy: it is kept, protected, even if it
        conflicts with a pooled candidate, which it evicts.

        Raises:
            InvalidTransaction: a consensus rule (the sender's fault).
            MempoolRejected: txn-mempool-conflict, peer-limit, mempool-full,
                orphan, min-fee-rate, dust, tx-size-policy (all retryable).
        """
        txid = compute_txid(tx)
        existing = self._entries.get(txid)
        if existing is not None:
            if final:
                self.mark_final(txid)
            return AddResult(txid=txid, fee=existing.fee, added=False)
        if size_bytes is None:
            size_bytes = compute_tx_size(tx)
        params = self.params
        check_transaction(tx, params, size_bytes=size_bytes)
        try:
            fee = validate_transaction(
                tx, txid, view, params, height, sig_cache=self.sig_cache, size_bytes=size_bytes
            )
        except InvalidTransaction as exc:
            if exc.reject_code == ledger_errors.REJECT_MISSING_INPUT:
                self._add_orphan(tx, txid, view, peer)
                raise MempoolRejected(REJECT_ORPHAN, f"kept aside: {exc.message}") from exc
            raise
        if not final and not self.voting:
            self._check_relay_policy(tx, size_bytes, fee)
        memory = estimate_entry_memory_bytes(tx, size_bytes)
        evicted: list[bytes] = []
        conflicts = {other for t in tx.inputs for other in self._spenders.get(t.prevout, ())}
        if conflicts:
            if not final:
                other = next(iter(conflicts))
                raise MempoolRejected(
                    REJECT_MEMPOOL_CONFLICT, f"an input is spent by pooled {other.hex()}"
                )
            for other in conflicts:
                entry = self._entries.get(other)
                if entry is not None and not entry.is_protected:
                    evicted.extend(self._remove_with_descendants(other))
        if not final and peer is not None:
            usage = self._peers.get(peer, _PeerUsage())
            if (
                usage.txs + 1 > self.policy.max_peer_txs
                or usage.memory_bytes + memory > self.policy.max_peer_memory_bytes
            ):
                raise MempoolRejected(
                    REJECT_PEER_LIMIT,
                    f"peer {peer} holds {usage.txs} transactions, {usage.memory_bytes} bytes",
                )
        evicted.extend(self._make_room(memory, fee / max(size_bytes, 1), final))
        entry = PoolEntry(
            tx=tx,
            txid=txid,
            size_bytes=size_bytes,
            memory_bytes=memory,
            fee=fee,
            time_ms=now_ms,
            peer=peer,
            final=final,
        )
        self._insert(entry)
        return AddResult(txid=txid, fee=fee, added=True, evicted=tuple(evicted))

    def mark_voted(self, txid: bytes) -> None:
        """This node voted for `txid`: protect it (no eviction, no peer share)."""
        entry = self._entries.get(txid)
        if entry is not None and not entry.is_protected:
            self._release_peer_share(entry)
        if entry is not None:
            entry.voted = True

    def mark_final(self, txid: bytes) -> None:
        """`txid` is final: protect it until its block."""
        entry = self._entries.get(txid)
        if entry is not None and not entry.is_protected:
            self._release_peer_share(entry)
        if entry is not None:
            entry.final = True

    def remove(self, txid: bytes) -> None:
        """Drop `txid` if pooled (whatever its protection)."""
        entry = self._entries.pop(txid, None)
        if entry is None:
            return
        self._memory_bytes -= entry.memory_bytes
        if not entry.is_protected:
            self._release_peer_share(entry)
        for txin in entry.tx.inputs:
            spenders = self._spenders.get(txin.prevout)
            if spenders is not None:
                spenders.discard(txid)
                if not spenders:
                    del self._spenders[txin.prevout]

    def remove_block(self, transactions: Iterable[Transaction]) -> list[bytes]:
        """After a committed block: drop its transactions and every pooled one
        spending an outpoint the block spent (conflicted), with their
        descendants; return the txids removed. Orphans of the block's
        transactions are left for `take_orphans`."""
        removed: list[bytes] = []
        for tx in transactions:
            txid = compute_txid(tx)
            if txid in self._entries:
                self.remove(txid)
                removed.append(txid)
            for txin in tx.inputs:
                for other in list(self._spenders.get(txin.prevout, ())):
                    removed.extend(self._remove_with_descendants(other))
        return removed

    def take_orphans(self, parent_txid: bytes) -> list[tuple[Transaction, str | None]]:
        """The orphans waiting for `parent_txid` (now final or in a block),
        removed from the orphan set: offer them to `add` again."""
        taken: list[tuple[Transaction, str | None]] = []
        for txid in self._orphans_by_parent.pop(parent_txid, set()):
            orphan = self._orphans.pop(txid, None)
            if orphan is None:
                continue
            for parent in orphan.missing:
                if parent != parent_txid:
                    waiting = self._orphans_by_parent.get(parent)
                    if waiting is not None:
                        waiting.discard(txid)
            taken.append((orphan.tx, orphan.peer))
        return taken

    # ------------------------------------------------------------ internals

    def _check_relay_policy(self, tx: Transaction, size_bytes: int, fee: int) -> None:
        policy = self.policy
        if policy.max_tx_bytes is not None and size_bytes > policy.max_tx_bytes:
            raise MempoolRejected(
                REJECT_TOO_LARGE, f"size {size_bytes} bytes, relay limit {policy.max_tx_bytes}"
            )
        if policy.dust_limit is not None:
            for index, txout in enumerate(tx.outputs):
                if txout.amount < policy.dust_limit:
                    raise MempoolRejected(
                        REJECT_DUST,
                        f"output {index}: {txout.amount}, relay floor {policy.dust_limit}",
                    )
        if policy.min_fee_per_kb is not None:
            required = policy.min_fee_per_kb * size_bytes // 1000
            if fee < required:
                raise MempoolRejected(
                    REJECT_FEE_RATE, f"fee {fee} for {size_bytes} bytes, relay floor {required}"
                )

    def _insert(self, entry: PoolEntry) -> None:
        self._entries[entry.txid] = entry
        self._memory_bytes += entry.memory_bytes
        for txin in entry.tx.inputs:
            self._spenders.setdefault(txin.prevout, set()).add(entry.txid)
        if not entry.is_protected and entry.peer is not None:
            usage = self._peers.setdefault(entry.peer, _PeerUsage())
            usage.txs += 1
            usage.memory_bytes += entry.memory_bytes

    def _release_peer_share(self, entry: PoolEntry) -> None:
        if entry.peer is None:
            return
        usage = self._peers.get(entry.peer)
        if usage is None:
            return
        usage.txs -= 1
        usage.memory_bytes -= entry.memory_bytes
        if usage.txs <= 0:
            del self._peers[entry.peer]

    def _make_room(self, memory: int, fee_rate: float, final: bool) -> list[bytes]:
        """Evict the cheapest candidates until `memory` fits; raise when it cannot."""
        evicted: list[bytes] = []
        cap = self.policy.max_memory_bytes
        while self._memory_bytes + memory > cap:
            candidates = [e for e in self._entries.values() if not e.is_protected]
            if not candidates:
                break
            cheapest = min(candidates, key=lambda e: (e.fee_rate, -e.time_ms))
            if not final and cheapest.fee_rate >= fee_rate:
                break
            evicted.extend(self._remove_with_descendants(cheapest.txid))
        if self._memory_bytes + memory > cap and not final:
            raise MempoolRejected(
                REJECT_MEMPOOL_FULL,
                f"pool holds {self._memory_bytes} of {cap} bytes; nothing cheaper to evict",
            )
        return evicted

    def _remove_with_descendants(self, txid: bytes) -> list[bytes]:
        """Remove `txid` and every pooled transaction spending its outputs."""
        removed: list[bytes] = []
        stack = [txid]
        while stack:
            current = stack.pop()
            entry = self._entries.get(current)
            if entry is None:
                continue
            self.remove(current)
            removed.append(current)
            for index in range(len(entry.tx.outputs)):
                stack.extend(self._spenders.get(OutPoint(txid=current, index=index), ()))
        return removed

    def _add_orphan(self, tx: Transaction, txid: bytes, view: UtxoView, peer: str | None) -> None:
        if txid in self._orphans:
            return
        missing = {txin.prevout.txid for txin in tx.inputs if view.get_coin(txin.prevout) is None}
        while len(self._orphans) >= self.policy.max_orphans:
            old_txid, old = self._orphans.popitem(last=False)
            for parent in old.missing:
                waiting = self._orphans_by_parent.get(parent)
                if waiting is not None:
                    waiting.discard(old_txid)
                    if not waiting:
                        del self._orphans_by_parent[parent]
        self._orphans[txid] = _Orphan(tx=tx, peer=peer, missing=missing)
        for parent in missing:
            self._orphans_by_parent.setdefault(parent, set()).add(txid)
