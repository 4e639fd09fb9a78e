"""Durable file operations shared by the key file and the spend journal.

A file is replaced atomically: the new contents go to a temporary file in
the same directory (mode 0600), which is flushed and fsynced, then renamed
over the old name, and the directory is fsynced so the rename itself is
durable. A reader sees either the old file or the new one, never a mix,
even across a crash or power loss.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from pathlib import Path
from typing import Final

FILE_MODE: Final = 0o600
"""Permissions of every wallet file: readable and writable by the owner only."""


def fsync_directory(directory: Path) -> None:
    """Make the entries of `directory` (a create, rename or unlink) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to `fd`, looping over short writes."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_temp(path: Path, data: bytes) -> Path:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    try:
        write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    os.close(fd)
    return temp


def replace_file_atomic(path: Path, data: bytes) -> None:
    """Replace (or create) `path` with `data`, atomically and durably."""
    temp = _write_temp(path, data)
    try:
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_directory(path.parent)


def create_file_atomic(path: Path, data: bytes) -> None:
    """Create `path` holding `data`, atomically and durably.

    Raises FileExistsError, leaving the existing file untouched, when `path`
    exists: the complete temporary file is hard-linked to the final name,
    which fails rather than overwrites.
    """
    temp = _write_temp(path, data)
    try:
        os.link(temp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    fsync_directory(path.parent)


def read_file_limited(path: Path, max_bytes: int) -> bytes | None:
    """The contents of `path`, or None when it holds more than `max_bytes` bytes.

    Raises FileNotFoundError when it does not exist. Never reads more than
    `max_bytes + 1` bytes, so a huge file costs no memory.
    """
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        return None
    return data


class ExclusiveLock:
    """An exclusive advisory lock (flock) on a lock file, held until `release`.

    flock locks belong to an open file description, so a second handle in
    the same process conflicts too: one wallet file, one open wallet.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; False when someone else holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        """Drop the lock (idempotent). The lock file itself stays."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
