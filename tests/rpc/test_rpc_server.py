"""The HTTP server: authentication, the cookie file, JSON-RPC 1.0/2.0 replies,
batches, notifications, protocol errors and limits."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import aiohttp
import pytest
from rpc_helpers import RPC_PASSWORD, RPC_USER, MemoryNode, RpcHttp, basic_auth

from timecoin.rpc.auth import COOKIE_USER, Credentials, parse_basic_authorization, read_cookie
from timecoin.rpc.server import RpcConfig, RpcServer


async def test_cookie_file_created_private_and_removed_at_stop(
    node: MemoryNode, config: RpcConfig, datadir: Path
) -> None:
    server = RpcServer(node, config)
    cookie = datadir / ".cookie"
    assert not cookie.exists()
    await server.start()
    try:
        assert server.cookie_path == cookie
        assert stat.S_IMODE(cookie.stat().st_mode) == 0o600
        user, secret = read_cookie(cookie)
        assert user == COOKIE_USER
        assert len(secret) == 64
        int(secret, 16)
        assert not (datadir / ".cookie.tmp").exists()
        async with aiohttp.ClientSession() as session:
            rpc = RpcHttp(session, server.url, basic_auth(user, secret))
            assert await rpc.call("getblockcount") == 1
    finally:
        await server.stop()
    assert not cookie.exists()
    await server.stop()  # idempotent


async def test_each_start_writes_a_new_cookie(
    node: MemoryNode, config: RpcConfig, datadir: Path
) -> None:
    secrets = []
    for _ in range(2):
        server = RpcServer(node, config)
        await server.start()
        secrets.append(read_cookie(datadir / ".cookie")[1])
        await server.stop()
    assert secrets[0] != secrets[1]


async def test_user_password_accepted(rpc: RpcHttp) -> None:
    assert await rpc.call("getblockcount") == 1


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        basic_auth(RPC_USER, "wrong"),
        basic_auth("bob", RPC_PASSWORD),
        basic_auth(COOKIE_USER, "00" * 32),
        "Bearer abc",
        "Basic !!!notbase64",
    ],
)
async def test_bad_or_missing_credentials_get_401(rpc: RpcHttp, authorization: str) -> None:
    reply = await rpc.post(
        {"jsonrpc": "2.0", "id": 1, "method": "getblockcount"}, authorization=authorization
    )
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"] == 'Basic realm="jsonrpc"'
    assert reply.body == b""


async def test_get_is_refused(rpc: RpcHttp) -> None:
    reply = await rpc.post(b"", method="GET")
    assert reply.status == 405
    assert b"only POST" in reply.body


async def test_numeric_and_string_ids_echoed_in_a_2_0_reply(rpc: RpcHttp) -> None:
    for request_id in (7, "abc-1", 1.5, None):
        reply = await rpc.post(
            {"jsonrpc": "2.0", "id": request_id, "method": "getblockcount", "params": []}
        )
        assert reply.status == 200
        assert reply.json == {"jsonrpc": "2.0", "result": 1, "id": request_id}
    reply = await rpc.post({"jsonrpc": "2.0", "id": 1.5, "method": "getblockcount"})
    assert b'"id":1.5' in reply.body


async def test_request_without_jsonrpc_gets_a_legacy_reply(rpc: RpcHttp) -> None:
    reply = await rpc.post({"id": "x", "method": "getblockcount", "params": []})
    assert reply.status == 200
    assert reply.json == {"result": 1, "error": None, "id": "x"}
    reply = await rpc.post({"jsonrpc": "1.0", "id": 3, "method": "getblockcount"})
    assert reply.json == {"result": 1, "error": None, "id": 3}


async def test_legacy_errors_set_the_http_status(rpc: RpcHttp) -> None:
    reply = await rpc.post({"id": 1, "method": "nosuchmethod", "params": []})
    assert reply.status == 404
    assert reply.json == {
        "result": None,
        "error": {"code": -32601, "message": "Method not found"},
        "id": 1,
    }
    reply = await rpc.post({"id": 2, "method": "getblockhash", "params": [99]})
    assert reply.status == 500
    assert reply.json["error"] == {"code": -8, "message": "Block height out of range"}
    reply = await rpc.post({"id": 3, "method": 5})
    assert reply.status == 400
    assert reply.json["error"]["code"] == -32600


async def test_2_0_errors_are_http_200(rpc: RpcHttp) -> None:
    reply = await rpc.post({"jsonrpc": "2.0", "id": 1, "method": "nosuchmethod"})
    assert reply.status == 200
    assert reply.json == {
        "jsonrpc": "2.0",
        "error": {"code": -32601, "message": "Method not found"},
        "id": 1,
    }


@pytest.mark.parametrize(
    ("request_obj", "message"),
    [
        ({"jsonrpc": "3.0", "id": 1, "method": "getblockcount"}, "JSON-RPC version not supported"),
        ({"jsonrpc": 2, "id": 1, "method": "getblockcount"}, "jsonrpc field must be a string"),
        ({"jsonrpc": "2.0", "id": 1}, "Missing method"),
        ({"jsonrpc": "2.0", "id": 1, "method": ["x"]}, "Method must be a string"),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "getblockcount", "params": 5},
            "Params must be an array or object",
        ),
    ],
)
async def test_invalid_requests(rpc: RpcHttp, request_obj: object, message: str) -> None:
    reply = await rpc.post(request_obj)
    error = reply.json["error"]
    assert error == {"code": -32600, "message": message}
    assert reply.json["id"] == 1


async def test_notification_runs_without_reply(rpc: RpcHttp, node: MemoryNode) -> None:
    reply = await rpc.post({"jsonrpc": "2.0", "method": "stop"})
    assert reply.status == 204
    assert reply.body == b""
    assert node.stop_requested


async def test_legacy_request_without_id_is_answered(rpc: RpcHttp) -> None:
    reply = await rpc.post({"method": "getblockcount"})
    assert reply.status == 200
    assert reply.json == {"result": 1, "error": None, "id": None}


async def test_batch(rpc: RpcHttp) -> None:
    reply = await rpc.post(
        [
            {"jsonrpc": "2.0", "id": 1, "method": "getblockcount"},
            {"id": "two", "method": "getblockhash", "params": [0]},
            {"jsonrpc": "2.0", "method": "getblockcount"},
            {"jsonrpc": "2.0", "id": 4, "method": "nosuchmethod"},
            17,
            {"jsonrpc": "2.0", "id": 6, "method": "getblockhash", "params": [-1]},
        ]
    )
    assert reply.status == 200
    replies = reply.json
    assert len(replies) == 5
    assert replies[0] == {"jsonrpc": "2.0", "result": 1, "id": 1}
    assert replies[1]["id"] == "two" and replies[1]["error"] is None
    assert len(replies[1]["result"]) == 64
    assert replies[2]["error"]["code"] == -32601 and replies[2]["id"] == 4
    assert replies[3] == {
        "result": None,
        "error": {"code": -32600, "message": "Invalid Request object"},
        "id": None,
    }
    assert replies[4]["error"]["code"] == -8


async def test_batch_of_notifications_and_empty_batch(rpc: RpcHttp) -> None:
    reply = await rpc.post([{"jsonrpc": "2.0", "method": "getblockcount"}] * 2)
    assert reply.status == 204
    reply = await rpc.post([])
    assert reply.status == 200
    assert reply.json == []


async def test_batch_limit(rpc: RpcHttp) -> None:
    reply = await rpc.post([{"jsonrpc": "2.0", "id": i, "method": "uptime"} for i in range(11)])
    assert reply.status == 400
    assert reply.json["error"]["code"] == -32600


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Parse error"),
        (b"", "Parse error"),
        (b'{"id": 1, "method": "uptime", "params": [NaN]}', "Parse error"),
        (b"\xff\xfe", "Parse error"),
        (b"[" * 100_000, "Parse error"),
        (b"42", "Top-level object parse error"),
        (b'"getblockcount"', "Top-level object parse error"),
    ],
)
async def test_parse_errors(rpc: RpcHttp, body: bytes, message: str) -> None:
    reply = await rpc.post(body)
    assert reply.status == 500
    assert reply.json == {"result": None, "error": {"code": -32700, "message": message}, "id": None}


async def test_request_size_is_bounded(rpc: RpcHttp) -> None:
    reply = await rpc.post({"id": 1, "method": "decoderawtransaction", "params": ["00" * 150_000]})
    assert reply.status == 413


async def test_invalid_params(rpc: RpcHttp) -> None:
    too_many = await rpc.error("getblockcount", 1)
    assert too_many["code"] == -32602
    assert "expected at most 0 parameters, got 1" in too_many["message"]
    missing = await rpc.error("getblockhash")
    assert missing["code"] == -32602
    assert "'height'" in missing["message"]
    wrong_type = await rpc.error("getblockhash", "zero")
    assert wrong_type["code"] == -3
    assert "not of expected type number" in wrong_type["message"]
    as_bool = await rpc.error("getblockhash", True)
    assert as_bool["code"] == -3


async def test_named_params(rpc: RpcHttp) -> None:
    reply = await rpc.post(
        {"jsonrpc": "2.0", "id": 1, "method": "getblockhash", "params": {"height": 0}}
    )
    assert len(reply.json["result"]) == 64
    reply = await rpc.post(
        {"jsonrpc": "2.0", "id": 2, "method": "getblockhash", "params": {"hieght": 0}}
    )
    assert reply.json["error"] == {"code": -32602, "message": "Unknown named parameter hieght"}


async def test_null_takes_the_default(rpc: RpcHttp) -> None:
    blockhash = await rpc.call("getblockhash", 0)
    assert isinstance(await rpc.call("getblock", blockhash, None), dict)


async def test_warming_up(rpc: RpcHttp, node: MemoryNode) -> None:
    node.warming_up = True
    error = await rpc.error("getblockchaininfo")
    assert error == {"code": -28, "message": "Loading block index..."}
    assert isinstance(await rpc.call("uptime"), int)


async def test_unexpected_exception_is_an_internal_error(rpc: RpcHttp, node: MemoryNode) -> None:
    node.broken = True
    reply = await rpc.post({"id": 1, "method": "getblockcount"})
    assert reply.status == 500
    assert reply.json["error"] == {"code": -32603, "message": "Internal error"}
    assert b"simulated bug" not in reply.body


async def test_work_queue_is_bounded(node: MemoryNode, datadir: Path) -> None:
    config = RpcConfig(port=0, datadir=datadir, max_concurrent_requests=1, auth_failure_delay_s=0)
    server = RpcServer(node, config)
    await server.start()
    node.gate = asyncio.Event()
    user, secret = read_cookie(datadir / ".cookie")
    try:
        async with aiohttp.ClientSession() as session:
            rpc = RpcHttp(session, server.url, basic_auth(user, secret))
            first = asyncio.create_task(rpc.post({"id": 1, "method": "getblockcount"}))
            for _ in range(100):
                await asyncio.sleep(0.01)
                second = await rpc.post({"id": 2, "method": "getblockcount"})
                if second.status == 503:
                    break
            assert second.status == 503
            assert b"Work queue depth exceeded" in second.body
            node.gate.set()
            assert (await first).json["result"] == 1
    finally:
        await server.stop()


def test_config_is_checked(node: MemoryNode, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no RPC credentials"):
        RpcServer(node, RpcConfig(port=0))
    with pytest.raises(ValueError, match="together"):
        RpcServer(node, RpcConfig(port=0, user="u"))
    with pytest.raises(ValueError, match="':'"):
        RpcServer(node, RpcConfig(port=0, user="a:b", password="p"))
    with pytest.raises(ValueError, match="max_batch_requests"):
        RpcServer(node, RpcConfig(port=0, datadir=tmp_path, max_batch_requests=0))


async def test_user_password_only_writes_no_cookie(node: MemoryNode, tmp_path: Path) -> None:
    server = RpcServer(node, RpcConfig(port=0, user="u", password="p", auth_failure_delay_s=0))
    await server.start()
    try:
        assert server.cookie_path is None
        async with aiohttp.ClientSession() as session:
            rpc = RpcHttp(session, server.url, basic_auth("u", "p"))
            assert await rpc.call("getblockcount") == 1
    finally:
        await server.stop()
    assert list(tmp_path.glob("**/.cookie")) == []


def test_credentials_and_header_parsing() -> None:
    credentials = Credentials(["a:b", "__cookie__:ff"])
    assert credentials.check("a:b")
    assert credentials.check("__cookie__:ff")
    assert not credentials.check("a:bb")
    assert not credentials.check(None)
    assert parse_basic_authorization(basic_auth("a", "b:c")) == "a:b:c"
    assert parse_basic_authorization("basic " + basic_auth("a", "b").split()[1]) == "a:b"
    assert parse_basic_authorization(None) is None
    assert parse_basic_authorization("Basic " + "A" * 5000) is None
