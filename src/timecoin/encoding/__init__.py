"""The canonical binary encoding of every consensus object.

Objects are `msgspec.Struct` classes declared with ``array_like=True`` (see
`timecoin.types`); their bytes are MessagePack arrays of their fields in
declaration order. This module is the only place that turns objects into
bytes and back. Its guarantees (docs/spec/encoding.md):

- `encode` is deterministic: equal objects give equal bytes.
- `decode` accepts exactly the bytes `encode` produces: trailing bytes,
  non-minimal integer or length forms, and any other non-canonical form are
  rejected, because the decoded object must re-encode to the input.
- Lengths and ranges are checked by the type's `msgspec.Meta` constraints
  while decoding, before the elements of a too-long array are allocated; the
  input itself is capped at `max_bytes` before anything is parsed.
- Every failure is a `DecodeError` with a reject code and a message.
"""

from __future__ import annotations

import struct
from typing import Any, Final, TypeVar

import msgspec

T = TypeVar("T")

REJECT_MALFORMED: Final = "malformed"
REJECT_NON_CANONICAL: Final = "non-canonical"
REJECT_OVERSIZED: Final = "oversized"


class DecodeError(ValueError):
    """Bytes that are not the canonical encoding of the expected object."""

    def __init__(self, reject_code: str, message: str) -> None:
        super().__init__(f"{reject_code}: {message}")
        self.reject_code = reject_code
        self.message = message


_ENCODER: Final = msgspec.msgpack.Encoder()
_DECODERS: dict[Any, msgspec.msgpack.Decoder[Any]] = {}


def encode(obj: object) -> bytes:
    """The canonical bytes of `obj` (a Struct, or a tuple/list of them)."""
    return _ENCODER.encode(obj)


def _decoder(type_: type[T]) -> msgspec.msgpack.Decoder[T]:
    dec = _DECODERS.get(type_)
    if dec is None:
        dec = msgspec.msgpack.Decoder(type_)
        _DECODERS[type_] = dec
    return dec


def decode(data: bytes | memoryview, type_: type[T], max_bytes: int) -> T:
    """Decode the canonical encoding of a `type_` object from `data`.

    Raises DecodeError (oversized, malformed or non-canonical).
    """
    if len(data) > max_bytes:
        raise DecodeError(
            REJECT_OVERSIZED, f"{type_.__name__}: {len(data)} bytes, limit {max_bytes}"
        )
    try:
        obj = _decoder(type_).decode(data)
    except msgspec.DecodeError as exc:  # ValidationError is a subclass
        raise DecodeError(REJECT_MALFORMED, f"{type_.__name__}: {exc}") from None
    if _ENCODER.encode(obj) != data:
        raise DecodeError(
            REJECT_NON_CANONICAL, f"{type_.__name__}: bytes do not re-encode identically"
        )
    return obj


_RAW_ARRAY_DECODER: Final = msgspec.msgpack.Decoder(list[msgspec.Raw])


def split_array(data: bytes | memoryview, max_bytes: int) -> list[memoryview]:
    """The encodings of the elements of the MessagePack array `data`, not
    parsed: to read one element of a large stored object (one transaction
    of a block) without decoding the rest. Each element must then go
    through `decode`, which checks it.

    Raises DecodeError (oversized, malformed)."""
    if len(data) > max_bytes:
        raise DecodeError(REJECT_OVERSIZED, f"array: {len(data)} bytes, limit {max_bytes}")
    try:
        return [memoryview(raw) for raw in _RAW_ARRAY_DECODER.decode(data)]
    except msgspec.DecodeError as exc:
        raise DecodeError(REJECT_MALFORMED, f"array: {exc}") from None


_U32: Final = struct.Struct(">I")
_U64: Final = struct.Struct(">Q")


def u32be(value: int) -> bytes:
    """`value` as 4 big-endian bytes (used in keys and signing messages)."""
    return _U32.pack(value)


def u64be(value: int) -> bytes:
    """`value` as 8 big-endian bytes (used in keys and signing messages)."""
    return _U64.pack(value)


def read_u64be(data: bytes) -> int:
    """The integer in 8 big-endian bytes; raises DecodeError on a wrong length."""
    if len(data) != 8:
        raise DecodeError(REJECT_MALFORMED, f"u64: expected 8 bytes, got {len(data)}")
    value: int = _U64.unpack(data)[0]
    return value
