"""`timecoin testnet`: N masternode processes on loopback, in the foreground."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from timecoin.node.testnet import (
    TESTNET_FILENAME,
    TestnetError,
    TestnetRunner,
    init_testnet,
    run_status_loop,
)


@click.command("testnet")
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
@click.option("--init-only", is_flag=True, help="Build the testnet's directories, start nothing.")
@click.option(
    "--restart/--no-restart",
    default=True,
    show_default=True,
    help="Start a node again when its process ends (with a doubling back-off).",
)
def testnet_cmd(
    count: int, datadir: Path, block_interval_ms: int, init_only: bool, restart: bool
) -> None:
    """Start a local testnet of N masternodes with funded wallets (Ctrl-C stops it)."""
    try:
        nodes = init_testnet(datadir, count, block_interval_ms)
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
