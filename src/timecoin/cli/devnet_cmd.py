"""`timecoin devnet`: a local devnet data directory with a funded wallet.

Until the network exists this creates (once) a data directory holding the
devnet genesis block in an LMDB chain store and a wallet that genesis funds,
then prints the wallet's balance. Running it again reuses what is there.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from timecoin.chain import GenesisSpec, build_genesis_state, chain_state_from_genesis
from timecoin.cli.common import CHAIN_DIRNAME, format_amount
from timecoin.params import COIN, DEVNET
from timecoin.storage.chainstate import init_genesis_state
from timecoin.storage.chainstore import ChainStore
from timecoin.storage.lmdb_store import LmdbStore
from timecoin.wallet import Wallet, WalletError

DEVNET_GENESIS_TIMESTAMP_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DEVNET_ALLOCATION = 1_000_000 * COIN
WALLET_FILENAME = "wallet.json"
PASSWORD_FILENAME = "wallet.password"  # noqa: S105 (a file name)


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
                spec = GenesisSpec(
                    params=DEVNET,
                    timestamp_ms=DEVNET_GENESIS_TIMESTAMP_MS,
                    allocations=((funded, DEVNET_ALLOCATION),),
                )
                genesis = build_genesis_state(spec)
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
        finally:
            kv.close()
