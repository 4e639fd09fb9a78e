"""The typed errors of bad input. Each carries a reject code and a message.

These are for input from outside (peers, users, disk corruption); our own
invariant violations are `AssertionError`s and bugs.
"""

from __future__ import annotations


class TimecoinError(Exception):
    """Base of every typed input error."""

    def __init__(self, reject_code: str, message: str) -> None:
        super().__init__(f"{reject_code}: {message}")
        self.reject_code = reject_code
        self.message = message


class InvalidTransaction(TimecoinError):
    """A transaction breaks a consensus rule."""


class InvalidBlock(TimecoinError):
    """A block breaks a consensus rule."""


class InvalidVote(TimecoinError):
    """A vote, proposal or certificate breaks a consensus rule."""


class ProtocolError(TimecoinError):
    """A peer broke the wire protocol."""
