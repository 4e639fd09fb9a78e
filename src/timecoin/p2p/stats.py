"""Counters of the p2p layer: plain dataclasses the node exports as metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from timecoin.p2p.messages import MessageClass

__all__ = ["ClassCounters", "P2PStats"]


@dataclass(slots=True)
class ClassCounters:
    """Traffic of one message class (or of one peer)."""

    messages_in: int = 0
    bytes_in: int = 0
    messages_out: int = 0
    bytes_out: int = 0
    throttled: int = 0
    """Received messages dropped by the rate limiter."""


def _per_class() -> dict[MessageClass, ClassCounters]:
    return {cls: ClassCounters() for cls in MessageClass}


@dataclass(slots=True)
class P2PStats:
    """Counters of one `PeerManager` since it was created.

    Bytes are payload bytes (before framing and encryption). `bans_by_reason`
    is keyed by reject code, a small fixed set.
    """

    classes: dict[MessageClass, ClassCounters] = field(default_factory=_per_class)
    bans: int = 0
    bans_by_reason: dict[str, int] = field(default_factory=dict)
    disconnects: int = 0
    handshakes_completed: int = 0
    handshakes_failed: int = 0
    connections_refused: int = 0
    """Inbound connections closed at once: banned host or limits reached."""
    duplicate_connections: int = 0
    dials: int = 0
    dial_failures: int = 0
    gossip_duplicates: int = 0
    """Inventory bodies received that were already seen (dropped)."""
    addresses_accepted: int = 0
    addresses_dropped: int = 0
    """Advertised addresses refused: invalid, local, or over the PEX rate."""
    reactor_errors: int = 0
    """Exceptions raised by reactors (logged; the message is dropped)."""

    def throttled(self) -> int:
        """Messages dropped by the rate limiter, all classes."""
        return sum(c.throttled for c in self.classes.values())
