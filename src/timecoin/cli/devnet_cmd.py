"""`timecoin devnet`: a one-node devnet data directory with a funded wallet.

This creates (once) a data directory holding an operator key, a devnet
genesis block in which that key is the only (Bronze) masternode and a
wallet is funded, the same block in an LMDB chain store, and a `node.toml`
serving the wallet; then it prints the wallet's balance. `timecoin node
--datadir DIR` runs the chain (one masternode: it alone is the quorum).
Running it again reuses what is there.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from timecoin.chain import (
    GenesisMasternode,
    GenesisSpec,
    build_genesis_state,
    chain_state_from_genesis,
)
from timecoin.cli.common import CHAIN_DIRNAME, format_amount
from timecoin.encoding import encode
from timecoin.node.keys import load_or_create_key
from timecoin.params import COIN, DEVNET, Tier
from timecoin.storage.chainstate import init_genesis_state
from timecoin.storage.chainstore import ChainStore
from timecoin.storage.lmdb_store import LmdbStore
from timecoin.wallet import Wallet, WalletError

DEVNET_GENESIS_TIMESTAMP_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DEVNET_ALLOCATION = 1_000_000 * COIN
WALLET_FILENAME = "wallet.json"
PASSWORD_FILENAME = "wallet.password"  # noqa: S105 (a file name)
OPERATOR_KEY_FILENAME = "operator.key"
GENESIS_FILENAME = "genesis.block"
CONFIG_FILENAME = "node.toml"


def _write_node_config(datadir: Path) -> None:
    """A node.toml that runs this devnet and serves its wallet (never overwritten)."""
    path = datadir / CONFIG_FILENAME
    if path.exists():
        return
    path.write_text(
        'network = "devnet"\n'
        f'genesis_file = "{GENESIS_FILENAME}"\n'
        f'wallet_file = "{WALLET_FILENAME}"\n'
        f'wallet_password_file = "{PASSWORD_FILENAME}"\n',
        encoding="utf-8",
    )


def _devnet_password(datadir: Path) -> str:
    """The devnet wallet's password, generated once and kept beside it (mode 0600).

    A devnet holds no value; keeping the password in the data directory lets
    `make run` work without a prompt. Never do this for a real wallet.
    """
    path = datadir / PASSWORD_FILENAME
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(password + "\n", encoding="utf-8")
    return password


def _open_or_create_wallet(datadir: Path, password: str) -> tuple[Wallet, bool]:
    path = datadir / WALLET_FILENAME
    if path.exists():
        return Wallet.open(path, password, DEVNET), False
    wallet = Wallet.create(path, password, DEVNET)
    wallet.new_address()
    return wallet, True


@click.command("devnet")
@click.option(
    "--datadir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("devnet"),
    show_default=True,
)
def devnet_cmd(datadir: Path) -> None:
    """Create (or reuse) a devnet data directory with a genesis block and a funded wallet."""
    datadir.mkdir(parents=True, exist_ok=True)
    try:
        wallet, created = _open_or_create_wallet(datadir, _devnet_password(datadir))
    except WalletError as exc:
        raise click.ClickException(exc.message) from None
    with wallet:
        funded = wallet.addresses()[0]
        kv = LmdbStore(str(datadir / CHAIN_DIRNAME))
        try:
            chain = ChainStore(kv)
            tip = chain.get_tip()
            if tip is None:
                operator = load_or_create_key(datadir / OPERATOR_KEY_FILENAME).public_key
                spec = GenesisSpec(
                    params=DEVNET,
                    timestamp_ms=DEVNET_GENESIS_TIMESTAMP_MS,
                    allocations=((funded, DEVNET_ALLOCATION),),
                    masternodes=(GenesisMasternode(Tier.BRONZE, operator, operator, funded, b""),),
                )
                genesis = build_genesis_state(spec)
                (datadir / GENESIS_FILENAME).write_bytes(encode(genesis.block))
                _write_node_config(datadir)
                state, delta = chain_state_from_genesis(genesis.block, DEVNET)
                init_genesis_state(chain, genesis.block, state, delta)
                tip = chain.get_tip()
            if tip is None:
                raise click.ClickException("the chain store has no tip after genesis")
            wallet.scan(chain.iter_utxos())
            click.echo(f"datadir:      {datadir}")
            click.echo(f"network:      {DEVNET.name} (chain id {DEVNET.chain_id:#x})")
            click.echo(f"chain tip:    height {tip.height} {tip.block_hash.hex()}")
            click.echo(f"utxos:        {chain.utxo_count()}")
            click.echo(f"wallet:       {datadir / WALLET_FILENAME}{' (new)' if created else ''}")
            click.echo(f"address:      {wallet.encode_address(funded)}")
            click.echo(f"balance:      {format_amount(wallet.balance())} TIME")
            click.echo(f"run it with:  timecoin node --datadir {datadir}")
        finally:
            kv.close()
