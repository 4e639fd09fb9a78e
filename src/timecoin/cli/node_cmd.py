"""`timecoin node`: run a node in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from timecoin.crypto import configure_parallel_verification
from timecoin.node.config import ConfigError, load_config
from timecoin.node.node import run_node
from timecoin.p2p import install_uvloop


@click.command("node")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="TOML config file (every field optional; see docs/node.md).",
)
@click.option(
    "--datadir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("timecoin-data"),
    show_default=True,
    help="Data directory (chain store, keys, cookie).",
)
@click.option(
    "--reindex",
    "reindex_all",
    is_flag=True,
    help="Rebuild the chain state and the indexes from the stored blocks, "
    "with full validation, then run (resumed after a crash).",
)
@click.option(
    "--reindex-chainstate",
    is_flag=True,
    help="Rebuild the chain state (coins, registry, locks) from the stored "
    "blocks, with full validation, then run (resumed after a crash).",
)
def node_cmd(
    config_path: Path | None, datadir: Path, reindex_all: bool, reindex_chainstate: bool
) -> None:
    """Run a TimeCoin node."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    datadir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_uvloop()
    configure_parallel_verification()
    reindex = "--reindex" if reindex_all else "--reindex-chainstate" if reindex_chainstate else None
    status = asyncio.run(run_node(config, datadir, reindex=reindex))
    if status != 0:
        sys.exit(status)
