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
def node_cmd(config_path: Path | None, datadir: Path) -> None:
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
    status = asyncio.run(run_node(config, datadir))
    if status != 0:
        sys.exit(status)
