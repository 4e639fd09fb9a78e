"""`timecoin rpc METHOD [ARGS...]`: call a running node, like bitcoin-cli.

Credentials come from the node's cookie (`--datadir`) or from `--rpc-user` and
`--rpc-password` (or $TIMECOIN_RPC_PASSWORD). Without `--rpc-url`, the URL
comes from the data directory's `rpc.url` (written by the running node), else
from the `[rpc]` section of its `node.toml` when there is one (as `timecoin
testnet` writes), else the network's default port. Each argument is parsed as
JSON when it parses (numbers, true/false, null, arrays, objects) and is passed
as a string otherwise; arguments the method declares as text (hashes, hex,
addresses, labels) are always strings. With `--named`, the arguments are
`name=value` pairs.

Output is bitcoin-cli's: a string result is printed bare, null prints nothing,
anything else is indented JSON with amounts exactly as sent. An error reply
prints `error code: N` and `error message:` on stderr and exits with status |N|
(1 when |N| does not fit an exit status). `waittransactionfinality` whose wait
timed out prints the status and exits with status 1.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

import click
import msgspec

from timecoin.node.config import ConfigError, default_datadir, load_config
from timecoin.params import get_preset
from timecoin.rpc.arguments import Param
from timecoin.rpc.auth import read_rpc_url, rpc_url_path_for
from timecoin.rpc.client import (
    DEFAULT_TIMEOUT_S,
    RpcCallError,
    RpcClient,
    RpcClientError,
    default_rpc_url,
)
from timecoin.rpc.errors import RPC_METHOD_NOT_FOUND
from timecoin.rpc.handlers import METHODS

PASSWORD_ENV = "TIMECOIN_RPC_PASSWORD"  # noqa: S105 (a variable name)
DEFAULT_NETWORK = "devnet"
MAX_EXIT_STATUS = 255
NODE_CONFIG_FILENAME = "node.toml"
WAIT_METHODS = frozenset({"waittransactionfinality"})
SETTLED_STATUSES = frozenset({"final", "confirmed", "conflicted"})
WAIT_TIMED_OUT_STATUS = 1
"""The exit status of a wait method whose wait timed out (the status is printed)."""
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def resolve_rpc_url(network: str, datadir: Path | None) -> str:
    """The URL to call when none is given: the one the running node wrote to
    `DATADIR/rpc.url`, else from `DATADIR/node.toml`'s `[rpc]` section when
    the file exists (a wildcard bind address means this host), else the
    network's default port on 127.0.0.1.

    Raises click.UsageError for a node.toml that cannot be read.
    """
    if datadir is not None:
        running = read_rpc_url(rpc_url_path_for(datadir))
        if running is not None:
            return running
    config_path = None if datadir is None else datadir / NODE_CONFIG_FILENAME
    if config_path is None or not config_path.is_file():
        return default_rpc_url(get_preset(network))
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    host = _ANY_ADDRESS.get(config.rpc.host, config.rpc.host)
    port = (
        get_preset(config.network).default_rpc_port if config.rpc.port is None else config.rpc.port
    )
    host_text = f"[{host}]" if ":" in host else host
    return f"http://{host_text}:{port}/"


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def convert_argument(text: str, param: Param | None) -> object:
    """A command-line argument as the JSON value to send.

    Text parameters stay strings; anything else is parsed as JSON
    (fractions as Decimal) when it parses, and is a string otherwise.
    """
    if param is not None and param.is_text:
        return text
    try:
        value: object = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError:
        return text
    return value


def build_params(
    method: str, args: tuple[str, ...], named: bool
) -> list[object] | dict[str, object]:
    """The request's `params` from the command line (positional, or `name=value` pairs)."""
    known = METHODS.get(method)
    declared = known.params if known is not None else ()
    if not named:
        return [
            convert_argument(text, declared[i] if i < len(declared) else None)
            for i, text in enumerate(args)
        ]
    by_name = {param.name: param for param in declared}
    params: dict[str, object] = {}
    for text in args:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--named expects name=value arguments, got {text!r}")
        params[name] = convert_argument(value, by_name.get(name))
    return params


def format_result(raw: bytes) -> str | None:
    """How bitcoin-cli prints a result: None for null, strings bare, else indented JSON."""
    if raw == b"null":
        return None
    if raw.startswith(b'"'):
        text: str = json.loads(raw)
        return text
    return msgspec.json.format(raw, indent=2).decode("utf-8")


def exit_status_for(code: int) -> int:
    """The process exit status of an RPC error: |code|, or 1 when it is not in 1..255."""
    status = abs(code)
    return status if 0 < status <= MAX_EXIT_STATUS else 1


def make_client(
    network: str,
    datadir: Path | None,
    rpc_url: str | None,
    rpc_user: str | None,
    rpc_password: str | None,
    timeout_s: float,
) -> RpcClient:
    """The client for a node found as `timecoin rpc` finds it; click.UsageError
    when no credentials are given."""
    if datadir is None and rpc_user is None:
        candidate = default_datadir(network)
        if (candidate / ".cookie").is_file():
            datadir = candidate  # a node run with its default data directory
    url = rpc_url if rpc_url is not None else resolve_rpc_url(network, datadir)
    try:
        if rpc_user is not None:
            if rpc_password is None:
                raise click.UsageError(f"--rpc-user needs --rpc-password or ${PASSWORD_ENV}")
            return RpcClient(url, rpc_user, rpc_password, timeout_s=timeout_s)
        if datadir is None:
            raise click.UsageError(
                "no RPC credentials: pass --datadir (to read the node's cookie) "
                "or --rpc-user and --rpc-password"
            )
        return RpcClient.from_cookie(datadir, url, timeout_s=timeout_s)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@click.command(
    "rpc",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--datadir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    envvar="TIMECOIN_DATADIR",
    show_envvar=True,
    help="The node's data directory; its .cookie file authenticates.",
)
@click.option(
    "--rpc-url",
    default=None,
    help="Server URL  [default: from DATADIR/node.toml, else "
    "http://127.0.0.1:<the network's RPC port>/]",
)
@click.option("--rpc-user", default=None, help="User name (instead of the cookie).")
@click.option(
    "--rpc-password",
    default=None,
    envvar=PASSWORD_ENV,
    show_envvar=True,
    help="Password of --rpc-user.",
)
@click.option("--named", is_flag=True, help="Arguments are name=value pairs.")
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Seconds to wait for the reply.",
)
@click.argument("method")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def rpc_cmd(
    ctx: click.Context,
    datadir: Path | None,
    rpc_url: str | None,
    rpc_user: str | None,
    rpc_password: str | None,
    named: bool,
    timeout_s: float,
    method: str,
    args: tuple[str, ...],
) -> None:
    """Call METHOD on a running node with ARGS, like bitcoin-cli (try `help`)."""
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    network = str(obj.get("network", DEFAULT_NETWORK))
    params = build_params(method, args, named)
    try:
        client = make_client(network, datadir, rpc_url, rpc_user, rpc_password, timeout_s)
        raw = client.call_json(method, params)
    except RpcCallError as exc:
        message = exc.message
        if exc.code == RPC_METHOD_NOT_FOUND:
            message = f"{message}: {method!r:.80} (`timecoin help` lists the methods)"
        click.echo(f"error code: {exc.code}\nerror message:\n{message}", err=True)
        ctx.exit(exit_status_for(exc.code))
    except RpcClientError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(1)
    text = format_result(raw)
    if text is not None:
        click.echo(text)
    if method in WAIT_METHODS and not is_settled_status(raw):
        ctx.exit(WAIT_TIMED_OUT_STATUS)


def is_settled_status(raw: bytes) -> bool:
    """Whether a finality status reply says the wait ended (final, confirmed
    or conflicted) rather than timed out."""
    try:
        status = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return True
    return not isinstance(status, dict) or status.get("status") in SETTLED_STATUSES
