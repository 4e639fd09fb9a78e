"""The wallet: keys, owned coins, and signing that never double-spends.

A `Wallet` is three files side by side: the encrypted key file
(`wallet.json`, keyfile), the spend journal (`wallet.json.journal`,
journal) and a lock file (`wallet.json.lock`) that keeps a second process
or handle out while the wallet is open.

Coins come from the caller (the node or RPC client feeding the UTXOs it
sees): `add_coin`, `scan`, and `remove_coin` once a coin is spent on chain.
The wallet does not store them.

The safety rule (docs/spec/wallet.md): `build_and_sign` writes the inputs
of each transaction it signs to the journal, fsynced, before it returns the
transaction, and it never signs another transaction spending any of them:
not from another thread (one lock serializes selection, signing and the
journal write), and not after a restart (the journal is replayed on open).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import msgspec

from timecoin.crypto import AddressError, address_from_public_key, decode_address, encode_address
from timecoin.ledger import (
    MemoryUtxoSet,
    check_transaction,
    compute_input_signing_message,
    compute_owner_signing_message,
    compute_tx_size,
    validate_transaction,
)
from timecoin.params import ChainParams
from timecoin.types import (
    TX_VERSION,
    Coin,
    OutPoint,
    Payload,
    Transaction,
    TxInput,
    TxOutput,
    compute_txid,
)
from timecoin.wallet.coinselect import DEFAULT_FEE_POLICY, FeePolicy, Selection, select_coins
from timecoin.wallet.errors import (
    CoinAlreadySignedError,
    InsufficientFundsError,
    InvalidPaymentError,
    JournalMissingError,
    KeyLimitError,
    NetworkMismatchError,
    NotMineError,
    UnknownTransactionError,
    WalletClosedError,
    WalletExistsError,
    WalletLockedError,
    WalletNotFoundError,
)
from timecoin.wallet.fileio import ExclusiveLock, create_file_atomic, read_file_limited
from timecoin.wallet.journal import Journal, journal_path_for, lock_path_for
from timecoin.wallet.keyfile import DEFAULT_KDF, KdfParams, KeyFile
from timecoin.wallet.keys import KeyRing, WalletKey, compute_fingerprint

ADDRESS_BYTES = 20
MAX_BACKUP_FILE_BYTES = 64 << 20
"""Largest key file or journal `backup` copies (both are far smaller)."""
PLACEHOLDER_PUBLIC_KEY = bytes(32)
"""The public key of an input not yet signed (`sign_transaction` fills it in)."""
PLACEHOLDER_SIGNATURE = bytes(64)
"""The signature slot of an input `sign_transaction` could not sign."""


@dataclass(frozen=True, slots=True)
class FundedTransaction:
    """`fund_transaction`'s result: the transaction with its inputs and change
    (unsigned), the fee it pays and the change output's index (-1: none)."""

    tx: Transaction
    fee_units: int
    change_index: int


@dataclass(frozen=True, slots=True)
class SignOutcome:
    """`sign_transaction`'s result: the transaction with every input the
    wallet could sign signed, and per input it could not, its index and why."""

    tx: Transaction
    errors: tuple[tuple[int, str], ...]

    @property
    def is_complete(self) -> bool:
        """True when every input is signed."""
        return not self.errors


def _acquire_lock(key_path: Path) -> ExclusiveLock:
    lock = ExclusiveLock(lock_path_for(key_path))
    if not lock.try_acquire():
        raise WalletLockedError(f"{key_path}: the wallet is open in another process or handle")
    return lock


class Wallet:
    """An open wallet. Every method is thread-safe."""

    def __init__(
        self,
        keyfile: KeyFile,
        keyring: KeyRing,
        journal: Journal,
        lock: ExclusiveLock,
        params: ChainParams,
    ) -> None:
        """Use `create` or `open`."""
        self._keyfile = keyfile
        self._keyring = keyring
        self._journal = journal
        self._file_lock = lock
        self._params = params
        self._fingerprint = compute_fingerprint(keyfile.master_seed)
        self._coins: dict[OutPoint, Coin] = {}
        self._lock = threading.RLock()
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def create(
        cls,
        path: str | Path,
        password: str | bytes,
        params: ChainParams,
        *,
        kdf: KdfParams = DEFAULT_KDF,
        master_seed: bytes | None = None,
    ) -> Wallet:
        """Create a wallet for `params`' network at `path`, with an empty journal.

        A fresh random master seed unless `master_seed` (32 bytes, e.g. a
        restore) is given. Raises WalletExistsError if the key file or its
        journal exists, WalletLockedError if another handle holds the lock.
        """
        path = Path(path)
        lock = _acquire_lock(path)
        try:
            journal_path = journal_path_for(path)
            for existing in (path, journal_path):
                if existing.exists():
                    raise WalletExistsError(f"{existing}: already exists; not overwriting")
            keyfile = KeyFile.create(path, password, params.name, kdf=kdf, master_seed=master_seed)
            keyring = KeyRing(keyfile.master_seed, keyfile.key_count)
            fingerprint = compute_fingerprint(keyfile.master_seed)
            journal = Journal.create(journal_path, params.name, fingerprint)
        except BaseException:
            lock.release()
            raise
        return cls(keyfile, keyring, journal, lock, params)

    @classmethod
    def open(
        cls,
        path: str | Path,
        password: str | bytes,
        params: ChainParams,
        *,
        create_missing_journal: bool = False,
    ) -> Wallet:
        """Open the wallet at `path` for `params`' network and replay its journal.

        Raises WalletNotFoundError, WrongPasswordError,
        WalletFileCorruptError, NetworkMismatchError, WalletLockedError,
        JournalCorruptError, or JournalMissingError when the journal is
        absent: without it the wallet cannot know which coins it already
        signed away. Pass `create_missing_journal=True` only when no
        transaction signed by a copy of this wallet can still be pending.
        """
        path = Path(path)
        if not path.is_file():
            raise WalletNotFoundError(f"{path}: no wallet file")
        lock = _acquire_lock(path)
        try:
            keyfile = KeyFile.open(path, password)
            if keyfile.network != params.name:
                raise NetworkMismatchError(
                    f"{path}: a {keyfile.network!r} wallet, but the network is {params.name!r}"
                )
            keyring = KeyRing(keyfile.master_seed, keyfile.key_count)
            fingerprint = compute_fingerprint(keyfile.master_seed)
            journal_path = journal_path_for(path)
            try:
                journal = Journal.open(journal_path, params.name, fingerprint)
            except FileNotFoundError:
                if not create_missing_journal:
                    raise JournalMissingError(
                        f"{journal_path}: missing. Without it the wallet could sign a second "
                        "spend of a coin already signed away, which locks that coin forever. "
                        "Restore the journal, or start a new one only if no transaction from "
                        "this wallet can still be pending"
                    ) from None
                journal = Journal.create(journal_path, params.name, fingerprint)
        except BaseException:
            lock.release()
            raise
        return cls(keyfile, keyring, journal, lock, params)

    def close(self) -> None:
        """Close the journal and release the lock (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._journal.close()
            self._file_lock.release()

    def __enter__(self) -> Wallet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise WalletClosedError(f"{self._keyfile.path}: the wallet is closed")

    # ------------------------------------------------------------------ facts

    @property
    def params(self) -> ChainParams:
        """The chain parameters the wallet signs for."""
        return self._params

    @property
    def path(self) -> Path:
        """The key file's path."""
        return self._keyfile.path

    @property
    def fingerprint(self) -> str:
        """The wallet's short public identifier (16 hex digits)."""
        return self._fingerprint

    @property
    def journal_torn_bytes_dropped(self) -> int:
        """Bytes of a crash-torn final journal append dropped on open (usually 0)."""
        return self._journal.torn_bytes_dropped

    # ------------------------------------------------------------------ keys and addresses

    def addresses(self) -> list[bytes]:
        """Every address of the wallet (20 bytes each), in derivation order."""
        with self._lock:
            return self._keyring.addresses()

    def encode_address(self, address: bytes) -> str:
        """`address` as the network's human-readable address string."""
        return encode_address(self._params.address_hrp, address)

    def new_address(self) -> bytes:
        """Derive the next key, save the key file, and return its 20-byte address.

        The file is saved before the address is returned, so coins sent to it
        are recognised after a restart. Raises KeyLimitError at MAX_KEYS.
        """
        with self._lock:
            self._check_open()
            try:
                key = self._keyring.peek_next()
            except ValueError as exc:
                raise KeyLimitError(str(exc)) from None
            self._keyfile.save_key_count(self._keyring.count + 1)
            derived = self._keyring.derive_next()
            assert derived.address == key.address
            return key.address

    def is_mine(self, address: bytes) -> bool:
        """True when one of the wallet's keys controls `address`."""
        with self._lock:
            return self._keyring.key_for_address(address) is not None

    def _parse_address(self, address: bytes | str) -> bytes:
        if isinstance(address, str):
            try:
                return decode_address(address, self._params.address_hrp)
            except AddressError as exc:
                raise InvalidPaymentError(f"address {address!r:.100}: {exc}") from None
        if len(address) != ADDRESS_BYTES:
            raise InvalidPaymentError(f"address: expected 20 bytes, got {len(address)}")
        return bytes(address)

    # ------------------------------------------------------------------ coins

    def add_coin(self, outpoint: OutPoint, coin: Coin) -> None:
        """Add an unspent coin paying one of the wallet's addresses.

        Raises NotMineError for a coin paying any other address.
        """
        with self._lock:
            self._check_open()
            if self._keyring.key_for_address(coin.address) is None:
                raise NotMineError(
                    f"coin {outpoint.txid.hex()}:{outpoint.index} pays "
                    f"{coin.address.hex()}, not an address of this wallet"
                )
            self._coins[outpoint] = coin

    def scan(self, utxos: Iterable[tuple[OutPoint, Coin]]) -> int:
        """Add every coin of `utxos` that pays one of the wallet's addresses.

        Returns how many coins were new. Coins already known are kept; coins
        paying other addresses are skipped.
        """
        added = 0
        with self._lock:
            self._check_open()
            for outpoint, coin in utxos:
                if outpoint in self._coins:
                    continue
                if self._keyring.key_for_address(coin.address) is not None:
                    self._coins[outpoint] = coin
                    added += 1
        return added

    def remove_coin(self, outpoint: OutPoint) -> None:
        """Forget a coin that was spent on chain (see `remove_coins`)."""
        self.remove_coins([outpoint])

    def remove_coins(self, outpoints: Iterable[OutPoint]) -> None:
        """Forget coins that were spent on chain or by a final transaction.

        A coin marked by a pending transaction is recorded as spent in the
        journal; once every input of that transaction is spent it is
        settled and forgotten. Call this only for spends the chain has
        committed or that are final (both irreversible): a coin removed here
        and added again is spendable again.
        """
        with self._lock:
            self._check_open()
            ops = list(dict.fromkeys(outpoints))
            marked = [op for op in ops if op in self._journal.marks.marks]
            if marked:
                self._journal.record_spent(marked)
            for op in ops:
                self._coins.pop(op, None)

    def coins(self) -> list[tuple[OutPoint, Coin]]:
        """Every known owned coin, marked or not, ordered by outpoint."""
        with self._lock:
            return sorted(self._coins.items(), key=lambda item: (item[0].txid, item[0].index))

    def is_marked(self, outpoint: OutPoint) -> bool:
        """True when a pending transaction signed by this wallet spends `outpoint`."""
        with self._lock:
            return outpoint in self._journal.marks.marks

    def balance(self) -> int:
        """Total of every known owned coin, including those of pending transactions."""
        with self._lock:
            return sum(coin.amount for coin in self._coins.values())

    def spendable_balance(self) -> int:
        """Total of the owned coins no pending transaction spends."""
        with self._lock:
            marks = self._journal.marks.marks
            return sum(coin.amount for op, coin in self._coins.items() if op not in marks)

    def locked_balance(self) -> int:
        """Total of the known coins that pending transactions spend."""
        with self._lock:
            marks = self._journal.marks.marks
            return sum(coin.amount for op, coin in self._coins.items() if op in marks)

    def pending_transactions(self) -> dict[bytes, frozenset[OutPoint]]:
        """Each signed, unsettled transaction's txid and the outpoints it spends."""
        with self._lock:
            return {txid: s.outpoints for txid, s in self._journal.marks.pending.items()}

    # ------------------------------------------------------------------ signing

    def build_and_sign(
        self,
        to_address: bytes | str,
        amount: int,
        fee_policy: FeePolicy | None = None,
        params: ChainParams | None = None,
        *,
        change_address: bytes | None = None,
        exclude: Collection[OutPoint] = (),
    ) -> Transaction:
        """Build, sign and journal a payment of `amount` units to `to_address`.

        `to_address` is 20 address bytes or an address string of the
        wallet's network. Coins come from `select_coins` over the unmarked
        coins outside `exclude` (the node passes its masternode collaterals,
        so a payment never deregisters a masternode by accident); change goes
        to `change_address` (one of the wallet's
        addresses; default key 0's). `params`, if given, must be the
        wallet's network. The spent coins are marked in the journal, durably,
        before the transaction is returned.

        Raises InvalidPaymentError, InsufficientFundsError (with amounts),
        TransactionTooLargeError, NotMineError (change address),
        NetworkMismatchError, JournalWriteError, WalletClosedError; and
        InvalidTransaction if the consensus checks, run on the result before
        it is journaled, reject it (a wallet bug: nothing is marked).
        """
        with self._lock:
            self._check_open()
            if params is not None and (
                params.chain_id != self._params.chain_id or params.name != self._params.name
            ):
                raise NetworkMismatchError(
                    f"wallet is for {self._params.name!r}, asked to sign for {params.name!r}"
                )
            self._journal.ensure_writable()
            recipient = self._parse_address(to_address)
            change_key = self._change_key(change_address)
            policy = DEFAULT_FEE_POLICY if fee_policy is None else fee_policy
            marks = self._journal.marks.marks
            candidates = [
                (op, coin)
                for op, coin in self._coins.items()
                if op not in marks and op not in exclude
            ]
            try:
                selection = select_coins(candidates, amount, policy, self._params)
            except InsufficientFundsError as exc:
                raise InsufficientFundsError(
                    exc.needed_units, exc.available_units, self.locked_balance()
                ) from None
            tx = self._sign(selection, recipient, change_key.address)
            txid = compute_txid(tx)
            spent = [op for op, _ in selection.inputs]
            # The no-double-sign invariant must hold even under `python -O`.
            if any(op in marks for op in spent):
                raise AssertionError("coin selection picked a coin already marked as spent")
            self._journal.record_sign(txid, spent)
            return tx

    def _change_key(self, change_address: bytes | None) -> WalletKey:
        if change_address is None:
            return self._keyring.key(0)
        key = self._keyring.key_for_address(change_address)
        if key is None:
            raise NotMineError(f"change address {change_address.hex()} is not this wallet's")
        return key

    def _sign(self, selection: Selection, recipient: bytes, change_address: bytes) -> Transaction:
        keys: list[WalletKey] = []
        for outpoint, coin in selection.inputs:
            key = self._keyring.key_for_address(coin.address)
            if key is None:
                raise AssertionError(f"coin {outpoint} of a foreign address was admitted")
            keys.append(key)
        outputs = [TxOutput(selection.amount, recipient)]
        if selection.change:
            outputs.append(TxOutput(selection.change, change_address))
        unsigned = Transaction(
            version=TX_VERSION,
            inputs=[
                TxInput(op, key.public_key)
                for (op, _), key in zip(selection.inputs, keys, strict=True)
            ],
            outputs=outputs,
            lock_time=0,
            payload=None,
            signatures=[],
            owner_signature=None,
        )
        txid = compute_txid(unsigned)
        chain_id = self._params.chain_id
        signatures = [
            key.signing_key.sign(compute_input_signing_message(chain_id, txid, index))
            for index, key in enumerate(keys)
        ]
        tx = msgspec.structs.replace(unsigned, signatures=signatures)
        # The consensus rules judge the result before anything is journaled or
        # released: a wallet bug must not lock coins in a transaction the
        # network would reject.
        size_bytes = compute_tx_size(tx)
        assert size_bytes <= selection.size_bytes, "fee estimated for a smaller size"
        check_transaction(tx, self._params, size_bytes=size_bytes)
        view = MemoryUtxoSet(dict(selection.inputs))
        validate_transaction(tx, txid, view, self._params, tx.lock_time, size_bytes=size_bytes)
        return tx

    def unmarked_coins(self, exclude: Collection[OutPoint] = ()) -> list[tuple[OutPoint, Coin]]:
        """The owned coins no pending transaction spends, outside `exclude`,
        ordered by outpoint."""
        with self._lock:
            marks = self._journal.marks.marks
            return [
                (op, coin) for op, coin in self.coins() if op not in marks and op not in exclude
            ]

    def new_public_key(self) -> bytes:
        """Derive the next key (as `new_address`) and return its public key."""
        with self._lock:
            address = self.new_address()
            key = self._keyring.key_for_address(address)
            if key is None:
                raise AssertionError("a derived key is missing from the key ring")
            return key.public_key

    def owns_public_key(self, public_key: bytes) -> bool:
        """True when `public_key` is one of the wallet's keys."""
        with self._lock:
            return self._keyring.key_for_address(address_from_public_key(public_key)) is not None

    def sign_and_journal(
        self,
        inputs: Sequence[tuple[OutPoint, Coin]],
        outputs: Sequence[TxOutput],
        payload: Payload | None = None,
        owner_public_key: bytes | None = None,
    ) -> Transaction:
        """Sign a transaction spending exactly `inputs` into `outputs` and
        journal its inputs, as `build_and_sign` does for a payment.

        `payload`, if given, is signed by `owner_public_key` (one of the
        wallet's keys) as the owner signature. The caller sized the fee; the
        consensus checks run on the result before anything is journaled.

        Raises NotMineError (an input or the owner key is not the wallet's),
        InvalidPaymentError (an input already spent by a pending transaction,
        or listed twice), JournalWriteError, WalletClosedError, and
        InvalidTransaction when the consensus checks reject the result.
        """
        with self._lock:
            self._check_open()
            self._journal.ensure_writable()
            marks = self._journal.marks.marks
            ordered = sorted(inputs, key=lambda item: (item[0].txid, item[0].index))
            if len({op for op, _ in ordered}) != len(ordered):
                raise InvalidPaymentError("inputs: an outpoint is listed twice")
            keys: list[WalletKey] = []
            for outpoint, coin in ordered:
                if outpoint in marks:
                    raise InvalidPaymentError(
                        f"coin {outpoint.txid.hex()}:{outpoint.index} is spent by a pending "
                        "transaction of this wallet"
                    )
                key = self._keyring.key_for_address(coin.address)
                if key is None:
                    raise NotMineError(
                        f"coin {outpoint.txid.hex()}:{outpoint.index} pays "
                        f"{coin.address.hex()}, not an address of this wallet"
                    )
                keys.append(key)
            owner_key: WalletKey | None = None
            if payload is not None:
                if owner_public_key is None:
                    raise ValueError("a payload transaction needs an owner key")
                owner_key = self._keyring.key_for_address(address_from_public_key(owner_public_key))
                if owner_key is None:
                    raise NotMineError(f"owner key {owner_public_key.hex()} is not this wallet's")
            unsigned = Transaction(
                version=TX_VERSION,
                inputs=[
                    TxInput(op, key.public_key) for (op, _), key in zip(ordered, keys, strict=True)
                ],
                outputs=list(outputs),
                lock_time=0,
                payload=payload,
                signatures=[],
                owner_signature=None,
            )
            txid = compute_txid(unsigned)
            chain_id = self._params.chain_id
            signatures = [
                key.signing_key.sign(compute_input_signing_message(chain_id, txid, index))
                for index, key in enumerate(keys)
            ]
            owner_signature = (
                None
                if owner_key is None
                else owner_key.signing_key.sign(compute_owner_signing_message(chain_id, txid))
            )
            tx = msgspec.structs.replace(
                unsigned, signatures=signatures, owner_signature=owner_signature
            )
            size_bytes = compute_tx_size(tx)
            check_transaction(tx, self._params, size_bytes=size_bytes)
            view = MemoryUtxoSet(dict(ordered))
            validate_transaction(tx, txid, view, self._params, tx.lock_time, size_bytes=size_bytes)
            self._journal.record_sign(txid, [op for op, _ in ordered])
            return tx

    def fund_transaction(
        self,
        outputs: Sequence[TxOutput],
        fee_policy: FeePolicy | None = None,
        *,
        change_address: bytes | None = None,
        lock_time: int = 0,
    ) -> FundedTransaction:
        """Add inputs from the unmarked coins and a change output to a
        transaction paying `outputs`; nothing is signed or journaled.

        The inputs carry the wallet's public keys (so the txid is fixed) and
        empty signatures; the change (if any, at or above the dust limit)
        goes last, to `change_address` (default key 0's). Raises
        InvalidPaymentError for no outputs or an output below the dust limit,
        InsufficientFundsError, TransactionTooLargeError, NotMineError.
        """
        with self._lock:
            self._check_open()
            if not outputs:
                raise InvalidPaymentError("the transaction has no outputs to fund")
            dust = max(self._params.dust_limit, 1)
            for index, output in enumerate(outputs):
                if output.amount < dust:
                    raise InvalidPaymentError(
                        f"output {index}: {output.amount} units, below the dust limit {dust}"
                    )
            total = sum(output.amount for output in outputs)
            change_key = self._change_key(change_address)
            policy = DEFAULT_FEE_POLICY if fee_policy is None else fee_policy
            marks = self._journal.marks.marks
            candidates = [(op, coin) for op, coin in self._coins.items() if op not in marks]
            try:
                selection = select_coins(
                    candidates, total, policy, self._params, extra_outputs=outputs[1:]
                )
            except InsufficientFundsError as exc:
                raise InsufficientFundsError(
                    exc.needed_units, exc.available_units, self.locked_balance()
                ) from None
            all_outputs = list(outputs)
            change_index = -1
            if selection.change:
                change_index = len(all_outputs)
                all_outputs.append(TxOutput(selection.change, change_key.address))
            inputs = []
            for outpoint, coin in selection.inputs:
                key = self._keyring.key_for_address(coin.address)
                if key is None:
                    raise AssertionError(f"coin {outpoint} of a foreign address was admitted")
                inputs.append(TxInput(outpoint, key.public_key))
            tx = Transaction(
                version=TX_VERSION,
                inputs=inputs,
                outputs=all_outputs,
                lock_time=lock_time,
                payload=None,
                signatures=[],
                owner_signature=None,
            )
            return FundedTransaction(tx, selection.fee, change_index)

    def sign_transaction(self, tx: Transaction) -> SignOutcome:
        """Sign every input of `tx` that spends a known coin of the wallet,
        journaling those coins first (as `build_and_sign` does).

        An input with the placeholder public key gets the key of its coin.
        Inputs the wallet cannot sign (unknown coin, another key) are listed
        in the outcome's `errors` and keep their signature slot (zeros). When
        an input of another owner still has no public key the txid is not
        fixed yet: nothing is signed or journaled. Signing the same
        transaction again returns the same signatures. Raises WalletError
        when a coin is already spent by another pending transaction of the
        wallet (signing would risk locking it forever).
        """
        with self._lock:
            self._check_open()
            self._journal.ensure_writable()
            inputs: list[TxInput] = []
            keys: list[WalletKey | None] = []
            errors: list[tuple[int, str]] = []
            for index, txin in enumerate(tx.inputs):
                coin = self._coins.get(txin.prevout)
                key = None if coin is None else self._keyring.key_for_address(coin.address)
                if key is None:
                    errors.append((index, "Input not found or already spent"))
                elif txin.public_key not in (PLACEHOLDER_PUBLIC_KEY, key.public_key):
                    errors.append((index, "Input's public key is not the key of its coin"))
                    key = None
                keys.append(key)
                public_key = txin.public_key if key is None else key.public_key
                inputs.append(TxInput(txin.prevout, public_key))
            unsigned = msgspec.structs.replace(tx, inputs=inputs, signatures=[])
            if any(txin.public_key == PLACEHOLDER_PUBLIC_KEY for txin in inputs) or not any(keys):
                return SignOutcome(tx, tuple(errors))
            txid = compute_txid(unsigned)
            mine = [txin.prevout for txin, key in zip(inputs, keys, strict=True) if key]
            pending = self._journal.marks.pending.get(txid)
            if pending is None:
                for outpoint in mine:
                    other = self._journal.marks.marks.get(outpoint)
                    if other is not None:
                        raise CoinAlreadySignedError(
                            f"{outpoint.txid.hex()}:{outpoint.index} is already spent by "
                            f"pending transaction {other.hex()}; abandon that one first"
                        )
                self._journal.record_sign(txid, mine)
            elif not set(mine) <= pending.outpoints:
                raise AssertionError("a pending txid spends other coins than its transaction")
            chain_id = self._params.chain_id
            signatures = [
                PLACEHOLDER_SIGNATURE
                if key is None
                else key.signing_key.sign(compute_input_signing_message(chain_id, txid, index))
                for index, key in enumerate(keys)
            ]
            return SignOutcome(
                msgspec.structs.replace(unsigned, signatures=signatures), tuple(errors)
            )

    def backup(self, destination: str | Path) -> tuple[Path, Path]:
        """Copy the key file and its journal to `destination` and
        `destination` + ".journal", durably; never overwrites.

        Both copies are needed to restore: the journal is what keeps a
        restored wallet from signing a second spend of a pending coin.
        Raises WalletExistsError when either target exists, OSError when it
        cannot be written.
        """
        target = Path(destination)
        target_journal = journal_path_for(target)
        with self._lock:
            self._check_open()
            for existing in (target, target_journal):
                if existing.exists():
                    raise WalletExistsError(f"{existing}: already exists; not overwriting")
            copies = []
            for source in (self._keyfile.path, journal_path_for(self._keyfile.path)):
                data = read_file_limited(source, MAX_BACKUP_FILE_BYTES)
                if data is None:
                    raise OSError(f"{source}: larger than {MAX_BACKUP_FILE_BYTES} bytes")
                copies.append(data)
            create_file_atomic(target, copies[0])
            create_file_atomic(target_journal, copies[1])
            return target, target_journal

    def key_count(self) -> int:
        """How many keys (addresses) the wallet has derived."""
        with self._lock:
            return self._keyring.count

    def release(self, txid: bytes) -> None:
        """Unmark the coins of pending transaction `txid`, durably.

        Only for a transaction the network is known to have rejected or
        conflicted: if it can still become final, spending its coins again
        may lock them forever. Raises UnknownTransactionError.
        """
        with self._lock:
            self._check_open()
            if txid not in self._journal.marks.pending:
                raise UnknownTransactionError(f"{txid.hex()} is not a pending transaction")
            self._journal.record_release(txid)

    def compact_journal(self) -> None:
        """Rewrite the journal keeping only pending transactions' records."""
        with self._lock:
            self._check_open()
            self._journal.compact(self._params.name, self._fingerprint)
