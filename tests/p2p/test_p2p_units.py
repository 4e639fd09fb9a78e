"""Token buckets, the rate limiter, bounded caches, bans, the address book, config."""

from __future__ import annotations

import random

import pytest

from timecoin.bounded import BoundedCache, BoundedSet
from timecoin.p2p import (
    AddressEntry,
    BanKind,
    BanList,
    MemoryAddressStore,
    MessageClass,
    P2PConfig,
    decode_address_entries,
    encode_address_entries,
    parse_peer_address,
)
from timecoin.p2p.addrbook import AddressBook, is_acceptable_address, pack_ip, unpack_ip
from timecoin.p2p.ratelimit import ClassRate, PeerRateLimiter, RateVerdict, TokenBucket
from timecoin.params import MINIMAL

RATE = ClassRate(
    messages_per_s=100, bytes_per_s=1_000_000, burst_s=2, ban_multiple=10, ban_window_s=1
)


def limiter() -> PeerRateLimiter:
    return PeerRateLimiter(dict.fromkeys(MessageClass, RATE), now=0.0)


def offer(
    lim: PeerRateLimiter, rate_per_s: float, seconds: float, size: int = 100
) -> dict[RateVerdict, int]:
    counts = dict.fromkeys(RateVerdict, 0)
    n = int(rate_per_s * seconds)
    for i in range(n):
        verdict = lim.check(MessageClass.GOSSIP, size, now=1.0 + i / rate_per_s)
        counts[verdict] += 1
        if verdict is RateVerdict.BAN:
            break
    return counts


def test_token_bucket_refills_to_capacity_and_allows_debt() -> None:
    bucket = TokenBucket(rate_per_s=10, capacity=20, now=0.0)
    assert bucket.has_tokens(0.0)
    bucket.charge(25)
    assert not bucket.has_tokens(0.0)
    assert not bucket.has_tokens(0.4)  # -5 + 4
    assert bucket.has_tokens(0.6)
    assert bucket.refill(100.0) == 20


def test_under_rate_everything_is_accepted() -> None:
    counts = offer(limiter(), rate_per_s=90, seconds=5)
    assert counts[RateVerdict.ACCEPT] == 450 and counts[RateVerdict.THROTTLE] == 0


def test_over_rate_is_throttled_but_not_banned_below_the_multiple() -> None:
    counts = offer(limiter(), rate_per_s=900, seconds=5)
    assert counts[RateVerdict.BAN] == 0
    # burst (200) plus 100/s for 5 s, within one message of rounding.
    assert abs(counts[RateVerdict.ACCEPT] - 700) <= 2
    assert counts[RateVerdict.THROTTLE] == 4_500 - counts[RateVerdict.ACCEPT]


def test_sustained_excess_over_the_multiple_is_banned() -> None:
    counts = offer(limiter(), rate_per_s=10_000, seconds=5)
    assert counts[RateVerdict.BAN] == 1
    offered = sum(counts.values())
    # The abuse bucket holds 1 s of 1,000 msg/s and refills at 1,000 msg/s:
    # 10,000 msg/s empties it after ~1,000 / 9,000 s, about 1,100 messages.
    assert 1_050 <= offered <= 1_200


def test_byte_rate_limits_large_messages() -> None:
    lim = limiter()
    big = 600_000
    verdicts = [lim.check(MessageClass.SYNC, big, now=1.0) for _ in range(5)]
    assert verdicts[:4] == [RateVerdict.ACCEPT] * 4  # 2 MB burst, last one goes into debt
    assert verdicts[4] is RateVerdict.THROTTLE
    assert lim.check(MessageClass.CONSENSUS, big, now=1.0) is RateVerdict.ACCEPT  # other class


def test_bounded_set_evicts_oldest() -> None:
    s: BoundedSet[int] = BoundedSet(3)
    assert [s.add(i) for i in (1, 2, 3)] == [True, True, True]
    assert not s.add(1)  # refresh 1
    s.add(4)
    assert 2 not in s and {1, 3, 4} == set(s)
    with pytest.raises(ValueError):
        BoundedSet(0)


def test_bounded_cache_limits_items_and_size() -> None:
    c: BoundedCache[str, int] = BoundedCache(max_items=3, max_size=100)
    c.put("a", 1, 40)
    c.put("b", 2, 40)
    assert c.get("a") == 1  # a is now most recent
    c.put("c", 3, 40)  # 120 > 100: evict b
    assert "b" not in c and c.size == 80
    c.put("huge", 4, 101)
    assert "huge" not in c
    c.put("d", 5, 1)
    c.put("e", 6, 1)
    assert len(c) == 3


def test_ban_list_expiry_and_bound() -> None:
    bans = BanList(max_entries=2)
    bans.ban(BanKind.HOST, "10.0.0.1", until=10.0, reason="bad-tag")
    bans.ban(BanKind.NODE, "ab", until=20.0, reason="flood")
    assert bans.is_banned(BanKind.HOST, "10.0.0.1", now=5.0)
    assert not bans.is_banned(BanKind.HOST, "10.0.0.1", now=10.0)
    bans.ban(BanKind.HOST, "10.0.0.2", until=30.0, reason="x")
    bans.ban(BanKind.HOST, "10.0.0.3", until=40.0, reason="x")
    assert len(bans) == 2 and not bans.is_banned(BanKind.NODE, "ab", now=0.0)
    assert bans.prune(now=35.0) == 1
    assert bans.unban(BanKind.HOST, "10.0.0.3") and len(bans) == 0


def test_address_book_bounds_and_eviction() -> None:
    book = AddressBook(max_entries=3, max_failures=2)
    book.add("10.0.0.1", 1, seen_ms=100)
    book.add("10.0.0.2", 1, seen_ms=50)
    book.mark_success("10.0.0.2", 1, now_ms=200)
    book.add("10.0.0.3", 1, seen_ms=300)
    book.add("10.0.0.4", 1, seen_ms=400)  # evicts the oldest never-tried: .1
    assert ("10.0.0.1", 1) not in book and len(book) == 3
    book.mark_failure("10.0.0.3", 1)
    book.mark_failure("10.0.0.3", 1)  # never succeeded: dropped
    assert ("10.0.0.3", 1) not in book
    book.mark_failure("10.0.0.2", 1)
    book.mark_failure("10.0.0.2", 1)  # succeeded once: kept
    entry = book.get("10.0.0.2", 1)
    assert entry is not None and entry.failures == 2
    assert not book.add("10.0.0.4", 1, seen_ms=10)  # older news does not regress last_seen
    entry = book.get("10.0.0.4", 1)
    assert entry is not None and entry.last_seen_ms == 400
    assert len(book.sample(10, random.Random(1))) == 2


def test_address_store_round_trip() -> None:
    entries = [AddressEntry(host="10.1.2.3", port=24100, last_seen_ms=7, last_success_ms=6)]
    assert decode_address_entries(encode_address_entries(entries)) == entries
    store = MemoryAddressStore()
    assert store.load() == []
    store.save(entries)
    assert store.load() == entries and store.saves == 1


def test_address_acceptance_and_packing() -> None:
    assert is_acceptable_address("8.8.8.8", 24100, allow_local=False)
    assert not is_acceptable_address("127.0.0.1", 24100, allow_local=False)
    assert not is_acceptable_address("192.168.1.1", 24100, allow_local=False)
    assert is_acceptable_address("127.0.0.1", 24100, allow_local=True)
    assert not is_acceptable_address("0.0.0.0", 24100, allow_local=True)
    assert not is_acceptable_address("224.0.0.1", 24100, allow_local=True)
    assert not is_acceptable_address("example.org", 24100, allow_local=True)
    assert unpack_ip(pack_ip("10.0.0.1")) == "10.0.0.1"
    assert unpack_ip(pack_ip("2001:db8::1")) == "2001:db8::1"
    assert unpack_ip(pack_ip("::ffff:10.0.0.1")) == "10.0.0.1"
    assert unpack_ip(b"\x01\x02") is None


def test_parse_peer_address() -> None:
    assert parse_peer_address("10.0.0.1:5", 24100) == ("10.0.0.1", 5)
    assert parse_peer_address("seed.example.org", 24100) == ("seed.example.org", 24100)
    assert parse_peer_address("[2001:db8::1]:7", 24100) == ("2001:db8::1", 7)
    assert parse_peer_address("2001:db8::1", 24100) == ("2001:db8::1", 24100)
    for bad in ("", ":5", "host:0", "host:x", "[::1"):
        with pytest.raises(ValueError):
            parse_peer_address(bad, 24100)


def test_config_defaults_come_from_params_and_are_checked() -> None:
    config = P2PConfig()
    rates = config.resolve_rates(MINIMAL)
    assert rates[MessageClass.GOSSIP].messages_per_s == MINIMAL.rates.messages_per_s == 100
    assert rates[MessageClass.SYNC].bytes_per_s == MINIMAL.rates.bytes_per_s
    assert rates[MessageClass.CONSENSUS].ban_multiple == MINIMAL.rates.ban_multiple
    assert config.resolve_max_frame_bytes(MINIMAL) == MINIMAL.sizes.max_frame_bytes
    assert config.resolve_listen_port(MINIMAL) == MINIMAL.default_p2p_port
    with pytest.raises(ValueError, match="max_outbound"):
        P2PConfig(max_outbound=0).check()
    with pytest.raises(ValueError, match="backoff"):
        P2PConfig(backoff_base_s=10, backoff_max_s=1).check()
