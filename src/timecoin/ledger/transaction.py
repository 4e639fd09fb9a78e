"""Transaction rules: stateless sanity first, then validation against a UTXO view.

`check_transaction` needs nothing but the transaction and the parameters and
is cheap: run it before anything that reads state. `validate_transaction`
reads the coins the transaction spends and checks ownership, amounts, fee,
lock time and signatures; it returns the fee. Both raise `InvalidTransaction`
with a reject code from `timecoin.ledger.errors` and a message that states
what was expected and what was found. docs/spec/ledger.md lists every rule.
"""

from __future__ import annotations

from timecoin.crypto import address_from_public_key, verify
from timecoin.encoding import encode
from timecoin.ledger import errors
from timecoin.ledger.signatures import (
    SignatureCache,
    SignatureItem,
    compute_input_signing_message,
    compute_owner_signing_message,
)
from timecoin.ledger.view import UtxoView
from timecoin.params import MAX_MONEY, ChainParams
from timecoin.types import (
    NO_COLLATERAL,
    TX_VERSION,
    InvalidTransaction,
    MasternodeRegistration,
    OperatorUpdate,
    Transaction,
)

SIGNATURE_BYTES = 64


def compute_tx_size(tx: Transaction) -> int:
    """The size in bytes of the canonical encoding of `tx` (signatures included)."""
    return len(encode(tx))


def check_transaction(
    tx: Transaction, params: ChainParams, *, size_bytes: int | None = None
) -> None:
    """Check the rules that need no state (the stateless sanity check).

    Parameters:
        tx: the transaction, as decoded (field types and ranges hold).
        params: the chain parameters.
        size_bytes: the size of its encoding when the caller already knows it
            (e.g. the length of the received bytes); computed otherwise.

    Raises:
        InvalidTransaction: bad-version, too-many-inputs, too-many-outputs,
            oversized, coinbase-signatures, coinbase-owner-signature,
            coinbase-payload, no-outputs, signature-count, duplicate-input,
            dust-output, amount-overflow, bad-payload, bad-collateral,
            owner-signature.
    """
    if tx.version != TX_VERSION:
        raise InvalidTransaction(
            errors.REJECT_BAD_VERSION, f"version: expected {TX_VERSION}, got {tx.version}"
        )
    inputs = tx.inputs
    outputs = tx.outputs
    sizes = params.sizes
    if len(inputs) > sizes.max_tx_inputs:
        raise InvalidTransaction(
            errors.REJECT_TOO_MANY_INPUTS,
            f"inputs: expected at most {sizes.max_tx_inputs}, got {len(inputs)}",
        )
    if len(outputs) > sizes.max_tx_outputs:
        raise InvalidTransaction(
            errors.REJECT_TOO_MANY_OUTPUTS,
            f"outputs: expected at most {sizes.max_tx_outputs}, got {len(outputs)}",
        )
    if size_bytes is None:
        size_bytes = compute_tx_size(tx)
    if size_bytes > sizes.max_tx_bytes:
        raise InvalidTransaction(
            errors.REJECT_OVERSIZED,
            f"size: expected at most {sizes.max_tx_bytes} bytes, got {size_bytes}",
        )
    if inputs:
        _check_witness_shape(tx)
    else:
        _check_coinbase_shape(tx)
    _check_outputs(tx, params)
    if tx.payload is not None:
        _check_payload(tx, params)
    elif tx.owner_signature is not None:
        raise InvalidTransaction(
            errors.REJECT_OWNER_SIGNATURE,
            "owner signature: expected none for a transaction without payload, got one",
        )


def _check_coinbase_shape(tx: Transaction) -> None:
    if tx.signatures:
        raise InvalidTransaction(
            errors.REJECT_COINBASE_SIGNATURES,
            f"coinbase signatures: expected 0, got {len(tx.signatures)}",
        )
    if tx.owner_signature is not None:
        raise InvalidTransaction(
            errors.REJECT_COINBASE_OWNER_SIGNATURE,
            "coinbase owner signature: expected none, got one",
        )
    if tx.payload is not None:
        raise InvalidTransaction(
            errors.REJECT_COINBASE_PAYLOAD,
            f"coinbase payload: expected none, got {type(tx.payload).__name__}",
        )


def _check_witness_shape(tx: Transaction) -> None:
    inputs = tx.inputs
    if not tx.outputs:
        raise InvalidTransaction(errors.REJECT_NO_OUTPUTS, "outputs: expected at least 1, got 0")
    if len(tx.signatures) != len(inputs):
        raise InvalidTransaction(
            errors.REJECT_SIGNATURE_COUNT,
            f"signatures: expected {len(inputs)} (one per input), got {len(tx.signatures)}",
        )
    if len(inputs) > 1:
        prevouts = {txin.prevout for txin in inputs}
        if len(prevouts) != len(inputs):
            seen: set[object] = set()
            for index, txin in enumerate(inputs):
                if txin.prevout in seen:
                    raise InvalidTransaction(
                        errors.REJECT_DUPLICATE_INPUT,
                        f"input {index}: expected a distinct prevout, got a repeat of "
                        f"{txin.prevout.txid.hex()}:{txin.prevout.index}",
                    )
                seen.add(txin.prevout)


def _check_outputs(tx: Transaction, params: ChainParams) -> None:
    dust_limit = params.dust_limit
    total = 0
    for index, txout in enumerate(tx.outputs):
        amount = txout.amount
        if amount <= 0 or amount < dust_limit:
            raise InvalidTransaction(
                errors.REJECT_DUST_OUTPUT,
                f"output {index}: expected an amount of at least {max(dust_limit, 1)}, "
                f"got {amount}",
            )
        if amount > MAX_MONEY:
            raise InvalidTransaction(
                errors.REJECT_AMOUNT_OVERFLOW,
                f"output {index}: expected an amount of at most {MAX_MONEY}, got {amount}",
            )
        total += amount
    if total > MAX_MONEY:
        raise InvalidTransaction(
            errors.REJECT_AMOUNT_OVERFLOW,
            f"sum of outputs: expected at most {MAX_MONEY}, got {total}",
        )


def _check_payload(tx: Transaction, params: ChainParams) -> None:
    payload = tx.payload
    owner_signature = tx.owner_signature
    if owner_signature is None:
        raise InvalidTransaction(
            errors.REJECT_OWNER_SIGNATURE,
            "owner signature: expected one for a payload transaction, got none",
        )
    if len(owner_signature) != SIGNATURE_BYTES:
        raise InvalidTransaction(
            errors.REJECT_OWNER_SIGNATURE,
            f"owner signature: expected {SIGNATURE_BYTES} bytes, got {len(owner_signature)}",
        )
    if isinstance(payload, MasternodeRegistration):
        check_registration(tx, payload, params)
    elif isinstance(payload, OperatorUpdate):
        _check_network_address(payload.network_address, params)
    else:
        raise InvalidTransaction(
            errors.REJECT_BAD_PAYLOAD, f"payload: expected a known kind, got {type(payload)}"
        )


def check_registration(
    tx: Transaction, payload: MasternodeRegistration, params: ChainParams
) -> None:
    """Check a registration's tier, collateral output and network address.

    A staked tier's collateral is output `collateral_index` of `tx`, of
    exactly the tier's collateral, paid to the owner key's address (the owner
    key controls the collateral). A Free registration names NO_COLLATERAL.
    Used by `check_transaction` and by the genesis builder.

    Raises:
        InvalidTransaction: bad-payload (tier, network address),
            bad-collateral.
    """
    tier = payload.tier
    if not 0 <= tier < len(params.tiers):
        raise InvalidTransaction(
            errors.REJECT_BAD_PAYLOAD,
            f"registration tier: expected 0..{len(params.tiers) - 1}, got {tier}",
        )
    collateral = params.tiers[tier].collateral
    index = payload.collateral_index
    if collateral == 0:
        if index != NO_COLLATERAL:
            raise InvalidTransaction(
                errors.REJECT_BAD_COLLATERAL,
                f"collateral index of tier {tier}: expected {NO_COLLATERAL} (none), got {index}",
            )
    else:
        if not 0 <= index < len(tx.outputs):
            raise InvalidTransaction(
                errors.REJECT_BAD_COLLATERAL,
                f"collateral index: expected below {len(tx.outputs)} outputs, got {index}",
            )
        txout = tx.outputs[index]
        if txout.amount != collateral:
            raise InvalidTransaction(
                errors.REJECT_BAD_COLLATERAL,
                f"collateral of tier {tier}: expected {collateral}, got {txout.amount}",
            )
        owner_address = address_from_public_key(payload.owner_key)
        if txout.address != owner_address:
            raise InvalidTransaction(
                errors.REJECT_BAD_COLLATERAL,
                f"collateral address: expected the owner's {owner_address.hex()}, "
                f"got {txout.address.hex()}",
            )
    _check_network_address(payload.network_address, params)


def _check_network_address(network_address: bytes, params: ChainParams) -> None:
    limit = params.sizes.max_network_address_bytes
    if len(network_address) > limit:
        raise InvalidTransaction(
            errors.REJECT_BAD_PAYLOAD,
            f"network address: expected at most {limit} bytes, got {len(network_address)}",
        )


def validate_transaction(
    tx: Transaction,
    txid: bytes,
    view: UtxoView,
    params: ChainParams,
    height: int,
    sig_sink: list[SignatureItem] | None = None,
    *,
    sig_cache: SignatureCache | None = None,
    size_bytes: int | None = None,
) -> int:
    """Validate a non-coinbase transaction against the UTXO set; return its fee.

    Assumes `check_transaction` passed. Checks, in order: lock time, that
    every input's coin exists and belongs to the input's key, that inputs
    cover outputs, the fee, and finally the signatures.

    Parameters:
        tx: the transaction; txid: its `compute_txid`.
        view: the UTXO set it spends from (e.g. a block's CachedUtxoView).
        params: the chain parameters.
        height: the height of the block that would include it.
        sig_sink: when a list, the (public key, message, signature) triples
            are appended to it instead of being verified: the caller must
            verify them all (e.g. BatchVerifier) before accepting `tx`.
        sig_cache: triples found in it are skipped; triples verified inline
            are added to it.
        size_bytes: the size of the encoding, when known.

    Returns:
        The fee in base units (sum of inputs minus sum of outputs).

    Raises:
        InvalidTransaction: coinbase-standalone, lock-time, missing-input,
            wrong-key, amount-overflow, insufficient-funds, fee-too-low,
            bad-signature, bad-owner-signature.
    """
    inputs = tx.inputs
    if not inputs:
        raise InvalidTransaction(
            errors.REJECT_COINBASE_STANDALONE,
            "inputs: expected at least 1 (a coinbase is valid only first in a block), got 0",
        )
    if tx.lock_time > height:
        raise InvalidTransaction(
            errors.REJECT_LOCK_TIME,
            f"lock time: expected at most height {height}, got {tx.lock_time}",
        )
    total_in = 0
    for index, txin in enumerate(inputs):
        coin = view.get_coin(txin.prevout)
        if coin is None:
            raise InvalidTransaction(
                errors.REJECT_MISSING_INPUT,
                f"input {index}: expected an unspent coin at "
                f"{txin.prevout.txid.hex()}:{txin.prevout.index}, found none",
            )
        if address_from_public_key(txin.public_key) != coin.address:
            raise InvalidTransaction(
                errors.REJECT_WRONG_KEY,
                f"input {index}: expected a key of address {coin.address.hex()}, "
                f"got one of {address_from_public_key(txin.public_key).hex()}",
            )
        total_in += coin.amount
    if total_in > MAX_MONEY:
        raise InvalidTransaction(
            errors.REJECT_AMOUNT_OVERFLOW,
            f"sum of inputs: expected at most {MAX_MONEY}, got {total_in}",
        )
    total_out = sum(txout.amount for txout in tx.outputs)
    if total_in < total_out:
        raise InvalidTransaction(
            errors.REJECT_INSUFFICIENT_FUNDS,
            f"inputs: expected at least the outputs' {total_out}, got {total_in}",
        )
    fee = total_in - total_out
    if size_bytes is None:
        size_bytes = compute_tx_size(tx)
    required = compute_min_fee(size_bytes, params)
    if fee < required:
        raise InvalidTransaction(
            errors.REJECT_FEE_TOO_LOW,
            f"fee: expected at least {required} for {size_bytes} bytes, got {fee}",
        )
    chain_id = params.chain_id
    signatures = tx.signatures
    for index, txin in enumerate(inputs):
        message = compute_input_signing_message(chain_id, txid, index)
        if not _check_signature(txin.public_key, message, signatures[index], sig_sink, sig_cache):
            raise InvalidTransaction(
                errors.REJECT_BAD_SIGNATURE,
                f"input {index}: expected a valid signature by {txin.public_key.hex()}, "
                "verification failed",
            )
    payload = tx.payload
    if isinstance(payload, MasternodeRegistration) and tx.owner_signature is not None:
        message = compute_owner_signing_message(chain_id, txid)
        if not _check_signature(
            payload.owner_key, message, tx.owner_signature, sig_sink, sig_cache
        ):
            raise InvalidTransaction(
                errors.REJECT_BAD_OWNER_SIGNATURE,
                f"owner signature: expected a valid signature by {payload.owner_key.hex()}, "
                "verification failed",
            )
    return fee


def compute_min_fee(size_bytes: int, params: ChainParams) -> int:
    """The consensus minimum fee of a transaction of `size_bytes` bytes.

    max(min_fee, min_fee_per_kb * size_bytes // 1000): a flat floor and a
    per-size rate, rounded down.
    """
    return max(params.min_fee, params.min_fee_per_kb * size_bytes // 1000)


def _check_signature(
    public_key: bytes,
    message: bytes,
    signature: bytes,
    sig_sink: list[SignatureItem] | None,
    sig_cache: SignatureCache | None,
) -> bool:
    """False only when the signature was verified inline and is invalid.

    An inline check with a cache goes through `SignatureCache.verify`, so a
    cache that counts or instruments verifications sees every one.
    """
    if sig_sink is not None:
        if sig_cache is None or not sig_cache.contains(public_key, message, signature):
            sig_sink.append((public_key, message, signature))
        return True
    if sig_cache is not None:
        return sig_cache.verify(public_key, message, signature)
    return verify(public_key, message, signature)
