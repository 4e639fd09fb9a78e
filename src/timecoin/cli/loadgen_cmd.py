"""`timecoin loadgen`: offer signed transfers to a running local testnet, report what commits."""

from __future__ import annotations

import json
from pathlib import Path

import click

from timecoin.node.loadgen import LoadgenConfig, LoadgenError, run_loadgen


@click.command("loadgen")
@click.option(
    "--testnet",
    "testnet_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("devnet"),
    show_default=True,
    help="Data directory of a running `timecoin testnet` (holds testnet.json).",
)
@click.option("--tps", type=float, default=20.0, show_default=True, help="Transfers per second.")
@click.option(
    "--duration", "duration_s", type=float, default=10.0, show_default=True, help="Seconds."
)
@click.option(
    "--coins",
    type=click.IntRange(min=1),
    default=None,
    help="Coins to fund for the run (default: about 4 s of transfers).",
)
@click.option(
    "--drain-timeout",
    "drain_timeout_s",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds to wait for accepted transfers to commit after sending stops.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
def loadgen_cmd(
    testnet_dir: Path,
    tps: float,
    duration_s: float,
    coins: int | None,
    drain_timeout_s: float,
    as_json: bool,
    quiet: bool,
) -> None:
    """Send signed transfers to a local testnet at a target rate.

    Funds its own coins from the nodes' wallets (one fan-out transaction per
    node), spreads JSON-RPC batches of sendrawtransaction over the nodes, and
    reports submitted, accepted and committed transfers, the rates, and the
    latency from submission to commit.
    """
    try:
        config = LoadgenConfig(
            tps=tps, duration_s=duration_s, coins=coins, drain_timeout_s=drain_timeout_s
        )

        def progress(line: str) -> None:
            if not quiet:
                click.echo(line, err=True)

        report = run_loadgen(testnet_dir, config, progress)
    except LoadgenError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(report.format())
