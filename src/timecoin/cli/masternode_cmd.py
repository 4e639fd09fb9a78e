"""`timecoin masternode register|update|unlock|list|status`: the masternode
RPC methods with human output (`--json` prints the RPC result instead), and
`operator-key`, which creates or reads the node's operator key offline.

Each subcommand calls the method of the same name (`masternoderegister`,
...) on the node found as `timecoin rpc` finds it (`--datadir`, its
node.toml and cookie). An RPC error prints `error: MESSAGE` and exits with
status |code|, as `timecoin rpc` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from timecoin.cli.rpc_cmd import DEFAULT_NETWORK, PASSWORD_ENV, exit_status_for, make_client
from timecoin.node.config import default_datadir
from timecoin.node.keys import KeyFileError, load_or_create_key
from timecoin.rpc.client import DEFAULT_TIMEOUT_S, RpcCallError, RpcClientError


@click.group("masternode")
@click.option(
    "--datadir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    envvar="TIMECOIN_DATADIR",
    show_envvar=True,
    help="The node's data directory; its .cookie file authenticates.",
)
@click.option("--rpc-url", default=None, help="Server URL (default: as `timecoin rpc`).")
@click.option("--rpc-user", default=None, help="User name (instead of the cookie).")
@click.option("--rpc-password", default=None, envvar=PASSWORD_ENV, help="Password of --rpc-user.")
@click.option("--json", "as_json", is_flag=True, help="Print the RPC result as JSON.")
@click.pass_context
def masternode_group(
    ctx: click.Context,
    datadir: Path | None,
    rpc_url: str | None,
    rpc_user: str | None,
    rpc_password: str | None,
    as_json: bool,
) -> None:
    """Register, update, retire and watch masternodes (through a node's wallet)."""
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    network = str(obj.get("network", DEFAULT_NETWORK))
    ctx.obj = {
        **obj,
        "client": lambda: make_client(
            network, datadir, rpc_url, rpc_user, rpc_password, DEFAULT_TIMEOUT_S
        ),
        "json": as_json,
        "datadir": datadir if datadir is not None else default_datadir(network),
    }


def _call(ctx: click.Context, method: str, *params: object) -> Any:
    try:
        return ctx.obj["client"]().call(method, list(params))
    except RpcCallError as exc:
        click.echo(f"error: {exc.message}", err=True)
        ctx.exit(exit_status_for(exc.code))
    except RpcClientError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(1)


def _echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@masternode_group.command("register")
@click.argument("tier")
@click.argument("collateral_txid")
@click.argument("collateral_vout", type=int)
@click.argument("operator_pubkey")
@click.option("--reward-address", default="", help="Where rewards go (default: the owner's).")
@click.option("--network-address", default="", help='The node\'s public "host:port".')
@click.pass_context
def register_cmd(
    ctx: click.Context,
    tier: str,
    collateral_txid: str,
    collateral_vout: int,
    operator_pubkey: str,
    reward_address: str,
    network_address: str,
) -> None:
    """Lock the coin COLLATERAL_TXID:COLLATERAL_VOUT (exactly the TIER's
    collateral) for a masternode run with OPERATOR_PUBKEY."""
    txid = _call(
        ctx,
        "masternoderegister",
        tier,
        collateral_txid,
        collateral_vout,
        operator_pubkey,
        reward_address,
        network_address,
    )
    if ctx.obj["json"]:
        _echo_json(txid)
        return
    click.echo(f"masternode id  {txid}")
    click.echo(f"collateral     {txid}:0 (name it in update and unlock)")
    click.echo("it counts from the next epoch: `timecoin masternode status` on the node shows when")


@masternode_group.command("update")
@click.argument("collateral_txid")
@click.argument("collateral_vout", type=int)
@click.option("--operator-pubkey", default="", help="A new operator key.")
@click.option("--reward-address", default="", help="A new reward address.")
@click.option("--network-address", default="", help='A new public "host:port".')
@click.pass_context
def update_cmd(
    ctx: click.Context,
    collateral_txid: str,
    collateral_vout: int,
    operator_pubkey: str,
    reward_address: str,
    network_address: str,
) -> None:
    """Change the operator key, reward or network address of the wallet's
    masternode with collateral COLLATERAL_TXID:COLLATERAL_VOUT."""
    txid = _call(
        ctx,
        "masternodeupdate",
        collateral_txid,
        collateral_vout,
        operator_pubkey,
        reward_address,
        network_address,
    )
    if ctx.obj["json"]:
        _echo_json(txid)
        return
    click.echo(f"update {txid} sent; it counts from the next epoch")


@masternode_group.command("unlock")
@click.argument("collateral_txid")
@click.argument("collateral_vout", type=int)
@click.pass_context
def unlock_cmd(ctx: click.Context, collateral_txid: str, collateral_vout: int) -> None:
    """Retire the wallet's masternode and release its collateral."""
    txid = _call(ctx, "masternodeunlock", collateral_txid, collateral_vout)
    if ctx.obj["json"]:
        _echo_json(txid)
        return
    click.echo(f"unlock {txid} sent: the masternode leaves at the next epoch;")
    click.echo(f"the collateral comes back as {txid}:0 once the transaction is final")


@masternode_group.command("list")
@click.argument("filter_text", metavar="[FILTER]", default="")
@click.pass_context
def list_cmd(ctx: click.Context, filter_text: str) -> None:
    """Every registered masternode (FILTER keeps entries containing it)."""
    entries = _call(ctx, "masternodelist", filter_text)
    if ctx.obj["json"]:
        _echo_json(entries)
        return
    click.echo(format_masternode_table(entries))


def format_masternode_table(entries: list[dict[str, Any]]) -> str:
    """masternodelist's entries as an aligned table, one line each."""
    header = ("MASTERNODE", "TIER", "STATE", "WEIGHT", "VOTING", "HEARTBEAT", "NETWORK ADDRESS")
    rows = [header]
    for e in entries:
        window = e.get("lastheartbeatwindow")
        rows.append(
            (
                str(e["masternodeid"])[:16],
                str(e["tier"]),
                str(e.get("state", e["status"])),
                str(e["votingweight"]),
                "yes" if e["invotingset"] else "no",
                "never" if window is None else f"window {window}",
                str(e["networkaddress"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.append(f"{len(entries)} masternodes")
    return "\n".join(line.rstrip() for line in lines)


@masternode_group.command("status")
@click.pass_context
def status_cmd(ctx: click.Context) -> None:
    """This node's masternode: what it waits for, and its registry entry."""
    status = _call(ctx, "masternodestatus")
    if ctx.obj["json"]:
        _echo_json(status)
        return
    click.echo(f"state         {status['state']}: {status['message']}")
    click.echo(f"operator key  {status['operatorkey']}")
    if status.get("masternodeid"):
        click.echo(f"masternode    {status['masternodeid']}")
        click.echo(f"tier          {status['tier']} (weight {status['votingweight']})")
        click.echo(f"collateral    {status['collateral']}")
        click.echo(f"reward to     {status['rewardaddress']}")
    heartbeat = status.get("lastheartbeat")
    click.echo(f"heartbeat     {'never sent' if heartbeat is None else f'sent at {heartbeat}'}")


@masternode_group.command("operator-key")
@click.pass_context
def operator_key_cmd(ctx: click.Context) -> None:
    """Print this node's operator public key, creating DATADIR/operator.key
    (mode 0600) when there is none; the node need not be running."""
    path = Path(ctx.obj["datadir"]) / "operator.key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = load_or_create_key(path)
    except (KeyFileError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if ctx.obj["json"]:
        _echo_json({"operatorkey": key.public_key.hex(), "file": str(path)})
        return
    click.echo(key.public_key.hex())
