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

__all__ = ["ClassBuckets", "ClassRate", "PeerRateLimiter", "RateVerdict", "TokenBucket"]


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


class ClassBuckets:
    """The four buckets of one class of one peer, refilled together.

    (Kept as plain floats rather than four `TokenBucket`s: this runs for every
    received message.)
    """

    __slots__ = (
        "abuse_bytes",
        "abuse_bytes_cap",
        "abuse_bytes_per_s",
        "abuse_messages",
        "abuse_messages_cap",
        "abuse_messages_per_s",
        "bytes",
        "bytes_cap",
        "bytes_per_s",
        "messages",
        "messages_cap",
        "messages_per_s",
        "updated_at",
    )

    def __init__(self, rate: ClassRate, now: float) -> None:
        """Full buckets for `rate` at `now`."""
        if min(rate.messages_per_s, rate.bytes_per_s, rate.burst_s) <= 0:
            raise ValueError(f"rates and burst must be positive: {rate}")
        if rate.ban_multiple < 1 or rate.ban_window_s <= 0:
            raise ValueError(f"ban multiple must be >= 1 and window positive: {rate}")
        self.messages_per_s = rate.messages_per_s
        self.bytes_per_s = rate.bytes_per_s
        self.messages_cap = rate.messages_per_s * rate.burst_s
        self.bytes_cap = rate.bytes_per_s * rate.burst_s
        self.abuse_messages_per_s = rate.messages_per_s * rate.ban_multiple
        self.abuse_bytes_per_s = rate.bytes_per_s * rate.ban_multiple
        self.abuse_messages_cap = self.abuse_messages_per_s * rate.ban_window_s
        self.abuse_bytes_cap = self.abuse_bytes_per_s * rate.ban_window_s
        self.messages = self.messages_cap
        self.bytes = self.bytes_cap
        self.abuse_messages = self.abuse_messages_cap
        self.abuse_bytes = self.abuse_bytes_cap
        self.updated_at = now

    def check(self, size_bytes: int, now: float) -> RateVerdict:
        """Account one received message of `size_bytes`; return the verdict."""
        elapsed = now - self.updated_at
        if elapsed > 0:
            self.updated_at = now
            self.messages = min(self.messages_cap, self.messages + elapsed * self.messages_per_s)
            self.bytes = min(self.bytes_cap, self.bytes + elapsed * self.bytes_per_s)
            self.abuse_messages = min(
                self.abuse_messages_cap, self.abuse_messages + elapsed * self.abuse_messages_per_s
            )
            self.abuse_bytes = min(
                self.abuse_bytes_cap, self.abuse_bytes + elapsed * self.abuse_bytes_per_s
            )
        self.abuse_messages -= 1
        self.abuse_bytes -= size_bytes
        if self.abuse_messages < 0 or self.abuse_bytes < 0:
            return RateVerdict.BAN
        if self.messages <= 0 or self.bytes <= 0:
            return RateVerdict.THROTTLE
        self.messages -= 1
        self.bytes -= size_bytes
        return RateVerdict.ACCEPT


class PeerRateLimiter:
    """The buckets of one peer, one set per message class."""

    __slots__ = ("_buckets",)

    def __init__(self, rates: dict[MessageClass, ClassRate], now: float) -> None:
        """Buckets for every class, all full at `now`."""
        self._buckets = {cls: ClassBuckets(rates[cls], now) for cls in MessageClass}

    def buckets(self, cls: MessageClass) -> ClassBuckets:
        """The buckets of one class (callers on the hot path keep a reference)."""
        return self._buckets[cls]

    def check(self, cls: MessageClass, size_bytes: int, now: float) -> RateVerdict:
        """Account one received message of `cls` and `size_bytes`; return the verdict."""
        return self._buckets[cls].check(size_bytes, now)
