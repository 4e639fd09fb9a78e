"""`timecoin wallet ...`: offline wallet commands."""

from __future__ import annotations

from pathlib import Path

import click

from timecoin.cli.common import (
    format_amount,
    open_chain,
    params_for,
    parse_amount,
    read_password,
)
from timecoin.encoding import encode
from timecoin.types import TimecoinError, compute_txid
from timecoin.wallet import Wallet, WalletError

WALLET_OPT = click.option(
    "--wallet", "wallet_path", type=click.Path(path_type=Path), required=True, help="Key file."
)
PASSWORD_OPT = click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Read the password from this file (else $TIMECOIN_WALLET_PASSWORD, else a prompt).",
)


def _open(wallet_path: Path, password_file: Path | None, network: str) -> Wallet:
    password = read_password(password_file, confirm=False)
    try:
        return Wallet.open(wallet_path, password, params_for(network))
    except WalletError as exc:
        raise click.ClickException(exc.message) from None


@click.group("wallet")
def wallet_group() -> None:
    """Create and use an encrypted wallet file (offline)."""


@wallet_group.command("create")
@WALLET_OPT
@PASSWORD_OPT
@click.pass_context
def create_cmd(ctx: click.Context, wallet_path: Path, password_file: Path | None) -> None:
    """Create a new wallet and print its first address."""
    network: str = ctx.obj["network"]
    password = read_password(password_file, confirm=True)
    try:
        with Wallet.create(wallet_path, password, params_for(network)) as wallet:
            click.echo(wallet.encode_address(wallet.new_address()))
    except WalletError as exc:
        raise click.ClickException(exc.message) from None


@wallet_group.command("address")
@WALLET_OPT
@PASSWORD_OPT
@click.pass_context
def address_cmd(ctx: click.Context, wallet_path: Path, password_file: Path | None) -> None:
    """Derive and print a new receiving address."""
    with _open(wallet_path, password_file, ctx.obj["network"]) as wallet:
        try:
            click.echo(wallet.encode_address(wallet.new_address()))
        except WalletError as exc:
            raise click.ClickException(exc.message) from None


@wallet_group.command("addresses")
@WALLET_OPT
@PASSWORD_OPT
@click.pass_context
def addresses_cmd(ctx: click.Context, wallet_path: Path, password_file: Path | None) -> None:
    """List the wallet's addresses."""
    with _open(wallet_path, password_file, ctx.obj["network"]) as wallet:
        for address in wallet.addresses():
            click.echo(wallet.encode_address(address))


@wallet_group.command("balance")
@WALLET_OPT
@PASSWORD_OPT
@click.option("--datadir", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.pass_context
def balance_cmd(
    ctx: click.Context, wallet_path: Path, password_file: Path | None, datadir: Path
) -> None:
    """Print the balance of the wallet's coins in the local chain."""
    kv, chain = open_chain(datadir)
    try:
        with _open(wallet_path, password_file, ctx.obj["network"]) as wallet:
            wallet.scan(chain.iter_utxos())
            click.echo(f"balance:   {format_amount(wallet.balance())} TIME")
            click.echo(f"spendable: {format_amount(wallet.spendable_balance())} TIME")
    finally:
        kv.close()


@wallet_group.command("send")
@WALLET_OPT
@PASSWORD_OPT
@click.option("--datadir", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.argument("address")
@click.argument("amount")
@click.pass_context
def send_cmd(
    ctx: click.Context,
    wallet_path: Path,
    password_file: Path | None,
    datadir: Path,
    address: str,
    amount: str,
) -> None:
    """Build and sign a payment of AMOUNT TIME to ADDRESS; print txid and hex.

    The spent coins are marked in the wallet's journal before the transaction
    is printed, and are never spent again by this wallet.
    """
    units = parse_amount(amount)
    kv, chain = open_chain(datadir)
    try:
        with _open(wallet_path, password_file, ctx.obj["network"]) as wallet:
            wallet.scan(chain.iter_utxos())
            try:
                tx = wallet.build_and_sign(address, units)
            except TimecoinError as exc:
                raise click.ClickException(exc.message) from None
            click.echo(f"txid: {compute_txid(tx).hex()}")
            click.echo(f"hex:  {encode(tx).hex()}")
    finally:
        kv.close()
