"""Shared helpers of the wallet tests: fast KDF parameters and funded wallets."""

from __future__ import annotations

from pathlib import Path

from timecoin.crypto import sha256
from timecoin.params import MINIMAL, ChainParams
from timecoin.types import Coin, OutPoint
from timecoin.wallet import KdfParams, Wallet

FAST_KDF = KdfParams(opslimit=1, memlimit_bytes=8192)
"""The cheapest Argon2id libsodium accepts: for tests only."""

PASSWORD = "correct horse battery staple"
PARAMS: ChainParams = MINIMAL
MASTER_SEED = bytes(range(32))


def make_outpoint(n: int, index: int = 0) -> OutPoint:
    """A distinct, deterministic outpoint."""
    return OutPoint(sha256(b"test-outpoint" + n.to_bytes(8, "big")), index)


def create_wallet(directory: Path, *, master_seed: bytes | None = MASTER_SEED) -> Wallet:
    """A new wallet in `directory` with fast KDF parameters."""
    return Wallet.create(
        directory / "wallet.json", PASSWORD, PARAMS, kdf=FAST_KDF, master_seed=master_seed
    )


def open_wallet(directory: Path) -> Wallet:
    """Reopen the wallet `create_wallet` made in `directory`."""
    return Wallet.open(directory / "wallet.json", PASSWORD, PARAMS)


def fund(wallet: Wallet, amounts: list[int], *, start: int = 0) -> list[tuple[OutPoint, Coin]]:
    """Give `wallet` one coin per amount, paying its first address."""
    address = wallet.addresses()[0]
    coins = [
        (make_outpoint(start + i), Coin(amount, address, 1)) for i, amount in enumerate(amounts)
    ]
    for outpoint, coin in coins:
        wallet.add_coin(outpoint, coin)
    return coins
