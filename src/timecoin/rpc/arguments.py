"""RPC method parameters: declaration, binding and conversion of JSON values.

A method declares its parameters as `Param`s; `bind_arguments` matches the
request's `params` (an array by position, or an object by name, as bitcoind
accepts both) to them. Converters check JSON types and ranges and raise
`RpcError` with bitcoind's codes:

- wrong number of parameters, unknown or missing names: -32602;
- a value of the wrong JSON type: -3 (bitcoind's RPC_TYPE_ERROR);
- a value of the right type but unusable (bad hash length, negative
  height): -8; an invalid amount: -3; an invalid address: -5.

Non-integer JSON numbers arrive as `decimal.Decimal` (the server parses them
so), so amounts are read exactly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from timecoin.crypto import AddressError, decode_address
from timecoin.encoding import DecodeError, decode
from timecoin.params import COIN, MAX_MONEY, ChainParams
from timecoin.rpc.errors import (
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_INVALID_PARAMS,
    RPC_TYPE_ERROR,
    RpcError,
)
from timecoin.types import Transaction

HASH_HEX_CHARS: Final = 64
MAX_STRING_ARG_CHARS: Final = 1_000
"""Longest ordinary string argument (addresses, labels, commands)."""

_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_DECIMALS: Final = 8


class _Required:
    """The default of a parameter that has none."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()

Converter = Callable[[Any, str], Any]
"""Turns a JSON value into the handler's argument; `str` is the parameter name."""


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: its name, converter, default (or REQUIRED) and help.

    `is_text` tells command-line clients to pass the argument as a string
    as typed, never parsed as JSON (hashes, hex, addresses, labels).
    """

    name: str
    convert: Converter
    default: object = REQUIRED
    is_text: bool = False
    help: str = ""

    @property
    def is_required(self) -> bool:
        """True when the parameter has no default."""
        return self.default is REQUIRED


Handler = Callable[..., Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Method:
    """An RPC method: name, coroutine, parameters, help category and summary."""

    name: str
    handler: Handler
    params: tuple[Param, ...]
    category: str
    summary: str

    def usage(self) -> str:
        """`name "text" number ( optional ... )`, as bitcoind's help prints it."""
        shown = [f'"{p.name}"' if p.is_text else p.name for p in self.params]
        required = [text for text, p in zip(shown, self.params, strict=True) if p.is_required]
        optional = [text for text, p in zip(shown, self.params, strict=True) if not p.is_required]
        parts = [self.name, *required]
        if optional:
            parts.append(f"( {' '.join(optional)} )")
        return " ".join(parts)


def bind_arguments(method: Method, params: Sequence[object] | Mapping[str, object]) -> list[Any]:
    """The converted arguments of `method` for a request's `params`.

    Raises RpcError: -32602 for a count or name mismatch, or the
    converter's error for a bad value.
    """
    declared = method.params
    values: list[object]
    if isinstance(params, Mapping):
        names = {param.name for param in declared}
        unknown = [name for name in params if name not in names]
        if unknown:
            raise RpcError(RPC_INVALID_PARAMS, f"Unknown named parameter {unknown[0]}")
        values = [params.get(param.name, REQUIRED) for param in declared]
    else:
        if len(params) > len(declared):
            raise RpcError(
                RPC_INVALID_PARAMS,
                f"{method.name}: expected at most {len(declared)} parameters, "
                f"got {len(params)}. Usage: {method.usage()}",
            )
        values = [*params, *([REQUIRED] * (len(declared) - len(params)))]
    arguments: list[Any] = []
    for param, value in zip(declared, values, strict=True):
        if value is REQUIRED or (value is None and not param.is_required):
            if param.is_required:
                raise RpcError(
                    RPC_INVALID_PARAMS,
                    f"{method.name}: missing required parameter {param.name!r}. "
                    f"Usage: {method.usage()}",
                )
            arguments.append(param.default)
            continue
        arguments.append(param.convert(value, param.name))
    return arguments


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | Decimal | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _type_error(name: str, expected: str, value: object) -> RpcError:
    return RpcError(
        RPC_TYPE_ERROR,
        f"{name}: JSON value of type {_type_name(value)} is not of expected type {expected}",
    )


def to_int(value: object, name: str) -> int:
    """A JSON integer (not a bool, not a fraction)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(name, "number", value)
    return value


def int_in_range(low: int, high: int) -> Callable[[object, str], int]:
    """A converter for integers in [low, high] (else -8)."""

    def convert(value: object, name: str) -> int:
        number = to_int(value, name)
        if not low <= number <= high:
            raise RpcError(
                RPC_INVALID_PARAMETER, f"{name} out of range: expected {low}..{high}, got {number}"
            )
        return number

    return convert


def to_bool(value: object, name: str) -> bool:
    """A JSON boolean."""
    if not isinstance(value, bool):
        raise _type_error(name, "bool", value)
    return value


def to_str(value: object, name: str) -> str:
    """A JSON string of at most MAX_STRING_ARG_CHARS characters (else -8)."""
    if not isinstance(value, str):
        raise _type_error(name, "string", value)
    if len(value) > MAX_STRING_ARG_CHARS:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            f"{name}: expected at most {MAX_STRING_ARG_CHARS} characters, got {len(value)}",
        )
    return value


def to_hash(value: object, name: str) -> bytes:
    """A 32-byte hash written as 64 hex digits (bitcoind's ParseHashV messages)."""
    if not isinstance(value, str):
        raise _type_error(name, "string", value)
    shown = value[: HASH_HEX_CHARS + 16]
    if len(value) != HASH_HEX_CHARS:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            f"{name} must be of length {HASH_HEX_CHARS} (not {len(value)}, for '{shown}')",
        )
    if not set(value) <= _HEX_DIGITS:
        raise RpcError(RPC_INVALID_PARAMETER, f"{name} must be hexadecimal string (not '{shown}')")
    return bytes.fromhex(value)


def is_hex(text: str) -> bool:
    """True for an even-length string of hex digits."""
    return len(text) % 2 == 0 and set(text) <= _HEX_DIGITS


def to_amount_units(value: object, name: str) -> int:
    """An amount of TIME (a JSON number or a numeric string, at most 8
    decimals, more than 0, at most MAX_MONEY) as base units."""
    if isinstance(value, bool):
        raise _type_error(name, "number", value)
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise RpcError(RPC_TYPE_ERROR, "Invalid amount") from None
    else:
        raise _type_error(name, "number", value)
    if not number.is_finite():
        raise RpcError(RPC_TYPE_ERROR, "Invalid amount")
    scaled = number * COIN
    if scaled != scaled.to_integral_value():
        raise RpcError(RPC_TYPE_ERROR, f"Invalid amount: more than {_DECIMALS} decimals")
    units = int(scaled)
    if units <= 0:
        raise RpcError(RPC_TYPE_ERROR, "Invalid amount for send: must be more than 0")
    if units > MAX_MONEY:
        raise RpcError(RPC_TYPE_ERROR, "Amount out of range")
    return units


def to_fee_rate_units(value: object, name: str) -> int:
    """A fee rate in TIME per kB (0 allowed) as base units per kB."""
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return 0
    if isinstance(value, Decimal) and value == 0:
        return 0
    return to_amount_units(value, name)


def parse_address(text: str, params: ChainParams) -> bytes:
    """The 20 address bytes of `text` on the node's network (else -5)."""
    try:
        return decode_address(text, params.address_hrp)
    except AddressError as exc:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"Invalid TimeCoin address: {exc}") from None


def decode_transaction(text: str, params: ChainParams) -> tuple[Transaction, int]:
    """The transaction in hex `text` and its size; -22 when it is not one."""
    max_bytes = params.sizes.max_tx_bytes
    if len(text) > 2 * max_bytes:
        raise RpcError(
            RPC_DESERIALIZATION_ERROR,
            f"TX decode failed: {len(text) // 2} bytes, limit {max_bytes}",
        )
    if not is_hex(text):
        raise RpcError(RPC_DESERIALIZATION_ERROR, "TX decode failed: not a hex string")
    data = bytes.fromhex(text)
    try:
        return decode(data, Transaction, max_bytes), len(data)
    except DecodeError as exc:
        raise RpcError(RPC_DESERIALIZATION_ERROR, f"TX decode failed: {exc}") from None
