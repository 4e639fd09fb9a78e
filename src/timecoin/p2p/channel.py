"""Frames and the authenticated, encrypted channel (docs/spec/p2p.md, section 2).

A frame is ``length (u32, big-endian) || body`` with ``length <= limit``; the
limit is checked on the four length bytes, before any of the body is read.
Before the handshake's keys exist, a body is a plain payload (the `Hello`).
After, a body is ``seq (u64, big-endian) || ChaCha20-Poly1305(payload)``:
the IETF construction with a 12-byte nonce ``0x00000000 || seq`` and a
16-byte tag (ADR 0003). Each direction has its own key, and `seq` starts at
0 and grows by exactly one per frame; a frame with any other sequence number
is a replay or a reordering. Everything here is sans-I/O, so the raw test
peer uses the same code as the node.
"""

from __future__ import annotations

import struct
from typing import Final

from nacl.exceptions import CryptoError

from timecoin.p2p import aead
from timecoin.p2p.errors import (
    REJECT_BAD_SEQUENCE,
    REJECT_BAD_TAG,
    REJECT_MALFORMED,
    REJECT_OVERSIZED,
    protocol_violation,
)

__all__ = [
    "FRAME_HEADER_BYTES",
    "FRAME_OVERHEAD_BYTES",
    "KEY_BYTES",
    "MAX_SEQUENCE",
    "SEQ_BYTES",
    "TAG_BYTES",
    "FrameBuffer",
    "SecureChannel",
    "encode_frame",
]

FRAME_HEADER_BYTES: Final = 4
SEQ_BYTES: Final = 8
TAG_BYTES: Final = aead.TAG_BYTES
KEY_BYTES: Final = aead.KEY_BYTES
FRAME_OVERHEAD_BYTES: Final = FRAME_HEADER_BYTES + SEQ_BYTES + TAG_BYTES
"""Bytes a sealed frame adds to its payload."""
MAX_SEQUENCE: Final = 2**64 - 1
"""A channel closes rather than reuse a nonce; no rekeying exists."""

_U32: Final = struct.Struct(">I")
_U64: Final = struct.Struct(">Q")
_NONCE_PREFIX: Final = bytes(4)
_COMPACT_AT_BYTES: Final = 1 << 16


def encode_frame(body: bytes) -> bytes:
    """``len(body) || body``: a frame with a plain body (used for `Hello`)."""
    return _U32.pack(len(body)) + body


class FrameBuffer:
    """Reassembles frames from a byte stream.

    Bytes fed in stay buffered until a whole frame is there; `next_frame`
    checks each length against the caller's limit as soon as its four bytes
    arrive, so an oversized frame is refused before its body is read.
    """

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        """An empty buffer."""
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        """Append bytes received from the stream."""
        self._buf += data

    def buffered_bytes(self) -> int:
        """Bytes received and not yet returned as frames."""
        return len(self._buf) - self._pos

    def next_frame(self, max_body_bytes: int) -> bytes | None:
        """The next whole frame body, or None until more bytes arrive.

        Raises `PeerProtocolError` (oversized) if the announced length
        exceeds `max_body_bytes`.
        """
        buf = self._buf
        pos = self._pos
        available = len(buf) - pos
        if available < FRAME_HEADER_BYTES:
            self._compact()
            return None
        (length,) = _U32.unpack_from(buf, pos)
        if length > max_body_bytes:
            raise protocol_violation(
                REJECT_OVERSIZED, f"frame of {length} bytes, limit {max_body_bytes}"
            )
        end = pos + FRAME_HEADER_BYTES + length
        if end > len(buf):
            self._compact()
            return None
        body = bytes(buf[pos + FRAME_HEADER_BYTES : end])
        self._pos = end
        return body

    def _compact(self) -> None:
        if self._pos and (self._pos >= _COMPACT_AT_BYTES or self._pos == len(self._buf)):
            del self._buf[: self._pos]
            self._pos = 0


class SecureChannel:
    """Seals outgoing and opens incoming frames with per-direction keys."""

    __slots__ = ("_recv_key", "_recv_seq", "_send_key", "_send_seq")

    def __init__(self, send_key: bytes, recv_key: bytes) -> None:
        """A channel whose sequence numbers start at 0 in both directions.

        Raises ValueError unless both keys are `KEY_BYTES` long.
        """
        if len(send_key) != KEY_BYTES or len(recv_key) != KEY_BYTES:
            raise ValueError(f"channel keys must be {KEY_BYTES} bytes")
        self._send_key = bytes(send_key)
        self._recv_key = bytes(recv_key)
        self._send_seq = 0
        self._recv_seq = 0

    @property
    def next_send_seq(self) -> int:
        """The sequence number the next sealed frame carries."""
        return self._send_seq

    @property
    def next_recv_seq(self) -> int:
        """The sequence number the next opened frame must carry."""
        return self._recv_seq

    def seal(self, payload: bytes) -> bytes:
        """The whole frame (length prefix included) carrying `payload`.

        Raises OverflowError once the sequence numbers are used up.
        """
        seq = self._send_seq
        if seq >= MAX_SEQUENCE:
            raise OverflowError("channel sequence numbers exhausted")
        self._send_seq = seq + 1
        seq_bytes = _U64.pack(seq)
        sealed = aead.seal(payload, _NONCE_PREFIX + seq_bytes, self._send_key)
        return _U32.pack(SEQ_BYTES + len(sealed)) + seq_bytes + sealed

    def open(self, body: bytes) -> bytes:
        """The payload of a received frame body (its length prefix removed).

        Raises `PeerProtocolError`: malformed (too short), bad-sequence (a
        replayed, reordered or skipped frame) or bad-tag (forged or
        corrupted). The tag check is libsodium's constant-time comparison.
        """
        if len(body) < SEQ_BYTES + TAG_BYTES:
            raise protocol_violation(REJECT_MALFORMED, f"frame body of {len(body)} bytes")
        (seq,) = _U64.unpack_from(body, 0)
        if seq != self._recv_seq or seq >= MAX_SEQUENCE:
            raise protocol_violation(
                REJECT_BAD_SEQUENCE, f"frame sequence {seq}, expected {self._recv_seq}"
            )
        try:
            payload = aead.open_sealed(
                body[SEQ_BYTES:], _NONCE_PREFIX + body[:SEQ_BYTES], self._recv_key
            )
        except CryptoError:
            raise protocol_violation(REJECT_BAD_TAG, f"frame {seq}: tag mismatch") from None
        self._recv_seq = seq + 1
        return payload
