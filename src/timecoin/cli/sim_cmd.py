"""`timecoin sim`: run seeded deterministic simulations of the network."""

from __future__ import annotations

import click

from timecoin.sim.byzantine import STRATEGIES
from timecoin.sim.campaign import BYZANTINE_MAX, CampaignSpec, SeedOutcome, run_campaign
from timecoin.sim.config import (
    COMMITTEE_ALL,
    COMMITTEE_RULES,
    FAULTS_RANDOM,
    STRATEGY_NONE,
    STRATEGY_RANDOM,
    TIERS,
    TIERS_BRONZE,
)
from timecoin.sim.faults import FAULT_PROFILES
from timecoin.sim.network import DELAY_MODELS

DEFAULT_SEEDS = 10


def _parse_nodes(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        values = (int(low), int(high) if sep else int(low))
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected N or MIN-MAX") from None
    if values[0] < 1 or values[1] < values[0]:
        raise click.BadParameter(f"{text!r}: expected 1 <= MIN <= MAX")
    return values


def _parse_percent(text: str) -> int | None:
    if not text.endswith("%"):
        return None
    try:
        value = int(text[:-1])
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected a whole percent such as 25%") from None
    if not 1 <= value <= 100:
        raise click.BadParameter(f"{text!r}: expected 1% to 100%")
    return value


def _parse_byzantine(text: str) -> int:
    if text == "max":
        return BYZANTINE_MAX
    try:
        value = int(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected a count or 'max'") from None
    if value < 0:
        raise click.BadParameter(f"{text!r}: expected a count of at least 0")
    return value


@click.command("sim")
@click.option("--nodes", default="4", show_default=True, help="Nodes: N, or MIN-MAX per seed.")
@click.option("--seeds", type=click.IntRange(min=1), default=None, help="Number of seeds to run.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="First seed (default 0).")
@click.option(
    "--byzantine",
    default="0",
    show_default=True,
    help="Byzantine masternodes: a count, 'max' for (N - 1) // 3, or P% of the voting weight.",
)
@click.option(
    "--strategy",
    type=click.Choice([*STRATEGIES, STRATEGY_RANDOM, STRATEGY_NONE]),
    default=STRATEGY_RANDOM,
    show_default=True,
    help="Byzantine strategy ('random': drawn per seed).",
)
@click.option(
    "--faults",
    type=click.Choice([*FAULT_PROFILES, FAULTS_RANDOM]),
    default=FAULTS_RANDOM,
    show_default=True,
    help="Fault profile ('random': drawn per seed).",
)
@click.option(
    "--heights", type=click.IntRange(min=1), default=20, show_default=True, help="Target height."
)
@click.option(
    "--delay", type=click.Choice(DELAY_MODELS), default=None, help="Override the delay model."
)
@click.option(
    "--committee",
    type=click.Choice(COMMITTEE_RULES),
    default=COMMITTEE_ALL,
    show_default=True,
    help="Committee rule: every voter ('all'), or the heaviest 7 with seed ties ('top').",
)
@click.option(
    "--tiers",
    type=click.Choice(TIERS),
    default=TIERS_BRONZE,
    show_default=True,
    help="Genesis tiers of small runs: all Bronze, or mixed Gold/Silver/Bronze.",
)
@click.option(
    "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes."
)
@click.option("--verbose", is_flag=True, help="Print one line per seed.")
def sim_cmd(
    nodes: str,
    seeds: int | None,
    seed: int | None,
    byzantine: str,
    strategy: str,
    faults: str,
    heights: int,
    delay: str | None,
    committee: str,
    tiers: str,
    jobs: int,
    verbose: bool,
) -> None:
    """Run deterministic simulations: N nodes on a simulated network and clock
    with faults and Byzantine masternodes, every run replayable from its seed.

    Prints a summary and exits with status 1 if any seed broke a safety or
    liveness property; each failure prints the command that replays it.
    """
    min_nodes, max_nodes = _parse_nodes(nodes)
    byzantine_percent = _parse_percent(byzantine)
    byzantine_count = 0 if byzantine_percent is not None else _parse_byzantine(byzantine)
    if byzantine_count > min_nodes:
        raise click.BadParameter(f"{byzantine_count} Byzantine of {min_nodes} nodes")
    if (byzantine_count != 0 or byzantine_percent is not None) and strategy == STRATEGY_NONE:
        raise click.BadParameter("Byzantine nodes need a strategy other than 'none'")
    first = 0 if seed is None else seed
    count = seeds if seeds is not None else (1 if seed is not None else DEFAULT_SEEDS)
    spec = CampaignSpec(
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        byzantine=byzantine_count,
        strategy=strategy,
        faults=faults,
        heights=heights,
        delay=delay,
        committee=committee,
        byzantine_percent=byzantine_percent,
        tiers=tiers,
    )

    def report(outcome: SeedOutcome) -> None:
        if verbose:
            config = outcome.config
            status = "ok" if outcome.report is None else "FAILED"
            share = config.byzantine_percent
            bad = config.byzantine if share is None else f"{share}%"
            click.echo(
                f"seed {config.seed}: {status} nodes={config.nodes} faults={config.faults} "
                f"byzantine={bad}/{config.strategy} height={outcome.min_height} "
                f"virtual={outcome.virtual_ms} ms events={outcome.events} "
                f"max-byzantine-share={outcome.max_byzantine_share:.3f} "
                f"defects={outcome.defects}"
            )

    summary = run_campaign(spec, range(first, first + count), jobs=jobs, on_outcome=report)
    click.echo(summary.describe())
    if not summary.ok:
        raise SystemExit(1)
