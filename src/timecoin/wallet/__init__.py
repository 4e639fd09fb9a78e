"""The user's wallet: encrypted keys, owned coins, coin selection and signing.

`Wallet` is the entry point (create or open a wallet file, new address,
balances, build and sign). The spec is docs/spec/wallet.md.
"""

from timecoin.wallet.coinselect import (
    DEFAULT_FEE_POLICY,
    FeePolicy,
    Selection,
    compute_required_fee,
    compute_signed_size,
    select_coins,
)
from timecoin.wallet.errors import (
    InsufficientFundsError,
    InvalidPaymentError,
    JournalCorruptError,
    JournalMissingError,
    JournalWriteError,
    KeyLimitError,
    NetworkMismatchError,
    NotMineError,
    TransactionTooLargeError,
    UnknownTransactionError,
    WalletClosedError,
    WalletError,
    WalletExistsError,
    WalletFileCorruptError,
    WalletLockedError,
    WalletNotFoundError,
    WrongPasswordError,
)
from timecoin.wallet.keyfile import DEFAULT_KDF, KdfParams, KeyFile
from timecoin.wallet.keys import (
    DERIVATION_TAG,
    MAX_KEYS,
    KeyRing,
    WalletKey,
    compute_fingerprint,
    compute_key_seed,
    derive_key,
    generate_master_seed,
)
from timecoin.wallet.wallet import Wallet

__all__ = [
    "DEFAULT_FEE_POLICY",
    "DEFAULT_KDF",
    "DERIVATION_TAG",
    "MAX_KEYS",
    "FeePolicy",
    "InsufficientFundsError",
    "InvalidPaymentError",
    "JournalCorruptError",
    "JournalMissingError",
    "JournalWriteError",
    "KdfParams",
    "KeyFile",
    "KeyLimitError",
    "KeyRing",
    "NetworkMismatchError",
    "NotMineError",
    "Selection",
    "TransactionTooLargeError",
    "UnknownTransactionError",
    "Wallet",
    "WalletClosedError",
    "WalletError",
    "WalletExistsError",
    "WalletFileCorruptError",
    "WalletKey",
    "WalletLockedError",
    "WalletNotFoundError",
    "WrongPasswordError",
    "compute_fingerprint",
    "compute_key_seed",
    "compute_required_fee",
    "compute_signed_size",
    "derive_key",
    "generate_master_seed",
    "select_coins",
]
