"""`timecoin masternode ...` against the live server over a `MemoryNode`.

The click command is synchronous, so it runs in a worker thread while the
server answers on the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner, Result
from rpc_helpers import OPERATORS, MemoryNode
from rpc_masternode_helpers import NEW_OPERATOR, commit_pooled, fund_collateral

from timecoin.cli.main import cli
from timecoin.rpc.server import RpcServer


async def _masternode(server: RpcServer, datadir: Path, *args: str) -> Result:
    runner = CliRunner()
    argv = ["--network", "minimal", "masternode", "--datadir", str(datadir)]
    argv += ["--rpc-url", server.url, *args]
    return await asyncio.to_thread(runner.invoke, cli, argv, catch_exceptions=False)


async def test_register_list_status_unlock(
    server: RpcServer, datadir: Path, node: MemoryNode
) -> None:
    collateral = fund_collateral(node)
    result = await _masternode(
        server,
        datadir,
        "register",
        "bronze",
        collateral.txid.hex(),
        "0",
        NEW_OPERATOR.public_key.hex(),
        "--network-address",
        "203.0.113.9:24100",
    )
    assert result.exit_code == 0, result.output
    txid = result.stdout.split()[2]
    assert f"collateral     {txid}:0" in result.stdout
    commit_pooled(node, txid)

    listed = await _masternode(server, datadir, "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["MASTERNODE", "TIER", "STATE"]
    assert any(line.startswith(txid[:16]) and "PENDING" in line for line in lines)
    assert lines[-1] == "3 masternodes"
    as_json = await _masternode(server, datadir, "--json", "list", txid)
    assert [e["masternodeid"] for e in json.loads(as_json.stdout)] == [txid]

    status = await _masternode(server, datadir, "status")
    assert status.stdout.startswith("state         ACTIVE: active in epoch")
    assert f"operator key  {OPERATORS[0].public_key.hex()}" in status.stdout

    unlocked = await _masternode(server, datadir, "unlock", txid, "0")
    assert unlocked.exit_code == 0, unlocked.output
    assert "leaves at the next epoch" in unlocked.stdout


async def test_errors_name_the_field_and_set_the_exit_status(
    server: RpcServer, datadir: Path, node: MemoryNode
) -> None:
    collateral = fund_collateral(node)
    result = await _masternode(
        server, datadir, "register", "platinum", collateral.txid.hex(), "0", "ab" * 32
    )
    assert result.exit_code == 8
    assert result.stderr.startswith("error: tier: expected one of free, bronze, silver, gold")
    assert "Traceback" not in result.output


async def test_operator_key_is_created_once_and_read_after(tmp_path: Path) -> None:
    runner = CliRunner()
    argv = ["masternode", "--datadir", str(tmp_path / "node"), "operator-key"]
    first = await asyncio.to_thread(runner.invoke, cli, argv, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    key_file = tmp_path / "node" / "operator.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    second = await asyncio.to_thread(runner.invoke, cli, argv, catch_exceptions=False)
    assert second.stdout == first.stdout and len(first.stdout.strip()) == 64
