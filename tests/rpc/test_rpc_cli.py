"""`timecoin rpc` and the RPC client, end to end against the live server.

The click command and the client are synchronous, so they run in a worker
thread while the server answers on the test's event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from rpc_helpers import PAYEE, RPC_PASSWORD, RPC_USER, ChainFacts, MemoryNode, address_of

from timecoin.cli.main import cli
from timecoin.cli.rpc_cmd import (
    build_params,
    exit_status_for,
    format_result,
    is_settled_status,
    resolve_rpc_url,
)
from timecoin.crypto import encode_address
from timecoin.params import get_preset
from timecoin.rpc.client import (
    RpcAuthError,
    RpcCallError,
    RpcClient,
    RpcConnectionError,
    default_rpc_url,
)
from timecoin.rpc.server import RpcConfig, RpcServer


async def _run(args: list[str], env: dict[str, str] | None = None) -> Result:
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, cli, ["--network", "minimal", *args], env=env, catch_exceptions=False
    )


async def _rpc(server: RpcServer, datadir: Path, *args: str) -> Result:
    return await _run(["rpc", "--datadir", str(datadir), "--rpc-url", server.url, *args])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_cli_reads_the_cookie(server: RpcServer, datadir: Path) -> None:
    result = await _rpc(server, datadir, "getblockcount")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n"
    result = await _run(
        ["rpc", "--rpc-url", server.url, "getblockcount"], env={"TIMECOIN_DATADIR": str(datadir)}
    )
    assert result.stdout == "1\n"


async def test_cli_prints_strings_bare_and_objects_indented(
    server: RpcServer, datadir: Path, chain: ChainFacts
) -> None:
    result = await _rpc(server, datadir, "getblockhash", "0")
    assert result.stdout == chain.genesis_hash.hex() + "\n"
    result = await _rpc(server, datadir, "getblock", chain.block1_hash.hex(), "2")
    assert result.exit_code == 0
    assert result.stdout.startswith('{\n  "hash": ')
    assert '"value": 600.00000000' in result.stdout
    block = json.loads(result.stdout, parse_float=Decimal)
    assert block["height"] == 1


async def test_cli_null_result_prints_nothing(
    server: RpcServer, datadir: Path, node: MemoryNode
) -> None:
    result = await _rpc(server, datadir, "addnode", "10.1.1.1:24300", "add")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert node.added_nodes == {"10.1.1.1:24300"}


async def test_cli_rpc_error_exits_with_the_code(server: RpcServer, datadir: Path) -> None:
    result = await _rpc(server, datadir, "getblock", "00" * 32)
    assert result.exit_code == 5
    assert result.stderr == "error code: -5\nerror message:\nBlock not found\n"
    assert result.stdout == ""
    result = await _rpc(server, datadir, "getblockhash", "-1")
    assert result.exit_code == 8
    result = await _rpc(server, datadir, "nosuchmethod")
    assert result.exit_code == 1
    assert result.stderr == (
        "error code: -32601\nerror message:\n"
        "Method not found: 'nosuchmethod' (`timecoin help` lists the methods)\n"
    )


async def test_cli_arguments_json_or_text(
    server: RpcServer, datadir: Path, node: MemoryNode
) -> None:
    # A text parameter stays a string even when it parses as JSON.
    result = await _rpc(server, datadir, "validateaddress", "123")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["isvalid"] is False
    recipient = encode_address(node.params.address_hrp, address_of(PAYEE))
    result = await _rpc(server, datadir, "sendtoaddress", recipient, "0.5")
    assert result.exit_code == 0, result.stderr
    txid = result.stdout.strip()
    tx = await _rpc(server, datadir, "getrawtransaction", txid, "true")
    assert '"value": 0.50000000' in tx.stdout
    result = await _rpc(server, datadir, "getrawmempool", "true")
    assert txid in json.loads(result.stdout)


async def test_cli_named_arguments(server: RpcServer, datadir: Path, chain: ChainFacts) -> None:
    result = await _rpc(server, datadir, "--named", "getblockhash", "height=1")
    assert result.stdout == chain.block1_hash.hex() + "\n"
    result = await _rpc(
        server,
        datadir,
        "--named",
        "getblock",
        f"blockhash={chain.genesis_hash.hex()}",
        "verbosity=0",
    )
    assert result.exit_code == 0
    result = await _rpc(server, datadir, "--named", "getblockhash", "1")
    assert result.exit_code == 2
    assert "name=value" in result.output


async def test_cli_user_and_password(server: RpcServer) -> None:
    base = ["rpc", "--rpc-url", server.url, "--rpc-user", RPC_USER]
    result = await _run([*base, "--rpc-password", RPC_PASSWORD, "getblockcount"])
    assert result.stdout == "1\n"
    result = await _run([*base, "getblockcount"], env={"TIMECOIN_RPC_PASSWORD": RPC_PASSWORD})
    assert result.stdout == "1\n"
    result = await _run([*base, "--rpc-password", "wrong", "getblockcount"])
    assert result.exit_code == 1
    assert "authorization failed" in result.stderr


async def test_cli_credential_errors(server: RpcServer, tmp_path: Path) -> None:
    result = await _run(["rpc", "--rpc-url", server.url, "getblockcount"])
    assert result.exit_code == 2
    assert "no RPC credentials" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = await _run(["rpc", "--datadir", str(empty), "--rpc-url", server.url, "uptime"])
    assert result.exit_code == 1
    assert "could not read the RPC cookie" in result.stderr
    result = await _run(
        ["rpc", "--rpc-user", "u", "--rpc-password", "p", "--rpc-url", "ftp://x/", "uptime"]
    )
    assert result.exit_code == 2
    assert "http://" in result.output
    result = await _run(["rpc", "--rpc-user", "u", "--rpc-url", server.url, "uptime"])
    assert result.exit_code == 2
    assert "--rpc-password" in result.output


async def test_cli_server_down(datadir: Path, tmp_path: Path) -> None:
    (datadir / ".cookie").write_text("__cookie__:abc")
    url = f"http://127.0.0.1:{_free_port()}/"
    result = await _run(["rpc", "--datadir", str(datadir), "--rpc-url", url, "uptime"])
    assert result.exit_code == 1
    assert "could not connect to the server" in result.stderr


def test_cli_helpers() -> None:
    assert build_params("getblock", ("00ff", "2"), named=False) == ["00ff", 2]
    assert build_params("getblockhash", ("7",), named=False) == [7]
    assert build_params("unknownmethod", ("[1, 2]", "x", "1.5"), named=False) == [
        [1, 2],
        "x",
        Decimal("1.5"),
    ]
    assert build_params("getblock", ("blockhash=11", "verbosity=0"), named=True) == {
        "blockhash": "11",
        "verbosity": 0,
    }
    assert build_params("x", ("NaN",), named=False) == ["NaN"]
    assert format_result(b"null") is None
    assert format_result(b'"abc"') == "abc"
    assert format_result(b"12.50000000") == "12.50000000"
    assert exit_status_for(-5) == 5
    assert exit_status_for(-32601) == 1
    assert exit_status_for(0) == 1


async def test_client_call_batch_and_errors(
    server: RpcServer, datadir: Path, chain: ChainFacts
) -> None:
    client = RpcClient.from_cookie(datadir, server.url, timeout_s=10)
    assert client.url == server.url

    def calls() -> tuple[Any, ...]:
        count = client.call("getblockcount")
        info = client.call("gettxoutsetinfo")
        batch = client.batch([("getblockhash", [0]), ("getblock", ["00" * 32]), ("uptime", None)])
        try:
            client.call("getblockhash", {"height": 9})
        except RpcCallError as exc:
            error = exc
        return count, info, batch, error

    count, info, batch, error = await asyncio.to_thread(calls)
    assert count == 1
    assert isinstance(info["total_amount"], Decimal)
    assert batch[0] == chain.genesis_hash.hex()
    assert isinstance(batch[1], RpcCallError) and batch[1].code == -5
    assert isinstance(batch[2], int)
    assert error.code == -8 and error.message == "Block height out of range"


async def test_client_auth_and_connection_errors(server: RpcServer) -> None:
    bad = RpcClient(server.url, RPC_USER, "nope", timeout_s=10)
    with pytest.raises(RpcAuthError):
        await asyncio.to_thread(bad.call, "uptime")
    down = RpcClient(f"http://127.0.0.1:{_free_port()}/", "u", "p", timeout_s=10)
    with pytest.raises(RpcConnectionError):
        await asyncio.to_thread(down.call, "uptime")
    with pytest.raises(ValueError, match="http"):
        RpcClient("file:///etc/passwd", "u", "p")


def test_default_url(node: MemoryNode) -> None:
    assert default_rpc_url(node.params) == f"http://127.0.0.1:{node.params.default_rpc_port}/"


async def test_cli_takes_the_url_from_the_node_config(server: RpcServer, datadir: Path) -> None:
    # A testnet node's data directory holds its node.toml: no --rpc-url needed,
    # and a wildcard bind address means this host.
    port = server.port
    (datadir / "rpc.url").unlink()  # as from a node that did not write one
    (datadir / "node.toml").write_text(
        f'network = "minimal"\n\n[rpc]\nhost = "0.0.0.0"\nport = {port}\n', encoding="utf-8"
    )
    result = await _run(["rpc", "--datadir", str(datadir), "getblockcount"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n"


def test_rpc_url_defaults_to_the_network_port_without_a_node_config(tmp_path: Path) -> None:
    expected = default_rpc_url(get_preset("devnet"))
    assert resolve_rpc_url("devnet", tmp_path) == expected
    assert resolve_rpc_url("devnet", None) == expected


async def test_cli_finds_a_node_started_on_port_zero(
    node: MemoryNode, config: RpcConfig, datadir: Path
) -> None:
    # `[rpc] port = 0` in node.toml: the bound port is only in rpc.url.
    (datadir / "node.toml").write_text('network = "minimal"\n\n[rpc]\nport = 0\n', encoding="utf-8")
    server = RpcServer(node, dataclasses.replace(config, port=0))
    await server.start()
    try:
        assert (datadir / "rpc.url").read_text(encoding="ascii") == (
            f"http://127.0.0.1:{server.port}/\n"
        )
        result = await _run(["rpc", "--datadir", str(datadir), "getblockcount"])
        assert result.exit_code == 0, result.output
        assert result.stdout == "1\n"
    finally:
        await server.stop()
    assert not (datadir / "rpc.url").exists()


async def test_cli_finds_a_node_in_the_default_data_directory(
    node: MemoryNode, config: RpcConfig, tmp_path: Path
) -> None:
    # A node run without --datadir keeps its cookie and rpc.url in
    # ~/.timecoin/NETWORK: `timecoin rpc` needs no flags.
    home = tmp_path / "home"
    datadir = home / ".timecoin" / "minimal"
    datadir.mkdir(parents=True)
    server = RpcServer(node, dataclasses.replace(config, port=0, datadir=datadir))
    await server.start()
    try:
        result = await _run(["rpc", "getblockcount"], env={"HOME": str(home)})
        assert result.exit_code == 0, result.output
        assert result.stdout == "1\n"
    finally:
        await server.stop()


def test_a_wait_that_timed_out_is_not_settled() -> None:
    assert is_settled_status(b'{"txid": "ab", "status": "final"}')
    assert is_settled_status(b'{"txid": "ab", "status": "conflicted"}')
    assert not is_settled_status(b'{"txid": "ab", "status": "pending"}')
    assert not is_settled_status(b'{"txid": "ab", "status": "unknown"}')
