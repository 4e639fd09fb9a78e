"""Fixtures of the RPC tests: a `MemoryNode` served by a live `RpcServer`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from rpc_helpers import (
    RPC_PASSWORD,
    RPC_USER,
    ChainFacts,
    MemoryNode,
    RpcHttp,
    basic_auth,
    build_node,
)

from timecoin.rpc.server import RpcConfig, RpcServer


@pytest.fixture
def node_and_chain(tmp_path: Path) -> Iterator[tuple[MemoryNode, ChainFacts]]:
    wallet_dir = tmp_path / "wallet"
    wallet_dir.mkdir()
    node, chain = build_node(wallet_dir)
    yield node, chain
    if node.wallet is not None:
        node.wallet.close()


@pytest.fixture
def node(node_and_chain: tuple[MemoryNode, ChainFacts]) -> MemoryNode:
    return node_and_chain[0]


@pytest.fixture
def chain(node_and_chain: tuple[MemoryNode, ChainFacts]) -> ChainFacts:
    return node_and_chain[1]


@pytest.fixture
def datadir(tmp_path: Path) -> Path:
    path = tmp_path / "datadir"
    path.mkdir()
    return path


@pytest.fixture
def config(datadir: Path) -> RpcConfig:
    return RpcConfig(
        host="127.0.0.1",
        port=0,
        datadir=datadir,
        user=RPC_USER,
        password=RPC_PASSWORD,
        auth_failure_delay_s=0.0,
        max_request_bytes=200_000,
        max_batch_requests=10,
    )


@pytest.fixture
async def server(node: MemoryNode, config: RpcConfig) -> AsyncIterator[RpcServer]:
    rpc_server = RpcServer(node, config)
    await rpc_server.start()
    try:
        yield rpc_server
    finally:
        await rpc_server.stop()


@pytest.fixture
async def rpc(server: RpcServer) -> AsyncIterator[RpcHttp]:
    async with aiohttp.ClientSession() as session:
        yield RpcHttp(session, server.url, basic_auth(RPC_USER, RPC_PASSWORD))
