"""`timecoin testnet`: N masternode processes on loopback, in the foreground."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from timecoin.node.keys import load_or_create_key
from timecoin.node.testnet import (
    TESTNET_FILENAME,
    TestnetError,
    TestnetRunner,
    add_testnet_node,
    format_start_banner,
    init_testnet,
    run_status_loop,
    start_joined_node,
)


@click.group("testnet", invoke_without_command=True)
@click.option("--nodes", "count", type=int, default=4, show_default=True, help="Masternodes.")
@click.option(
    "--datadir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("devnet"),
    show_default=True,
)
@click.option(
    "--block-interval-ms", type=int, default=1_000, show_default=True, help="Block interval."
)
@click.option(
    "--epoch-length",
    type=int,
    default=None,
    help="Blocks per epoch (default: the devnet's 20; a multiple of 10).",
)
@click.option("--init-only", is_flag=True, help="Build the testnet's directories, start nothing.")
@click.option(
    "--restart/--no-restart",
    default=True,
    show_default=True,
    help="Start a node again when its process ends (with a doubling back-off).",
)
@click.pass_context
def testnet_cmd(
    ctx: click.Context,
    count: int,
    datadir: Path,
    block_interval_ms: int,
    epoch_length: int | None,
    init_only: bool,
    restart: bool,
) -> None:
    """Start a local testnet of N masternodes with funded wallets (Ctrl-C stops it).

    `timecoin testnet add-node --datadir DIR` adds a node to a running one.
    """
    if ctx.invoked_subcommand is not None:
        return
    try:
        nodes = init_testnet(datadir, count, block_interval_ms, epoch_length)
    except TestnetError as exc:
        raise click.ClickException(str(exc)) from None
    if init_only:
        click.echo(f"testnet of {count} nodes in {datadir}")
        return
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    runner = TestnetRunner(datadir, nodes, restart=restart)
    try:
        runner.start()
        click.echo(f"{count} nodes started; {datadir / TESTNET_FILENAME}; Ctrl-C stops them")
        for line in format_start_banner(datadir, nodes):
            click.echo(line)
        tty = sys.stdout.isatty()

        def write(line: str) -> None:
            if tty:
                click.echo(f"\r\x1b[K{line}", nl=False)
            else:
                click.echo(line)

        run_status_loop(runner, stop.is_set, write)
    finally:
        click.echo("\nstopping nodes...")
        runner.stop()
        click.echo("stopped")


@testnet_cmd.command("add-node")
@click.option(
    "--datadir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("devnet"),
    show_default=True,
    help="The testnet's directory.",
)
@click.option("--no-start", is_flag=True, help="Create the node's directory, do not start it.")
def add_node_cmd(datadir: Path, no_start: bool) -> None:
    """Add a non-genesis node to a testnet and start it in the background.

    It syncs from the other nodes; it becomes a masternode once a wallet
    registers its operator key (printed below) with `masternoderegister`.
    """
    try:
        node = add_testnet_node(datadir)
    except TestnetError as exc:
        raise click.ClickException(str(exc)) from None
    operator_key = load_or_create_key(node.datadir / "operator.key").public_key.hex()
    click.echo(f"{node.name}: {node.datadir}")
    click.echo(f"  operator key  {operator_key}")
    click.echo(f"  p2p           {node.p2p}")
    click.echo(f"  rpc           {node.rpc_url}")
    if no_start:
        click.echo(f"  start it with: {' '.join(node.argv())}")
        return
    pid = start_joined_node(datadir, node)
    click.echo(f"  pid           {pid} (log: {node.datadir / 'node.log'})")
    click.echo(f"  stop it with:  timecoin rpc --datadir {node.datadir} stop")
