"""The peer manager's parts without sockets or an event loop: the inventory
relay, peer exchange and the choice of addresses to dial, driven with
stand-in peers and explicit times."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any, cast

from p2p_helpers import make_tx

from timecoin.bounded import BoundedSet
from timecoin.p2p import (
    AddressBook,
    BanKind,
    BanList,
    P2PConfig,
    Peer,
    compute_inventory_hash,
)
from timecoin.p2p.addrbook import pack_ip
from timecoin.p2p.dialer import Dialer
from timecoin.p2p.inventory import InventoryRelay
from timecoin.p2p.messages import Addr, GetData, Inv, InvKind, Message, NetAddress, NotFound, Txs
from timecoin.p2p.peer import Direction
from timecoin.p2p.pex import PeerExchange
from timecoin.p2p.ratelimit import TokenBucket
from timecoin.p2p.stats import P2PStats
from timecoin.types import compute_txid

CONFIG = replace(P2PConfig(), allow_local_addresses=True, getdata_timeout_s=5.0)


@dataclass
class StandInPeer:
    """What the parts use of a `Peer`, recording what they send."""

    peer_id: str
    direction: Direction = Direction.INBOUND
    dial_address: tuple[str, int] | None = None
    listen_address: tuple[str, int] | None = None
    known_inventory: BoundedSet[bytes] = field(default_factory=lambda: BoundedSet(1_000))
    sent: list[Message] = field(default_factory=list)
    announced: list[bytes] = field(default_factory=list)
    pushed: list[bytes] = field(default_factory=list)
    last_getaddr_answered_at: float | None = None
    addr_bucket: TokenBucket | None = None

    def send(self, message: Message) -> bool:
        self.sent.append(message)
        return True

    def queue_inventory(self, kind: InvKind, item_hash: bytes) -> None:
        self.announced.append(item_hash)

    def queue_transaction(self, tx: Any) -> None:
        self.pushed.append(compute_txid(tx))


def peer(peer_id: str, **fields: Any) -> Peer:
    return cast(Peer, StandInPeer(peer_id, **fields))


def sent(p: Peer) -> list[Message]:
    return cast(StandInPeer, p).sent


def relay(config: P2PConfig = CONFIG) -> InventoryRelay:
    return InventoryRelay(config, 1_000_000, P2PStats())


def test_an_item_announced_by_two_peers_is_asked_of_one() -> None:
    inventory = relay()
    a, b = peer("a"), peer("b")
    h = compute_txid(make_tx(1))
    inventory.on_inv(a, Inv(kind=InvKind.TX, hashes=[h]), now=10.0)
    inventory.on_inv(b, Inv(kind=InvKind.TX, hashes=[h]), now=10.5)
    assert sent(a) == [GetData(kind=InvKind.TX, hashes=[h])]
    assert sent(b) == []
    assert h in a.known_inventory and h in b.known_inventory


def test_a_request_expires_at_its_deadline_and_another_peer_is_asked() -> None:
    inventory = relay()
    a, b = peer("a"), peer("b")
    h = compute_txid(make_tx(2))
    inventory.on_inv(a, Inv(kind=InvKind.TX, hashes=[h]), now=10.0)
    inventory.expire(14.9)
    inventory.on_inv(b, Inv(kind=InvKind.TX, hashes=[h]), now=14.9)
    assert sent(b) == []  # still asked of a
    inventory.expire(15.0)
    inventory.on_inv(b, Inv(kind=InvKind.TX, hashes=[h]), now=15.0)
    assert sent(b) == [GetData(kind=InvKind.TX, hashes=[h])]


def test_notfound_or_leaving_frees_only_the_asked_peers_requests() -> None:
    inventory = relay()
    a, b = peer("a"), peer("b")
    h1, h2 = compute_txid(make_tx(3)), compute_txid(make_tx(4))
    inventory.on_inv(a, Inv(kind=InvKind.TX, hashes=[h1, h2]), now=0.0)
    inventory.on_notfound(b, NotFound(kind=InvKind.TX, hashes=[h1]))  # b was not asked
    assert list(inventory.inflight) == [h1, h2]
    inventory.on_notfound(a, NotFound(kind=InvKind.TX, hashes=[h1]))
    assert list(inventory.inflight) == [h2]
    inventory.forget_requests_to("a")
    assert not inventory.inflight


def test_requests_in_flight_are_bounded() -> None:
    inventory = relay(replace(CONFIG, max_inflight_requests=2))
    a = peer("a")
    hashes = [compute_txid(make_tx(i)) for i in range(5)]
    inventory.on_inv(a, Inv(kind=InvKind.TX, hashes=hashes), now=0.0)
    assert sent(a) == [GetData(kind=InvKind.TX, hashes=hashes[:2])]


def test_bodies_new_to_the_node_pass_once() -> None:
    stats = P2PStats()
    inventory = InventoryRelay(CONFIG, 1_000_000, stats)
    a = peer("a")
    t1, t2 = make_tx(5), make_tx(6)
    inventory.mark_seen(compute_txid(t1))
    assert inventory.on_txs(a, Txs(transactions=[t1, t2])) == Txs(transactions=[t2])
    assert inventory.on_txs(a, Txs(transactions=[t2])) is None
    assert stats.gossip_duplicates == 2


def test_getdata_is_served_from_the_relay_cache_and_the_rest_passed_on() -> None:
    inventory = relay()
    a, b = peer("a"), peer("b")
    tx = make_tx(7)
    h = inventory.gossip(tx, [a], exclude=None)
    assert cast(StandInPeer, a).announced == [h]
    unknown = compute_txid(make_tx(8))
    rest = inventory.on_getdata(b, GetData(kind=InvKind.TX, hashes=[h, unknown]))
    assert rest == GetData(kind=InvKind.TX, hashes=[unknown])
    assert sent(b) == [Txs(transactions=[tx])]
    wrong_kind = inventory.on_getdata(b, GetData(kind=InvKind.BLOCK, hashes=[h]))
    assert wrong_kind == GetData(kind=InvKind.BLOCK, hashes=[h])


def test_gossip_skips_the_excluded_peer_and_peers_that_know_the_item() -> None:
    inventory = relay()
    a, b, c = peer("a"), peer("b"), peer("c")
    tx = make_tx(9)
    _, h = compute_inventory_hash(tx)
    c.known_inventory.add(h)
    inventory.push_transaction(tx, [a, b, c], exclude="a")
    assert [cast(StandInPeer, p).pushed for p in (a, b, c)] == [[], [h], []]
    assert inventory.has_seen(h)


def exchange(**overrides: Any) -> tuple[PeerExchange, AddressBook, P2PStats]:
    book = AddressBook(100)
    stats = P2PStats()
    pex = PeerExchange(replace(CONFIG, **overrides), book, stats, random.Random(1), None)
    return pex, book, stats


def test_addresses_are_booked_within_the_peers_token_bucket() -> None:
    pex, book, stats = exchange(addr_rate_per_s=1.0, addr_burst=3)
    a = peer("a")
    pex.on_peer_registered(a, now=0.0, wall_ms=1_000)
    addresses = [
        NetAddress(ip=pack_ip(f"10.0.0.{i}"), port=24100, last_seen_ms=5) for i in range(5)
    ]
    pex.on_addr(a, Addr(addresses=addresses), now=0.0, wall_ms=1_000)
    assert len(book) == 3 and (stats.addresses_accepted, stats.addresses_dropped) == (3, 2)
    pex.on_addr(a, Addr(addresses=addresses[3:4]), now=1.0, wall_ms=1_000)  # one token back
    assert len(book) == 4


def test_our_own_address_is_never_booked_again() -> None:
    pex, book, _ = exchange()
    a = peer("a")
    pex.on_peer_registered(a, now=0.0, wall_ms=1_000)
    pex.on_self_connection(("10.0.0.9", 24100))
    ours = NetAddress(ip=pack_ip("10.0.0.9"), port=24100, last_seen_ms=5)
    pex.on_addr(a, Addr(addresses=[ours]), now=0.0, wall_ms=1_000)
    assert len(book) == 0


def test_getaddr_is_answered_once_per_interval_without_the_askers_address() -> None:
    pex, book, _ = exchange(getaddr_min_interval_s=60.0)
    for i in range(5):
        book.add(f"10.0.1.{i}", 24100, 1_000)
    a = peer("a", listen_address=("10.0.1.0", 24100))
    pex.on_getaddr(a, now=100.0)
    pex.on_getaddr(a, now=159.0)
    (answer,) = sent(a)
    assert isinstance(answer, Addr) and len(answer.addresses) == 4
    assert pack_ip("10.0.1.0") not in {address.ip for address in answer.addresses}
    pex.on_getaddr(a, now=160.0)
    assert len(sent(a)) == 2


def test_a_completed_dial_is_booked_as_a_success() -> None:
    pex, book, _ = exchange()
    out = peer("out", direction=Direction.OUTBOUND, dial_address=("10.0.2.1", 24100))
    pex.on_peer_registered(out, now=0.0, wall_ms=7_000)
    entry = book.get("10.0.2.1", 24100)
    assert entry is not None and entry.last_success_ms == 7_000


class RecordingDialer(Dialer):
    """A dialer whose attempts are recorded instead of made."""

    def __init__(self, book: AddressBook, bans: BanList, **overrides: Any) -> None:
        self.clock = 100.0
        config = replace(CONFIG, backoff_base_s=1.0, backoff_max_s=8.0, **overrides)
        persistent = [("10.0.3.1", 24100)]
        seeds = [("10.0.4.1", 24100), ("10.0.4.2", 24100)]
        super().__init__(
            config,
            persistent,
            seeds,
            book,
            bans,
            P2PStats(),
            random.Random(3),
            lambda: self.clock,
            lambda address: cast(Peer, None),
        )
        self.dialed: list[tuple[str, int]] = []

    def dial(self, address: tuple[str, int]) -> None:
        self.dialed.append(address)
        self.dialing[address] = cast(Any, None)  # in progress until `settle`

    def settle(self) -> None:
        """The attempts in progress are over (their outcome told separately)."""
        self.dialing.clear()
        self.dialed.clear()


def test_dialing_takes_persistent_peers_then_book_entries_then_seeds() -> None:
    book = AddressBook(100)
    dialer = RecordingDialer(book, BanList(10), max_outbound=2)
    dialer.fill_outbound(dialer.clock, busy=set(), outbound=0)
    # The book is empty: the persistent peer, then one seed for the one slot left.
    persistent, seed = dialer.dialed
    assert persistent == ("10.0.3.1", 24100)
    assert seed in {("10.0.4.1", 24100), ("10.0.4.2", 24100)}
    dialer.settle()
    book.add("10.0.5.1", 24100, 1_000)
    dialer.fill_outbound(dialer.clock, busy={("10.0.3.1", 24100)}, outbound=1)
    assert dialer.dialed == [("10.0.5.1", 24100)]  # the book before the seeds


def test_a_failed_address_is_not_due_until_its_backoff_passed() -> None:
    book = AddressBook(100)
    book.add("10.0.5.1", 24100, 1_000)
    dialer = RecordingDialer(book, BanList(10), max_outbound=8)
    address = ("10.0.5.1", 24100)
    dialer.record_failure(address)  # first failure: 1 s x U[0.5, 1)
    busy = {("10.0.3.1", 24100)}
    dialer.fill_outbound(dialer.clock, busy=set(busy), outbound=0)
    assert address not in dialer.dialed
    dialer.settle()
    dialer.clock += 1.0
    dialer.fill_outbound(dialer.clock, busy=set(busy), outbound=0)
    assert address in dialer.dialed
    dialer.settle()
    dialer.on_connected(address)  # a success resets the count
    dialer.record_failure(address)
    dialer.clock += 1.0
    dialer.fill_outbound(dialer.clock, busy=set(busy), outbound=0)
    assert address in dialer.dialed


def test_a_banned_host_is_not_dialed() -> None:
    book = AddressBook(100)
    book.add("10.0.5.1", 24100, 1_000)
    bans = BanList(10)
    bans.ban(BanKind.HOST, "10.0.5.1", 1e9, "test")
    dialer = RecordingDialer(book, bans, max_outbound=8)
    dialer.fill_outbound(dialer.clock, busy={("10.0.3.1", 24100)}, outbound=0)
    assert ("10.0.5.1", 24100) not in dialer.dialed
    assert dialer.dialed  # the seeds instead: the book offered nothing dialable
