"""The typed errors of the wallet.

Each is a `TimecoinError` with a fixed reject code, so the CLI and RPC can
report them without parsing messages. They describe bad input (a wrong
password, a damaged file, a payment the coins cannot cover), never our own
bugs, which stay `AssertionError`s.
"""

from __future__ import annotations

from typing import ClassVar

from timecoin.types import TimecoinError


class WalletError(TimecoinError):
    """Base of every wallet error."""

    code: ClassVar[str] = "wallet-error"

    def __init__(self, message: str) -> None:
        super().__init__(self.code, message)


class WrongPasswordError(WalletError):
    """The password does not decrypt the key file (the file is intact)."""

    code = "wrong-password"


class WalletFileCorruptError(WalletError):
    """The key file is truncated, damaged or not a TimeCoin wallet file."""

    code = "wallet-file-corrupt"


class WalletExistsError(WalletError):
    """Creating a wallet would overwrite an existing key file or journal."""

    code = "wallet-exists"


class WalletNotFoundError(WalletError):
    """No key file at the given path."""

    code = "wallet-not-found"


class WalletLockedError(WalletError):
    """Another process (or another open handle) is using this wallet."""

    code = "wallet-locked"


class WalletClosedError(WalletError):
    """The wallet was closed; open it again."""

    code = "wallet-closed"


class NetworkMismatchError(WalletError):
    """The wallet belongs to another network than the one requested."""

    code = "network-mismatch"


class JournalCorruptError(WalletError):
    """The spend journal is damaged; signing is refused until it is repaired."""

    code = "journal-corrupt"


class JournalMissingError(WalletError):
    """The key file has no spend journal next to it.

    Without the journal the wallet cannot know which coins it already signed
    away, so it refuses to open unless told to start a new one.
    """

    code = "journal-missing"


class JournalWriteError(WalletError):
    """Writing the spend journal failed; the wallet signs nothing more until reopened."""

    code = "journal-write-failed"


class KeyLimitError(WalletError):
    """The wallet already holds the maximum number of derived keys."""

    code = "key-limit"


class NotMineError(WalletError):
    """A coin or address that none of the wallet's keys controls."""

    code = "not-mine"


class UnknownTransactionError(WalletError):
    """A txid that is not among the wallet's pending transactions."""

    code = "unknown-transaction"


class CoinAlreadySignedError(WalletError):
    """A coin another pending transaction of the wallet already spends:
    signing a second spend of it could lock it forever."""

    code = "coin-already-signed"


class InvalidPaymentError(WalletError):
    """A payment amount or address that no valid transaction can carry."""

    code = "invalid-payment"


class TransactionTooLargeError(WalletError):
    """The payment needs more inputs than one transaction may hold."""

    code = "transaction-too-large"


class InsufficientFundsError(WalletError):
    """The spendable coins do not cover the amount plus the fee.

    `needed_units` is the amount plus the fee estimated for the attempted
    transaction, `available_units` the total of the coins selection could
    use, and `locked_units` the total held by transactions signed but not yet
    known spent (excluded from `available_units`).
    """

    code = "insufficient-funds"

    def __init__(self, needed_units: int, available_units: int, locked_units: int = 0) -> None:
        self.needed_units = needed_units
        self.available_units = available_units
        self.locked_units = locked_units
        message = f"need {needed_units} units (amount + fee), spendable {available_units}"
        if locked_units:
            message += f", {locked_units} more locked by pending transactions"
        super().__init__(message)
