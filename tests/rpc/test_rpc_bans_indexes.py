"""The ban and index methods over the live JSON-RPC server (in-memory node)."""

from __future__ import annotations

from rpc_helpers import RpcHttp

NODE_KEY = "ab" * 32


async def test_setban_listbanned_clearbanned(rpc: RpcHttp) -> None:
    assert await rpc.call("setban", "10.0.0.7", "add", 600) is None
    assert await rpc.call("setban", NODE_KEY, "add") is None
    listed = await rpc.call("listbanned")
    assert {entry["address"] for entry in listed} == {"10.0.0.7", NODE_KEY}
    assert all(0 < entry["time_remaining"] <= 86_400 for entry in listed)
    assert await rpc.call("setban", "10.0.0.7", "remove") is None
    assert (await rpc.error("setban", "10.0.0.7", "remove"))["code"] == -30
    assert (await rpc.error("setban", "10.0.0.7", "block"))["code"] == -8
    assert await rpc.call("clearbanned") is None
    assert await rpc.call("listbanned") == []


async def test_index_methods_say_when_an_index_is_off(rpc: RpcHttp) -> None:
    assert await rpc.call("getindexinfo") == {}
    error = await rpc.error("getspentinfo", "00" * 32, 0)
    assert error["code"] == -1 and "spentindex" in error["message"]
