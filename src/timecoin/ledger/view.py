"""UTXO views: the read interface rules validate against, an in-memory set,
a per-block overlay, the delta storage writes, and the commitment elements.

A block is applied to a `CachedUtxoView` laid over the node's UTXO store; the
overlay records which coins the block creates and which existing coins it
spends, and turns that into a `UtxoDelta` (written atomically by storage)
and the spent coins of the `BlockUndo`. A coin created and spent inside the
same block appears in neither: it never reaches storage or the commitment.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from timecoin.crypto import MuHash3072
from timecoin.encoding import encode
from timecoin.types import Coin, OutPoint, SpentCoin, encode_outpoint_key


class UtxoView(Protocol):
    """Read access to a UTXO set."""

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """The unspent coin at `outpoint`, or None when it does not exist or is spent."""
        ...


@dataclass(frozen=True, slots=True)
class UtxoDelta:
    """The change a block makes to the UTXO set.

    `created` and `spent` are disjoint: coins created and spent inside the
    block are in neither. Storage deletes `spent` and writes `created` in one
    atomic batch, with the reported-lock changes (ADR 0004), which are not
    coins and which `MemoryUtxoSet.apply_delta` ignores.
    """

    created: dict[OutPoint, Coin] = field(default_factory=dict)
    spent: list[OutPoint] = field(default_factory=list)
    locks_created: dict[OutPoint, bytes | None] = field(default_factory=dict)
    """Reported locks the block creates (outpoint -> txid, None: no
    transaction); storage writes them to its `reported_lock` key space."""
    locks_released: list[OutPoint] = field(default_factory=list)
    """Reported locks the block releases (it spent their outpoints)."""


def encode_utxo_element(outpoint: OutPoint, coin: Coin) -> bytes:
    """The bytes a coin contributes to the UTXO commitment.

    `encode_outpoint_key(outpoint) || encode(coin)`: 36 bytes of outpoint then
    the canonical msgpack array [amount, address, height].
    """
    return encode_outpoint_key(outpoint) + encode(coin)


def compute_utxo_commitment(coins: Iterable[tuple[OutPoint, Coin]]) -> bytes:
    """The MuHash3072 digest of a whole UTXO set, computed from scratch.

    Blocks update the commitment incrementally; this recomputation is for
    tests, snapshots and audits.
    """
    state = MuHash3072()
    state.insert_many(encode_utxo_element(op, coin) for op, coin in coins)
    return state.digest()


class MemoryUtxoSet:
    """A UTXO set held in a dict: for tests, the simulator and genesis."""

    __slots__ = ("coins",)

    def __init__(self, coins: dict[OutPoint, Coin] | None = None) -> None:
        self.coins: dict[OutPoint, Coin] = dict(coins) if coins else {}

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """The coin at `outpoint`, or None."""
        return self.coins.get(outpoint)

    def apply_delta(self, delta: UtxoDelta) -> None:
        """Delete `delta.spent` and add `delta.created`.

        A spent outpoint that is absent, or a created one that is already
        present, means the delta does not belong to this set: that is a bug of
        the caller, reported as AssertionError before anything changes.
        """
        missing = [op for op in delta.spent if op not in self.coins]
        if missing:
            raise AssertionError(f"delta spends {len(missing)} absent coins, first {missing[0]}")
        spent = set(delta.spent)
        present = [op for op in delta.created if op in self.coins and op not in spent]
        if present:
            raise AssertionError(f"delta recreates {len(present)} coins, first {present[0]}")
        for op in delta.spent:
            del self.coins[op]
        self.coins.update(delta.created)

    def __len__(self) -> int:
        return len(self.coins)

    def __iter__(self) -> Iterator[OutPoint]:
        return iter(self.coins)

    def commitment(self) -> bytes:
        """The MuHash3072 digest of this set (recomputed)."""
        return compute_utxo_commitment(self.coins.items())


class CachedUtxoView:
    """An overlay over a base view for one block in flight.

    Reads fall through to `base` unless this overlay created or spent the
    coin. The base is never written: the result is `delta()` and
    `spent_coins()`, which the caller commits.
    """

    __slots__ = ("_base", "_created", "_spent", "_spent_here")

    def __init__(self, base: UtxoView) -> None:
        self._base = base
        self._created: dict[OutPoint, Coin] = {}
        # Base coins spent by this overlay, in spending order (for the undo).
        self._spent: dict[OutPoint, Coin] = {}
        # Every outpoint spent through this overlay, including created ones.
        self._spent_here: set[OutPoint] = set()

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """The coin at `outpoint` as seen after the changes made so far."""
        coin = self._created.get(outpoint)
        if coin is not None:
            return coin
        if outpoint in self._spent_here:
            return None
        return self._base.get_coin(outpoint)

    def is_spent_here(self, outpoint: OutPoint) -> bool:
        """True when this overlay already spent `outpoint` (a double spend)."""
        return outpoint in self._spent_here

    def is_created_here(self, outpoint: OutPoint) -> bool:
        """True when this overlay created `outpoint` and has not spent it."""
        return outpoint in self._created

    def add_coin(self, outpoint: OutPoint, coin: Coin) -> None:
        """Create `coin` at `outpoint`."""
        self._created[outpoint] = coin

    def spend_coin(self, outpoint: OutPoint) -> Coin | None:
        """Spend the coin at `outpoint`; returns it, or None when there is none."""
        coin = self._created.pop(outpoint, None)
        if coin is not None:
            self._spent_here.add(outpoint)
            return coin
        if outpoint in self._spent_here:
            return None
        coin = self._base.get_coin(outpoint)
        if coin is None:
            return None
        self._spent[outpoint] = coin
        self._spent_here.add(outpoint)
        return coin

    @property
    def created(self) -> dict[OutPoint, Coin]:
        """Coins created and still unspent (read-only by convention)."""
        return self._created

    def spent_coins(self) -> list[SpentCoin]:
        """Base coins spent, in spending order."""
        return [SpentCoin(outpoint=op, coin=coin) for op, coin in self._spent.items()]

    def delta(self) -> UtxoDelta:
        """The net change to the base view."""
        return UtxoDelta(created=dict(self._created), spent=list(self._spent))
