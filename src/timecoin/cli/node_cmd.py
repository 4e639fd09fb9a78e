"""`timecoin node`: run a node in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from timecoin.cli.common import CHAIN_DIRNAME
from timecoin.crypto import configure_parallel_verification
from timecoin.encoding import DecodeError, decode
from timecoin.node.config import (
    ConfigError,
    NodeConfig,
    apply_overrides,
    default_datadir,
    load_config,
)
from timecoin.node.node import run_node
from timecoin.p2p import install_uvloop
from timecoin.params import PRESETS
from timecoin.storage import StorageError
from timecoin.storage.chainstore import ChainStore
from timecoin.storage.lmdb_store import LmdbStore
from timecoin.types import Block, compute_block_hash

CONFIG_FILENAME = "node.toml"
DEFAULT_NETWORK = "devnet"
MAX_GENESIS_BYTES = 16_000_000


@click.command("node")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="TOML config file (every field optional; see docs/node.md)  "
    "[default: DATADIR/node.toml when it exists]",
)
@click.option(
    "--datadir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Data directory (chain store, keys, cookie)  [default: ~/.timecoin/NETWORK]",
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
@click.option(
    "--network",
    "network",
    type=click.Choice(sorted(PRESETS)),
    default=None,
    help="Chain parameters preset (overrides the config's `network`).",
)
@click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The network's genesis block (overrides the config's `genesis_file`).",
)
@click.option(
    "--seed",
    "seeds",
    multiple=True,
    help="A peer to dial, HOST:PORT (repeatable; added to the config's seeds).",
)
@click.pass_context
def node_cmd(
    ctx: click.Context,
    config_path: Path | None,
    datadir: Path | None,
    network: str | None,
    genesis_file: Path | None,
    seeds: tuple[str, ...],
    reindex_all: bool,
    reindex_chainstate: bool,
) -> None:
    """Run a TimeCoin node."""
    network = network or _explicit_top_level_network(ctx)
    if datadir is None:
        datadir = default_datadir(network or DEFAULT_NETWORK)
    if config_path is None and (datadir / CONFIG_FILENAME).is_file():
        config_path = datadir / CONFIG_FILENAME
    try:
        config = apply_overrides(
            load_config(config_path),
            network=network,
            genesis_file=None if genesis_file is None else genesis_file.absolute(),
            seeds=seeds,
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    _check_genesis_available(config, datadir)
    _check_genesis_matches_store(config, datadir)
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


def _explicit_top_level_network(ctx: click.Context) -> str | None:
    """`timecoin --network NAME node`: the name when given on the command line."""
    parent = ctx.parent
    if parent is None:
        return None
    source = parent.get_parameter_source("network")
    if source is None or source == click.core.ParameterSource.DEFAULT:
        return None
    value = parent.params.get("network")
    return value if isinstance(value, str) else None


def _check_genesis_available(config: NodeConfig, datadir: Path) -> None:
    """Fail before creating anything when a new node has no genesis block."""
    if (datadir / CHAIN_DIRNAME).exists():
        return
    genesis = config.resolve(datadir).genesis_file
    if genesis.is_file():
        return
    raise click.ClickException(
        f"no genesis block at {genesis}: a new {config.network} node needs the genesis "
        "file of the network it joins. Get it from the network's operators and check its "
        "hash (`timecoin genesis show FILE`), then pass --genesis FILE or set genesis_file "
        "in node.toml. To launch a new network, build one with `timecoin genesis new`; "
        "for a local test network, run `timecoin testnet`. Nothing was created."
    )


def _check_genesis_matches_store(config: NodeConfig, datadir: Path) -> None:
    """Fail when the genesis file is not the genesis of the existing chain store."""
    chain_dir = datadir / CHAIN_DIRNAME
    genesis = config.resolve(datadir).genesis_file
    if not chain_dir.is_dir() or not genesis.is_file():
        return
    try:
        block = decode(genesis.read_bytes(), Block, MAX_GENESIS_BYTES)
    except (OSError, DecodeError) as exc:
        raise click.ClickException(f"{genesis}: not a genesis block: {exc}") from None
    file_hash = compute_block_hash(block.header)
    try:
        kv = LmdbStore(str(chain_dir))
        try:
            stored_hash = ChainStore(kv).get_genesis_hash()
        finally:
            kv.close()
    except StorageError:
        return  # an unreadable store: the node's start says what is wrong with it
    if stored_hash is not None and stored_hash != file_hash:
        raise click.ClickException(
            f"{genesis} is genesis {file_hash.hex()}, but the chain store in {chain_dir} "
            f"belongs to genesis {stored_hash.hex()}: use the data directory of that "
            f"network, or move {chain_dir} away to start this one"
        )
