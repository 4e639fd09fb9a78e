"""Per-peer token buckets per message class (docs/spec/p2p.md, section 6).

Each class has two pairs of buckets, one counting messages and one counting
bytes:

- the **rate** buckets (refill `messages_per_s` / `bytes_per_s`, capacity
  `burst_s` seconds of refill) decide whether a message is accepted; a
  message arriving while either is empty is throttled (dropped and
  counted). A bucket may go into debt by one message, so a frame larger
  than the byte capacity still passes once and then waits out its cost;
- the **abuse** buckets (refill `ban_multiple` times the rate, capacity
  `ban_window_s` seconds of that refill) are charged for every message,
  throttled ones included; when one runs dry the peer has kept sending
  faster than `ban_multiple` times its rate for long enough, and is banned.

Formally, a peer is banned at the first instant at which, for some interval
of length T, it offered more than ``ban_multiple * rate * (T + ban_window_s)``
messages (or bytes) of one class.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from timecoin.p2p.messages import MessageClass

__all__ = ["ClassRate", "PeerRateLimiter", "RateVerdict", "TokenBucket"]


class TokenBucket:
    """A token bucket with an explicit clock (seconds, monotonic)."""

    __slots__ = ("capacity", "rate_per_s", "tokens", "updated_at")

    def __init__(self, rate_per_s: float, capacity: float, now: float) -> None:
        """A full bucket refilling `rate_per_s` tokens per second up to `capacity`."""
        if rate_per_s <= 0 or capacity <= 0:
            raise ValueError(f"rate and capacity must be positive: {rate_per_s}, {capacity}")
        self.rate_per_s = rate_per_s
        self.capacity = capacity
        self.tokens = capacity
        self.updated_at = now

    def refill(self, now: float) -> float:
        """Add the tokens earned since the last call; return the balance."""
        elapsed = now - self.updated_at
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate_per_s)
            self.updated_at = now
        return self.tokens

    def has_tokens(self, now: float) -> bool:
        """Whether the balance is positive (a cost may then take it into debt)."""
        return self.refill(now) > 0

    def charge(self, cost: float) -> None:
        """Take `cost` tokens (after `refill`); the balance may go negative."""
        self.tokens -= cost


@dataclass(frozen=True, slots=True)
class ClassRate:
    """The limits of one message class for one peer."""

    messages_per_s: float
    bytes_per_s: float
    burst_s: float = 2.0
    ban_multiple: float = 10.0
    ban_window_s: float = 10.0


class RateVerdict(enum.Enum):
    """What to do with one received message."""

    ACCEPT = "accept"
    THROTTLE = "throttle"
    BAN = "ban"


class _ClassBuckets:
    __slots__ = ("abuse_bytes", "abuse_messages", "rate_bytes", "rate_messages")

    def __init__(self, rate: ClassRate, now: float) -> None:
        self.rate_messages = TokenBucket(
            rate.messages_per_s, rate.messages_per_s * rate.burst_s, now
        )
        self.rate_bytes = TokenBucket(rate.bytes_per_s, rate.bytes_per_s * rate.burst_s, now)
        abuse_messages_per_s = rate.messages_per_s * rate.ban_multiple
        abuse_bytes_per_s = rate.bytes_per_s * rate.ban_multiple
        self.abuse_messages = TokenBucket(
            abuse_messages_per_s, abuse_messages_per_s * rate.ban_window_s, now
        )
        self.abuse_bytes = TokenBucket(
            abuse_bytes_per_s, abuse_bytes_per_s * rate.ban_window_s, now
        )


class PeerRateLimiter:
    """The buckets of one peer, one set per message class."""

    __slots__ = ("_buckets",)

    def __init__(self, rates: dict[MessageClass, ClassRate], now: float) -> None:
        """Buckets for every class, all full at `now`."""
        self._buckets = {cls: _ClassBuckets(rates[cls], now) for cls in MessageClass}

    def check(self, cls: MessageClass, size_bytes: int, now: float) -> RateVerdict:
        """Account one received message of `cls` and `size_bytes`; return the verdict."""
        b = self._buckets[cls]
        b.abuse_messages.refill(now)
        b.abuse_bytes.refill(now)
        b.abuse_messages.charge(1)
        b.abuse_bytes.charge(size_bytes)
        if b.abuse_messages.tokens < 0 or b.abuse_bytes.tokens < 0:
            return RateVerdict.BAN
        if not (b.rate_messages.has_tokens(now) and b.rate_bytes.has_tokens(now)):
            return RateVerdict.THROTTLE
        b.rate_messages.charge(1)
        b.rate_bytes.charge(size_bytes)
        return RateVerdict.ACCEPT
