"""Helpers shared by the subcommands: networks, passwords, data directories."""

from __future__ import annotations

import os
from pathlib import Path

import click

from timecoin.params import PRESETS, ChainParams, get_preset
from timecoin.storage.chainstore import ChainStore
from timecoin.storage.lmdb_store import LmdbStore

PASSWORD_ENV = "TIMECOIN_WALLET_PASSWORD"  # noqa: S105 (a variable name)
CHAIN_DIRNAME = "chain"


def network_option() -> click.Option:
    """`--network NAME` with the presets as choices."""
    return click.Option(
        ["--network"],
        type=click.Choice(sorted(PRESETS)),
        default="devnet",
        show_default=True,
        help="Chain parameters preset.",
    )


def params_for(network: str) -> ChainParams:
    """The preset named `network` (click has already validated the name)."""
    return get_preset(network)


def read_password(password_file: Path | None, *, confirm: bool) -> str:
    """The wallet password: from a file, the environment, or a prompt."""
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise click.ClickException(
                f"cannot read password file {password_file}: {exc}"
            ) from None
    env = os.environ.get(PASSWORD_ENV)
    if env is not None:
        return env
    value: str = click.prompt(
        "Wallet password", hide_input=True, confirmation_prompt=confirm, err=True
    )
    return value


def open_chain(datadir: Path) -> tuple[LmdbStore, ChainStore]:
    """Open the chain store of `datadir`; a clear error if there is none."""
    path = datadir / CHAIN_DIRNAME
    if not path.is_dir():
        raise click.ClickException(
            f"no chain in {datadir}: run `timecoin devnet --datadir {datadir}`"
        )
    kv = LmdbStore(str(path))
    return kv, ChainStore(kv)


def format_amount(units: int) -> str:
    """Base units as a decimal TIME amount with 8 places."""
    whole, frac = divmod(units, 100_000_000)
    return f"{whole}.{frac:08d}"


def parse_amount(text: str) -> int:
    """A decimal TIME amount ("12.5") as base units; ClickException if malformed."""
    whole, _, frac = text.strip().partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 8:
        raise click.ClickException(
            f"invalid amount {text!r}: expected TIME with at most 8 decimals"
        )
    return int(whole) * 100_000_000 + int(frac.ljust(8, "0") or 0)
