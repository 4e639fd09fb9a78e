"""Key files of a node: the masternode operator key and the p2p identity key.

A key file holds the 32-byte Ed25519 seed as 64 hex digits and a newline,
mode 0600. `load_or_create_key` creates it on first start (atomically, so a
crash never leaves half a key) and reads it afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from timecoin.crypto import SigningKey
from timecoin.crypto.ed25519 import SEED_SIZE

KEY_FILE_MODE: Final = 0o600
MAX_KEY_FILE_BYTES: Final = 256


class KeyFileError(Exception):
    """A key file that cannot be read or written; the message names the file."""


def write_key_file(path: Path, key: SigningKey) -> None:
    """Write `key`'s seed to `path` (mode 0600, atomic); KeyFileError if it exists."""
    if path.exists():
        raise KeyFileError(f"{path}: already exists; not overwriting a key")
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, KEY_FILE_MODE)
        try:
            os.write(fd, (key.seed.hex() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot write the key file: {exc.strerror}") from None


def read_key_file(path: Path) -> SigningKey:
    """The key stored in `path`; KeyFileError when absent or malformed."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the key file: {exc.strerror}") from None
    text = data.decode("ascii", errors="replace").strip()
    if len(data) > MAX_KEY_FILE_BYTES or len(text) != 2 * SEED_SIZE:
        raise KeyFileError(f"{path}: expected {2 * SEED_SIZE} hex digits")
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        raise KeyFileError(f"{path}: expected {2 * SEED_SIZE} hex digits") from None
    return SigningKey.from_seed(seed)


def load_or_create_key(path: Path) -> SigningKey:
    """The key in `path`, created with a fresh random seed when the file is absent."""
    if not path.exists():
        write_key_file(path, SigningKey.generate())
    return read_key_file(path)
