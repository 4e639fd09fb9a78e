"""TimeCoin addresses: 20-byte key hashes in bech32m (BIP-350) strings.

``address = sha256(DOMAIN_ADDRESS || public_key)[:20]``, written as
``hrp || "1" || data || checksum`` where ``data`` is the 20 bytes in 5-bit
groups (exactly 32 characters, no padding and no witness version) and
``checksum`` is the 6-character bech32m checksum. The human-readable part
names the network: ``time`` (mainnet), ``ttime`` (testnet), ``dtime``
(devnet). Written from BIP-173 and BIP-350.
"""

from __future__ import annotations

from collections.abc import Sequence

from timecoin.crypto.domains import DOMAIN_ADDRESS
from timecoin.crypto.hashes import sha256

__all__ = [
    "ADDRESS_PAYLOAD_SIZE",
    "BECH32M_CONST",
    "BECH32_MAX_LENGTH",
    "HRP_DEVNET",
    "HRP_MAINNET",
    "HRP_TESTNET",
    "AddressChecksumError",
    "AddressError",
    "AddressFormatError",
    "AddressNetworkError",
    "address_from_public_key",
    "bech32m_decode",
    "bech32m_encode",
    "convert_bits",
    "decode_address",
    "encode_address",
]

HRP_MAINNET = "time"
HRP_TESTNET = "ttime"
HRP_DEVNET = "dtime"

ADDRESS_PAYLOAD_SIZE = 20
"""Bytes of key hash an address carries."""

BECH32M_CONST = 0x2BC830A3
"""The bech32m checksum constant (BIP-350)."""

BECH32_MAX_LENGTH = 90
"""Longest valid bech32/bech32m string (BIP-173)."""

_CHECKSUM_LENGTH = 6
_HRP_MAX_LENGTH = 83
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {char: value for value, char in enumerate(_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_PAYLOAD_GROUPS = (ADDRESS_PAYLOAD_SIZE * 8 + 4) // 5


class AddressError(ValueError):
    """An address or bech32m string is invalid."""


class AddressFormatError(AddressError):
    """Malformed string: mixed case, bad characters, bad lengths or bad padding."""


class AddressChecksumError(AddressError):
    """Well-formed string whose bech32m checksum does not match."""


class AddressNetworkError(AddressError):
    """Valid address of another network (human-readable part)."""

    def __init__(self, expected: str, actual: str) -> None:
        """Record the expected and actual human-readable parts."""
        super().__init__(f"address network: expected hrp {expected!r}, got {actual!r}")
        self.expected = expected
        self.actual = actual


def _polymod(values: Sequence[int]) -> int:
    checksum = 1
    generator = _GENERATOR
    for value in values:
        top = checksum >> 25
        checksum = ((checksum & 0x1FFFFFF) << 5) ^ value
        for bit in range(5):
            if (top >> bit) & 1:
                checksum ^= generator[bit]
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    codes = [ord(char) for char in hrp]
    return [code >> 5 for code in codes] + [0] + [code & 31 for code in codes]


def _check_hrp(hrp: str) -> None:
    if not 1 <= len(hrp) <= _HRP_MAX_LENGTH:
        raise AddressFormatError(f"hrp must be 1 to {_HRP_MAX_LENGTH} characters, got {len(hrp)}")
    for char in hrp:
        if not 33 <= ord(char) <= 126:
            raise AddressFormatError(f"hrp character out of range: {char!r}")
    if hrp != hrp.lower():
        raise AddressFormatError(f"hrp must be lower case, got {hrp!r}")


def bech32m_encode(hrp: str, data: Sequence[int]) -> str:
    """Return the bech32m string of ``hrp`` and 5-bit ``data`` values (lower case).

    Raises ``AddressFormatError`` for an invalid hrp, a value outside
    ``[0, 31]`` or a result longer than 90 characters.
    """
    _check_hrp(hrp)
    for value in data:
        if not 0 <= value < 32:
            raise AddressFormatError(f"data value out of range [0, 31]: {value}")
    values = list(data)
    residue = _polymod([*_hrp_expand(hrp), *values, 0, 0, 0, 0, 0, 0]) ^ BECH32M_CONST
    checksum = [(residue >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_LENGTH)]
    text = hrp + "1" + "".join(_CHARSET[value] for value in values + checksum)
    if len(text) > BECH32_MAX_LENGTH:
        raise AddressFormatError(
            f"bech32m string must be at most {BECH32_MAX_LENGTH} characters, got {len(text)}"
        )
    return text


def bech32m_decode(text: str) -> tuple[str, list[int]]:
    """Split and check a bech32m string; return ``(hrp, data)`` without the checksum.

    The hrp is returned in lower case. Raises ``AddressFormatError`` for a
    string that is too long, mixes cases, has characters outside the
    alphabet, no separator, an empty hrp or a short checksum, and
    ``AddressChecksumError`` when the bech32m checksum does not match.
    """
    if len(text) > BECH32_MAX_LENGTH:
        raise AddressFormatError(
            f"bech32m string must be at most {BECH32_MAX_LENGTH} characters, got {len(text)}"
        )
    for char in text:
        if not 33 <= ord(char) <= 126:
            raise AddressFormatError(f"character out of range: {char!r}")
    lower = text.lower()
    if lower != text and text.upper() != text:
        raise AddressFormatError("mixed upper and lower case")
    separator = lower.rfind("1")
    if separator < 0:
        raise AddressFormatError("no separator '1'")
    if separator == 0:
        raise AddressFormatError("empty hrp")
    if separator > _HRP_MAX_LENGTH:
        raise AddressFormatError(f"hrp must be at most {_HRP_MAX_LENGTH} characters")
    if len(lower) - separator - 1 < _CHECKSUM_LENGTH:
        raise AddressFormatError(f"checksum must be {_CHECKSUM_LENGTH} characters")
    hrp = lower[:separator]
    data: list[int] = []
    for char in lower[separator + 1 :]:
        value = _CHARSET_INDEX.get(char)
        if value is None:
            raise AddressFormatError(f"invalid data character: {char!r}")
        data.append(value)
    if _polymod(_hrp_expand(hrp) + data) != BECH32M_CONST:
        raise AddressChecksumError("bech32m checksum mismatch")
    return hrp, data[:-_CHECKSUM_LENGTH]


def convert_bits(data: Sequence[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    """Regroup ``data`` from ``from_bits``-bit values to ``to_bits``-bit values.

    With ``pad`` the last group is zero-padded; without it, leftover bits
    must be fewer than ``from_bits`` and all zero. Raises
    ``AddressFormatError`` for a value out of range or invalid padding.
    """
    accumulator = 0
    bits = 0
    result: list[int] = []
    out_mask = (1 << to_bits) - 1
    for value in data:
        if value < 0 or value >> from_bits:
            raise AddressFormatError(f"value out of range for {from_bits} bits: {value}")
        accumulator = (accumulator << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            result.append((accumulator >> bits) & out_mask)
        accumulator &= (1 << bits) - 1
    if pad:
        if bits:
            result.append((accumulator << (to_bits - bits)) & out_mask)
    elif bits >= from_bits:
        raise AddressFormatError("excess padding")
    elif accumulator:
        raise AddressFormatError("non-zero padding")
    return result


def address_from_public_key(public_key: bytes) -> bytes:
    """Return the 20-byte address payload ``sha256(DOMAIN_ADDRESS || public_key)[:20]``.

    Raises ``ValueError`` unless ``public_key`` is 32 bytes.
    """
    if len(public_key) != 32:
        raise ValueError(f"public key must be 32 bytes, got {len(public_key)}")
    return sha256(DOMAIN_ADDRESS + bytes(public_key))[:ADDRESS_PAYLOAD_SIZE]


def encode_address(hrp: str, payload: bytes) -> str:
    """Return the address string of a 20-byte ``payload`` on the network ``hrp``.

    Raises ``AddressFormatError`` for a payload that is not 20 bytes or an
    invalid hrp.
    """
    if len(payload) != ADDRESS_PAYLOAD_SIZE:
        raise AddressFormatError(
            f"address payload must be {ADDRESS_PAYLOAD_SIZE} bytes, got {len(payload)}"
        )
    return bech32m_encode(hrp, convert_bits(bytes(payload), 8, 5, pad=True))


def decode_address(text: str, expected_hrp: str) -> bytes:
    """Return the 20-byte payload of address ``text``, which must be on network ``expected_hrp``.

    Upper-case addresses are accepted, mixed case is not. Raises
    ``AddressFormatError`` (malformed string, wrong data length or padding),
    ``AddressChecksumError`` (checksum mismatch) or ``AddressNetworkError``
    (valid address with another hrp); all are ``AddressError``, a
    ``ValueError``.
    """
    hrp, data = bech32m_decode(text)
    if hrp != expected_hrp:
        raise AddressNetworkError(expected_hrp, hrp)
    if len(data) != _PAYLOAD_GROUPS:
        raise AddressFormatError(
            f"address data must be {_PAYLOAD_GROUPS} characters, got {len(data)}"
        )
    return bytes(convert_bits(data, 5, 8, pad=False))
