"""The wallet: files and locking, coins and balances, signing valid payments,
and the mark-before-release rule across threads and restarts."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest
from wallet_helpers import (
    FAST_KDF,
    MASTER_SEED,
    PARAMS,
    PASSWORD,
    create_wallet,
    fund,
    make_outpoint,
    open_wallet,
)

from timecoin.crypto import encode_address
from timecoin.ledger import (
    MemoryUtxoSet,
    check_transaction,
    compute_min_fee,
    compute_tx_size,
    validate_transaction,
)
from timecoin.params import DEVNET
from timecoin.types import Coin, OutPoint, Transaction, compute_txid
from timecoin.wallet import (
    FeePolicy,
    InsufficientFundsError,
    InvalidPaymentError,
    JournalCorruptError,
    JournalMissingError,
    JournalWriteError,
    NetworkMismatchError,
    NotMineError,
    UnknownTransactionError,
    Wallet,
    WalletClosedError,
    WalletExistsError,
    WalletLockedError,
    WalletNotFoundError,
    WrongPasswordError,
    derive_key,
)

RECIPIENT = bytes(range(100, 120))


def assert_valid(tx: Transaction, coins: dict[OutPoint, Coin]) -> int:
    """Run the ledger's rules on `tx`; return its fee."""
    check_transaction(tx, PARAMS)
    return validate_transaction(tx, compute_txid(tx), MemoryUtxoSet(coins), PARAMS, 1)


def spent_by(tx: Transaction) -> set[OutPoint]:
    return {txin.prevout for txin in tx.inputs}


# ---------------------------------------------------------------- files and locking


def test_create_open_and_files(tmp_path: Path) -> None:
    with create_wallet(tmp_path) as wallet:
        first = wallet.addresses()
        fingerprint = wallet.fingerprint
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "wallet.json",
        "wallet.json.journal",
        "wallet.json.lock",
    ]
    for name in ("wallet.json", "wallet.json.journal"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    with open_wallet(tmp_path) as wallet:
        assert wallet.addresses() == first
        assert wallet.fingerprint == fingerprint
        assert wallet.params == PARAMS


def test_new_address_is_saved_before_it_is_returned(tmp_path: Path) -> None:
    with create_wallet(tmp_path) as wallet:
        made = [wallet.new_address() for _ in range(3)]
        assert wallet.addresses()[1:] == made
        assert all(wallet.is_mine(a) for a in made)
        text = wallet.encode_address(made[0])
        assert text == encode_address(PARAMS.address_hrp, made[0])
    with open_wallet(tmp_path) as wallet:
        assert wallet.addresses()[1:] == made


def test_create_refuses_existing_wallet(tmp_path: Path) -> None:
    create_wallet(tmp_path).close()
    before = (tmp_path / "wallet.json").read_bytes()
    with pytest.raises(WalletExistsError):
        create_wallet(tmp_path)
    assert (tmp_path / "wallet.json").read_bytes() == before
    (tmp_path / "wallet.json").unlink()
    with pytest.raises(WalletExistsError, match="journal"):
        create_wallet(tmp_path)  # a stale journal is never silently reused


def test_second_handle_is_locked_out(tmp_path: Path) -> None:
    wallet = create_wallet(tmp_path)
    with pytest.raises(WalletLockedError):
        open_wallet(tmp_path)
    wallet.close()
    open_wallet(tmp_path).close()


def test_failed_open_releases_the_lock_and_changes_nothing(tmp_path: Path) -> None:
    create_wallet(tmp_path).close()
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(WrongPasswordError):
        Wallet.open(tmp_path / "wallet.json", "wrong", PARAMS)
    with pytest.raises(NetworkMismatchError):
        Wallet.open(tmp_path / "wallet.json", PASSWORD, DEVNET)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files
    open_wallet(tmp_path).close()


def test_open_missing_wallet(tmp_path: Path) -> None:
    with pytest.raises(WalletNotFoundError):
        open_wallet(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_journal_needs_explicit_consent(tmp_path: Path) -> None:
    create_wallet(tmp_path).close()
    (tmp_path / "wallet.json.journal").unlink()
    with pytest.raises(JournalMissingError, match="locks that coin forever"):
        open_wallet(tmp_path)
    assert not (tmp_path / "wallet.json.journal").exists()
    path = tmp_path / "wallet.json"
    Wallet.open(path, PASSWORD, PARAMS, create_missing_journal=True).close()
    open_wallet(tmp_path).close()


def test_closed_wallet_refuses_work(tmp_path: Path) -> None:
    wallet = create_wallet(tmp_path)
    fund(wallet, [100_000])
    wallet.close()
    wallet.close()
    with pytest.raises(WalletClosedError):
        wallet.build_and_sign(RECIPIENT, 10_000)
    with pytest.raises(WalletClosedError):
        wallet.new_address()


# ---------------------------------------------------------------- coins


def test_scan_keeps_only_own_coins(tmp_path: Path) -> None:
    with create_wallet(tmp_path) as wallet:
        second = wallet.new_address()
        own = [
            (make_outpoint(1), Coin(5_000, wallet.addresses()[0], 3)),
            (make_outpoint(2), Coin(7_000, second, 4)),
        ]
        foreign = [(make_outpoint(3), Coin(9_000, RECIPIENT, 4))]
        assert wallet.scan(own + foreign) == 2
        assert wallet.scan(own) == 0
        assert wallet.coins() == sorted(own, key=lambda c: c[0].txid)
        assert wallet.balance() == wallet.spendable_balance() == 12_000
        with pytest.raises(NotMineError):
            wallet.add_coin(*foreign[0])


def test_remove_coin_forgets_it(tmp_path: Path) -> None:
    with create_wallet(tmp_path) as wallet:
        coins = fund(wallet, [5_000, 7_000])
        wallet.remove_coin(coins[0][0])
        wallet.remove_coin(make_outpoint(99))  # unknown: nothing to do
        assert wallet.balance() == 7_000


# ---------------------------------------------------------------- signing


def test_build_and_sign_makes_a_valid_payment(tmp_path: Path) -> None:
    with create_wallet(tmp_path) as wallet:
        coins = dict(fund(wallet, [30_000, 80_000, 20_000]))
        tx = wallet.build_and_sign(RECIPIENT, 50_000, params=PARAMS)
        fee = assert_valid(tx, coins)
        assert fee == compute_min_fee(compute_tx_size(tx), PARAMS)
        assert tx.outputs[0].amount == 50_000
        assert tx.outputs[0].address == RECIPIENT
        assert tx.outputs[1].address == wallet.addresses()[0]
        assert spent_by(tx) == {op for op, c in coins.items() if c.amount == 80_000}


def test_multi_input_payment_to_an_address_string(tmp_path: Path) -> None:
    with create_wallet(tmp_path) as wallet:
        coins = dict(fund(wallet, [30_000, 40_000, 20_000]))
        change = wallet.new_address()
        text = encode_address(PARAMS.address_hrp, RECIPIENT)
        tx = wallet.build_and_sign(text, 65_000, FeePolicy(fee_per_kb=5_000), change_address=change)
        assert_valid(tx, coins)
        assert len(tx.inputs) == 2
        assert tx.outputs[1].address == change
        assert {txin.public_key for txin in tx.inputs} == {derive_key(MASTER_SEED, 0).public_key}


@pytest.mark.parametrize(
    "address",
    [
        encode_address("time", RECIPIENT),  # another network
        "dtime1notanaddress",
        bytes(19),
    ],
)
def test_bad_recipient_is_rejected_without_marking(tmp_path: Path, address: bytes | str) -> None:
    with create_wallet(tmp_path) as wallet:
        fund(wallet, [100_000])
        with pytest.raises(InvalidPaymentError):
            wallet.build_and_sign(address, 10_000)
        assert wallet.spendable_balance() == 100_000
        assert not wallet.pending_transactions()


def test_other_network_params_and_foreign_change_are_refused(tmp_path: Path) -> None:
    with create_wallet(tmp_path) as wallet:
        fund(wallet, [100_000])
        with pytest.raises(NetworkMismatchError):
            wallet.build_and_sign(RECIPIENT, 10_000, params=DEVNET)
        with pytest.raises(NotMineError):
            wallet.build_and_sign(RECIPIENT, 10_000, change_address=RECIPIENT)
        assert wallet.spendable_balance() == 100_000


def test_signed_coins_are_marked_and_excluded(tmp_path: Path) -> None:
    with create_wallet(tmp_path) as wallet:
        coins = dict(fund(wallet, [50_000, 50_000]))
        first = wallet.build_and_sign(RECIPIENT, 10_000)
        assert all(wallet.is_marked(op) for op in spent_by(first))
        assert wallet.spendable_balance() == 50_000
        assert wallet.locked_balance() == 50_000
        assert wallet.balance() == 100_000
        second = wallet.build_and_sign(RECIPIENT, 10_000)
        assert not spent_by(first) & spent_by(second)
        with pytest.raises(InsufficientFundsError) as info:
            wallet.build_and_sign(RECIPIENT, 10_000)
        assert info.value.available_units == 0
        assert info.value.locked_units == 100_000
        assert set(wallet.pending_transactions()) == {compute_txid(first), compute_txid(second)}
        assert_valid(first, coins)
        assert_valid(second, coins)


def test_restart_still_refuses_to_respend(tmp_path: Path) -> None:
    wallet = create_wallet(tmp_path)
    coins = fund(wallet, [50_000])
    tx = wallet.build_and_sign(RECIPIENT, 10_000)
    wallet.close()
    with open_wallet(tmp_path) as again:
        again.scan(coins)
        assert again.balance() == 50_000
        assert again.spendable_balance() == 0
        assert again.pending_transactions() == {compute_txid(tx): frozenset(spent_by(tx))}
        with pytest.raises(InsufficientFundsError):
            again.build_and_sign(RECIPIENT, 10_000)
        with pytest.raises(InsufficientFundsError):
            again.build_and_sign(RECIPIENT, 20_000, FeePolicy(fee_per_kb=9_000))


def test_release_is_journaled(tmp_path: Path) -> None:
    wallet = create_wallet(tmp_path)
    coins = fund(wallet, [50_000])
    tx = wallet.build_and_sign(RECIPIENT, 10_000)
    with pytest.raises(UnknownTransactionError):
        wallet.release(bytes(32))
    wallet.release(compute_txid(tx))
    assert wallet.spendable_balance() == 50_000
    wallet.close()
    with open_wallet(tmp_path) as again:
        again.scan(coins)
        assert again.spendable_balance() == 50_000
        replacement = again.build_and_sign(RECIPIENT, 12_000)
        assert spent_by(replacement) == spent_by(tx)


def test_spent_on_chain_settles_the_transaction(tmp_path: Path) -> None:
    wallet = create_wallet(tmp_path)
    fund(wallet, [30_000, 30_000, 5_000])
    tx = wallet.build_and_sign(RECIPIENT, 50_000)
    inputs = sorted(spent_by(tx), key=lambda op: op.txid)
    assert len(inputs) == 2
    wallet.remove_coin(inputs[0])
    assert compute_txid(tx) in wallet.pending_transactions()
    wallet.remove_coins(inputs[1:])
    assert not wallet.pending_transactions()
    assert wallet.balance() == wallet.spendable_balance() == 5_000
    wallet.close()
    with open_wallet(tmp_path) as again:
        assert not again.pending_transactions()


def test_eight_threads_never_share_an_outpoint(tmp_path: Path) -> None:
    coin_count = 48
    with create_wallet(tmp_path) as wallet:
        coins = dict(fund(wallet, [60_000] * coin_count))
        signed: list[Transaction] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def spend(amount: int) -> None:
            barrier.wait()
            while True:
                try:
                    tx = wallet.build_and_sign(RECIPIENT, amount)
                except InsufficientFundsError:
                    return
                except BaseException as exc:  # reported to the main thread
                    errors.append(exc)
                    return
                signed.append(tx)

        # Half the threads pay with one coin, half need two coins per payment.
        threads = [
            threading.Thread(target=spend, args=(10_000 if i % 2 else 100_000,)) for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        seen: set[OutPoint] = set()
        for tx in signed:
            assert not seen & spent_by(tx), "two transactions share an outpoint"
            seen |= spent_by(tx)
            assert_valid(tx, coins)
        assert seen == set(coins)
        assert wallet.spendable_balance() == 0
        pending = wallet.pending_transactions()
        assert set(pending) == {compute_txid(tx) for tx in signed}
    with open_wallet(tmp_path) as again:
        assert again.pending_transactions() == pending
        again.scan(coins.items())
        with pytest.raises(InsufficientFundsError):
            again.build_and_sign(RECIPIENT, 1_000)


def test_corrupt_journal_is_a_typed_error(tmp_path: Path) -> None:
    wallet = create_wallet(tmp_path)
    fund(wallet, [50_000])
    wallet.build_and_sign(RECIPIENT, 10_000)
    wallet.close()
    path = tmp_path / "wallet.json.journal"
    data = path.read_bytes()
    damaged = data.replace(b'"op":"sign"', b'"op":"sIgn"')
    path.write_bytes(damaged)
    with pytest.raises(JournalCorruptError, match="line 2") as info:
        open_wallet(tmp_path)
    assert info.value.reject_code == "journal-corrupt"
    assert path.read_bytes() == damaged
    path.write_bytes(data)
    open_wallet(tmp_path).close()  # the failed open released the lock


def test_journal_of_another_wallet_is_refused(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    create_wallet(one).close()
    create_wallet(two, master_seed=bytes(32)).close()
    os.replace(one / "wallet.json.journal", two / "wallet.json.journal")
    with pytest.raises(JournalCorruptError, match="does not match this wallet"):
        open_wallet(two)


def test_journal_write_failure_releases_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallet = create_wallet(tmp_path)
    fund(wallet, [50_000, 50_000])

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "injected I/O error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(JournalWriteError):
        wallet.build_and_sign(RECIPIENT, 10_000)
    monkeypatch.undo()
    # Whether the record reached the disk is unknown: no more signing.
    with pytest.raises(JournalWriteError, match="reopen"):
        wallet.build_and_sign(RECIPIENT, 10_000)
    wallet.close()
    with open_wallet(tmp_path) as again:
        # The write itself succeeded, so replay conservatively marks the coin.
        assert len(again.pending_transactions()) == 1


def test_wallet_for_another_network(tmp_path: Path) -> None:
    path = tmp_path / "devnet.json"
    with Wallet.create(path, PASSWORD, DEVNET, kdf=FAST_KDF) as wallet:
        address = wallet.encode_address(wallet.addresses()[0])
        assert address.startswith(DEVNET.address_hrp + "1")
    with pytest.raises(NetworkMismatchError):
        Wallet.open(path, PASSWORD, PARAMS)
