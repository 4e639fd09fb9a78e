"""Messages, frames and the sealed channel as pure functions."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
from p2p_helpers import make_tx, make_vote

from timecoin.crypto import sha256
from timecoin.encoding import DecodeError
from timecoin.p2p import (
    Addr,
    GetAddr,
    GetBlocks,
    GetData,
    HeartbeatMsg,
    Inv,
    InvKind,
    MessageClass,
    NetAddress,
    NotFound,
    Ping,
    Pong,
    Reject,
    Txs,
    VoteMsg,
    class_of,
    decode_message,
    encode_message,
)
from timecoin.p2p.channel import FrameBuffer, SecureChannel, encode_frame
from timecoin.p2p.errors import PeerProtocolError
from timecoin.p2p.messages import (
    MAX_INV_HASHES,
    MESSAGE_CLASS_BY_TAG,
    Blocks,
    Envelope,
    Message,
    peek_message_tag,
)
from timecoin.types import AttestedHeartbeat, Heartbeat

LIMIT = 16_000_000

SAMPLES: list[Message] = [
    Ping(nonce=1),
    Pong(nonce=2**63 - 1),
    GetAddr(),
    Addr(addresses=[NetAddress(ip=bytes([10, 0, 0, 1]), port=24100, last_seen_ms=5)]),
    Inv(kind=InvKind.TX, hashes=[sha256(b"a")]),
    GetData(kind=InvKind.BLOCK, hashes=[sha256(b"b")]),
    NotFound(kind=InvKind.EVIDENCE, hashes=[]),
    Txs(transactions=[make_tx(1), make_tx(2)]),
    VoteMsg(votes=[make_vote(3)]),
    GetBlocks(from_height=10, count=5),
    Blocks(blocks=[]),
    HeartbeatMsg(
        heartbeats=[
            AttestedHeartbeat(
                heartbeat=Heartbeat(
                    masternode_id=sha256(b"mn"), sequence=1, timestamp_ms=2, signature=bytes(64)
                ),
                attestations=[],
            )
        ]
    ),
    Reject(code="invalid-tx", reason="inputs missing", item_hash=sha256(b"t")),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip_class_and_tag(message: Message) -> None:
    payload = encode_message(message)
    assert decode_message(payload, LIMIT) == message
    tag = peek_message_tag(payload)
    assert tag == type(message).__struct_config__.tag
    assert MESSAGE_CLASS_BY_TAG[tag] is class_of(message)


def test_every_message_has_a_class_and_distinct_tag() -> None:
    variants = Message.__args__
    tags = [v.__struct_config__.tag for v in variants]
    assert len(set(tags)) == len(tags) == len(MESSAGE_CLASS_BY_TAG)
    assert class_of(VoteMsg(votes=[make_vote(1)])) is MessageClass.CONSENSUS
    assert class_of(GetBlocks(from_height=0, count=1)) is MessageClass.SYNC


def test_lists_are_bounded_before_allocation() -> None:
    too_many = msgspec.msgpack.encode([[5, 1, [sha256(b"x")] * (MAX_INV_HASHES + 1)]])
    with pytest.raises(DecodeError) as exc:
        decode_message(too_many, LIMIT)
    assert exc.value.reject_code == "malformed"
    with pytest.raises(DecodeError):
        decode_message(encode_message(GetBlocks(from_height=0, count=1))[:-1] + b"\x7f", LIMIT)


def test_unknown_tag_and_non_canonical_forms_are_rejected() -> None:
    with pytest.raises(DecodeError):
        decode_message(msgspec.msgpack.encode([[99, 1]]), LIMIT)
    # Ping(nonce=1) with the nonce as uint64 instead of a fixint.
    non_canonical = b"\x91\x92\x01\xcf" + (1).to_bytes(8, "big")
    with pytest.raises(DecodeError) as exc:
        decode_message(non_canonical, LIMIT)
    assert exc.value.reject_code == "non-canonical"
    with pytest.raises(DecodeError):
        peek_message_tag(b"\x92\x01\x02")
    with pytest.raises(DecodeError):
        decode_message(encode_message(Ping(nonce=1)) + b"\x00", LIMIT)
    assert isinstance(
        msgspec.msgpack.decode(encode_message(Ping(nonce=3)), type=Envelope), Envelope
    )


def test_sending_an_over_limit_message_is_our_error() -> None:
    with pytest.raises(DecodeError) as exc:
        decode_message(encode_message(Txs(transactions=[make_tx(i) for i in range(50)])), 100)
    assert exc.value.reject_code == "oversized"


def channel_pair() -> tuple[SecureChannel, SecureChannel]:
    k1, k2 = sha256(b"k1"), sha256(b"k2")
    return SecureChannel(k1, k2), SecureChannel(k2, k1)


def test_channel_seals_with_sequence_numbers_and_hides_the_payload() -> None:
    a, b = channel_pair()
    frames = [a.seal(b"payload %d" % i) for i in range(3)]
    assert all(b"payload" not in f for f in frames)
    assert [b.open(f[4:]) for f in frames] == [b"payload 0", b"payload 1", b"payload 2"]
    assert a.next_send_seq == b.next_recv_seq == 3


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda frames: frames[0], "bad-sequence"),  # replay of an old frame
        (lambda frames: frames[2], "bad-sequence"),  # skip ahead (reorder)
        (lambda frames: frames[1][:-1] + bytes([frames[1][-1] ^ 1]), "bad-tag"),
        (lambda frames: frames[1][:20] + bytes([frames[1][20] ^ 1]) + frames[1][21:], "bad-tag"),
        (lambda frames: frames[1][:10], "malformed"),
    ],
)
def test_channel_rejects_replay_reorder_and_forgery(
    mutate: Callable[[list[bytes]], bytes], code: str
) -> None:
    a, b = channel_pair()
    frames = [a.seal(b"message %d" % i) for i in range(3)]
    b.open(frames[0][4:])
    with pytest.raises(PeerProtocolError) as exc:
        b.open(mutate(frames)[4:])
    assert exc.value.reject_code == code
    assert exc.value.ban


def test_frame_buffer_rejects_oversized_lengths_before_the_body() -> None:
    buf = FrameBuffer()
    buf.feed((1_000_001).to_bytes(4, "big"))
    with pytest.raises(PeerProtocolError) as exc:
        buf.next_frame(1_000_000)
    assert exc.value.reject_code == "oversized"


def test_frame_buffer_reassembles_split_and_coalesced_frames() -> None:
    stream = b"".join(encode_frame(b"x" * n) for n in (0, 1, 70_000, 5))
    buf = FrameBuffer()
    out: list[bytes] = []
    for i in range(0, len(stream), 7_777):
        buf.feed(stream[i : i + 7_777])
        while (frame := buf.next_frame(100_000)) is not None:
            out.append(frame)
    assert [len(f) for f in out] == [0, 1, 70_000, 5]
    assert buf.buffered_bytes() == 0
