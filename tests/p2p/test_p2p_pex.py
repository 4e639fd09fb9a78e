"""Peer exchange: addresses learned from peers, rate-limited, persisted, redialed."""

from __future__ import annotations

from p2p_helpers import RawPeer, host, key, running, start_node, wait_until

from timecoin.p2p import Addr, GetAddr, MemoryAddressStore, NetAddress
from timecoin.p2p.addrbook import pack_ip


async def test_pex_learns_dials_and_persists_addresses() -> None:
    a = await start_node(2)
    b = await start_node(3)
    store = MemoryAddressStore()
    async with running(a, b):
        b.manager.connect(a.address)
        await wait_until(lambda: len(a.manager.peers()) == 1)
        # a learned where b listens from b's hello.
        assert (host(3), b.port) in a.manager.address_book
        c = await start_node(4, seeds=(a.address,), address_store=store)
        async with running(c):
            # c dials its seed, asks it for addresses, learns b and dials it too.
            await wait_until(lambda: (host(3), b.port) in c.manager.address_book, what="PEX")
            await wait_until(lambda: len(c.manager.peers()) == 2, what="c dials b")
            assert {p.peer_id for p in c.manager.peers()} == {
                a.manager.peer_id,
                b.manager.peer_id,
            }
        # Stopping saved the book.
        saved = {(e.host, e.port) for e in store.load()}
        assert saved == {(host(2), a.port), (host(3), b.port)}
        assert all(e.last_success_ms > 0 for e in store.load())
        await wait_until(lambda: len(b.manager.peers()) == 1 and len(a.manager.peers()) == 1)
        # A restarted c without seeds finds both from the persisted book.
        c2 = await start_node(4, node_key=key(4), address_store=store)
        async with running(c2):
            await wait_until(lambda: len(c2.manager.peers()) == 2, what="redial from book")


async def test_addr_acceptance_is_rate_limited_and_getaddr_answered_once() -> None:
    a = await start_node(2, addr_burst=10, addr_rate_per_s=0.001, getaddr_min_interval_s=60.0)
    async with running(a):
        raw = await RawPeer.connect(a, host(70))
        await raw.do_handshake()
        addresses = [
            NetAddress(ip=pack_ip(f"10.9.0.{i}"), port=24300, last_seen_ms=1) for i in range(1, 51)
        ]
        addresses.append(NetAddress(ip=b"\x01\x02\x03\x04\x05", port=24300, last_seen_ms=1))
        await raw.send(Addr(addresses=addresses))
        await raw.ping()
        stats = a.manager.stats
        assert stats.addresses_accepted == 10
        assert stats.addresses_dropped == 41
        assert len(a.manager.address_book) == 10
        await raw.send(GetAddr())
        await raw.send(GetAddr())
        replies = [m for m in await raw.ping(nonce=8) if isinstance(m, Addr)]
        raw.close()
        assert len(replies) == 1, "GetAddr is answered once per interval"
        assert stats.bans == 0


async def test_addr_reply_lists_known_addresses() -> None:
    a = await start_node(2)
    async with running(a):
        for i in range(1, 6):
            a.manager.address_book.add(f"10.8.0.{i}", 24300, 5)
        raw = await RawPeer.connect(a, host(71))
        await raw.do_handshake()
        await raw.send(GetAddr())
        while not isinstance(message := await raw.receive(), Addr):
            pass
        raw.close()
        assert len(message.addresses) == 5
