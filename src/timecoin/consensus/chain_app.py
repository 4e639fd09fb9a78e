"""The `BlockApp` over the chain layer, shared by the node and the simulator.

Both composition roots agree on blocks of `timecoin.types.Block`, built and
validated by `timecoin.chain` against their tip. What differs (where the tip
lives, how validation results are cached, which pools feed the builder) is
behind the small `BlockHost` protocol.
"""

from __future__ import annotations

from typing import Protocol

from timecoin.chain import ChainState
from timecoin.encoding import decode, encode
from timecoin.params import ChainParams
from timecoin.types import Block, compute_block_hash


class BlockHost(Protocol):
    """What `ChainBlockApp` needs from its driver."""

    @property
    def params(self) -> ChainParams:
        """The chain parameters."""
        ...

    @property
    def state(self) -> ChainState:
        """The chain state after the tip."""
        ...

    def build_block(self, timestamp_ms: int) -> Block | None:
        """A block after the tip with header timestamp `timestamp_ms`, or None."""
        ...

    def is_valid_child(self, block: Block) -> bool:
        """Whether `block` is a valid child of the tip (`validate_block`)."""
        ...


def as_block(value: object) -> Block:
    """`value` as a Block; TypeError otherwise (the machines only hold our blocks)."""
    if not isinstance(value, Block):
        raise TypeError(f"expected a Block, got {type(value).__name__}")
    return value


class ChainBlockApp:
    """The consensus machine's `BlockApp`: `timecoin.types.Block` values built
    and validated by the chain layer against the host's tip."""

    def __init__(self, host: BlockHost) -> None:
        """The application of `host`."""
        self._host = host

    def build_proposal(self, height: int, round: int, timestamp_ms: int) -> object | None:
        """A new block from the host, or None when the host is not at `height - 1`."""
        if self._host.state.height != height - 1:
            return None
        return self._host.build_block(timestamp_ms)

    def validate_proposal(self, height: int, block_value: object, timestamp_ms: int) -> bool:
        """`validate_block` against the host's tip, and the proposal's height and
        timestamp in the header."""
        if not isinstance(block_value, Block):
            return False
        header = block_value.header
        if header.height != height or header.timestamp_ms != timestamp_ms:
            return False
        return self._host.is_valid_child(block_value)

    def block_hash(self, block_value: object) -> bytes:
        """The header hash."""
        return compute_block_hash(as_block(block_value).header)

    def encode_block(self, block_value: object) -> bytes:
        """The canonical block bytes."""
        return encode(as_block(block_value))

    def decode_block(self, data: bytes) -> object:
        """The block of `data`; raises DecodeError."""
        return decode(data, Block, self._host.params.sizes.max_block_bytes)
