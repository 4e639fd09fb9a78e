"""Bans that outlive a restart: the peer manager's ban list kept in the
store (`ban` key space) with wall-clock expiries.

The peer manager counts ban expiries on the monotonic clock, which starts
again at each boot; the store keeps Unix times. `BanKeeper.restore` puts
the unexpired stored bans back into the manager at start-up;
`BanKeeper.save` writes the manager's list when it changed (the node calls
it from its upkeep loop, after every RPC change and at shutdown).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from timecoin.p2p import BanKind, PeerManager
from timecoin.storage import KVStore, WriteBatch
from timecoin.storage.schema import BAN_PREFIX, ban_key

MAX_REASON_BYTES: Final = 64
SAME_EXPIRY_MS: Final = 1_000
"""Expiries closer than this are the same ban (the clocks' conversion drifts)."""
_KIND_CODES: Final = {BanKind.HOST: 0, BanKind.NODE: 1}
_KINDS: Final = {code: kind for kind, code in _KIND_CODES.items()}


@dataclass(frozen=True, slots=True)
class StoredBan:
    """A ban as stored: what, until when (Unix ms), why."""

    kind: BanKind
    value: str
    until_ms: int
    reason: str


def load_bans(kv: KVStore) -> list[StoredBan]:
    """The stored bans (undecodable entries are skipped: bans are advisory)."""
    bans = []
    for key, value in kv.iter_prefix(BAN_PREFIX):
        kind = _KINDS.get(key[1]) if len(key) > 2 else None
        if kind is None or len(value) < 8:
            continue
        try:
            bans.append(
                StoredBan(
                    kind,
                    key[2:].decode("utf-8"),
                    int.from_bytes(value[:8], "big"),
                    value[8:].decode("utf-8"),
                )
            )
        except UnicodeDecodeError:
            continue
    return bans


class BanKeeper:
    """Keeps `peers`' ban list in `kv` across restarts."""

    def __init__(
        self,
        kv: KVStore,
        peers: PeerManager,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        """A keeper of `peers`' bans (the manager must count on `monotonic`)."""
        self._kv = kv
        self._peers = peers
        self._monotonic = monotonic
        self._wall_ms = wall_clock_ms
        self._saved: dict[tuple[BanKind, str], tuple[int, str]] = {}

    def restore(self) -> int:
        """Put the unexpired stored bans into the manager; return how many."""
        now_ms = self._wall_ms()
        mono = self._monotonic()
        restored = 0
        for ban in load_bans(self._kv):
            if ban.until_ms <= now_ms:
                continue
            until = mono + (ban.until_ms - now_ms) / 1000
            self._peers.bans.ban(ban.kind, ban.value, until, ban.reason)
            self._saved[(ban.kind, ban.value)] = (ban.until_ms, ban.reason)
            restored += 1
        return restored

    def _current(self) -> dict[tuple[BanKind, str], tuple[int, str]]:
        now_ms = self._wall_ms()
        mono = self._monotonic()
        return {
            (entry.kind, entry.value): (
                now_ms + int((entry.until - mono) * 1000),
                entry.reason,
            )
            for entry in self._peers.banned()
        }

    def save(self, *, sync: bool = False) -> bool:
        """Write the manager's bans if the set changed since the last save;
        return whether it wrote."""
        current = self._current()
        if current.keys() == self._saved.keys() and all(
            abs(current[key][0] - self._saved[key][0]) < SAME_EXPIRY_MS for key in current
        ):
            return False
        batch = WriteBatch()
        for kind, value in self._saved.keys() - current.keys():
            batch.delete(ban_key(_KIND_CODES[kind], value.encode("utf-8")))
        for (kind, value), (until_ms, reason) in current.items():
            reason_bytes = (
                reason.encode("utf-8")[:MAX_REASON_BYTES].decode("utf-8", "ignore").encode()
            )
            batch.put(
                ban_key(_KIND_CODES[kind], value.encode("utf-8")),
                until_ms.to_bytes(8, "big") + reason_bytes,
            )
        self._kv.write(batch, sync=sync)
        self._saved = current
        return True
