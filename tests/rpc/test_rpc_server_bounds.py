"""RPC resource bounds on the live server: a client that declares a body and
sends less gets 408 and frees its slot (it used to hold it forever); waiting
calls take wait slots, not the work queue (64 of them used to lock every
other caller out with 503)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from rpc_helpers import MemoryNode, RpcHttp, basic_auth

from timecoin.rpc.api import TransactionFinality
from timecoin.rpc.auth import read_cookie
from timecoin.rpc.server import RpcConfig, RpcServer

BOUND_S = 10.0


class WaitingNode(MemoryNode):
    """A node whose `wait_transaction_finality` waits until released."""

    release: asyncio.Event

    async def wait_transaction_finality(self, txid: bytes, timeout_s: float) -> TransactionFinality:
        await self.release.wait()
        return TransactionFinality(txid=txid, status="unknown", epoch=0)


async def test_a_body_that_never_arrives_gets_408_and_frees_its_slot(
    node: MemoryNode, datadir: Path
) -> None:
    config = RpcConfig(
        port=0,
        datadir=datadir,
        max_concurrent_requests=1,
        auth_failure_delay_s=0,
        read_timeout_s=0.5,
    )
    server = RpcServer(node, config)
    await server.start()
    user, secret = read_cookie(datadir / ".cookie")
    try:
        address = urlsplit(server.url)
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        writer.write(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: {basic_auth(user, secret)}\r\n".encode()
            + b"Content-Length: 1000\r\n\r\n{"
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), BOUND_S)
        assert b" 408 " in status_line
        writer.close()
        async with aiohttp.ClientSession() as session:
            rpc = RpcHttp(session, server.url, basic_auth(user, secret))
            reply = await rpc.post({"id": 1, "method": "getblockcount"})
            assert reply.status == 200  # the slot is free again
    finally:
        await server.stop()


async def test_waiting_calls_never_lock_other_callers_out(node: MemoryNode, datadir: Path) -> None:
    node.__class__ = WaitingNode
    waiting: WaitingNode = node  # type: ignore[assignment]
    waiting.release = asyncio.Event()
    config = RpcConfig(
        port=0,
        datadir=datadir,
        max_concurrent_requests=3,  # the three waits would take every slot
        max_concurrent_waits=3,
        auth_failure_delay_s=0,
    )
    server = RpcServer(node, config)
    await server.start()
    user, secret = read_cookie(datadir / ".cookie")
    wait_call = {"id": 9, "method": "waittransactionfinality", "params": ["00" * 32, 60]}
    try:
        async with aiohttp.ClientSession() as session:
            rpc = RpcHttp(session, server.url, basic_auth(user, secret))
            waits = [asyncio.create_task(rpc.post(wait_call)) for _ in range(3)]
            for _ in range(1_000):  # until the three waits hold the three wait slots
                if server.waiting == 3:
                    break
                await asyncio.sleep(0.01)
            assert server.waiting == 3
            extra = await rpc.post(wait_call)
            assert extra.status == 503
            assert b"Too many waiting requests" in extra.body
            reply = await rpc.post({"id": 1, "method": "getblockcount"})
            assert reply.status == 200, reply.body
            waiting.release.set()
            assert [(await task).status for task in waits] == [200, 200, 200]
    finally:
        await server.stop()
