"""RPC authentication: the cookie file and HTTP Basic credentials.

As bitcoind: at start the server writes `<datadir>/.cookie` holding
`__cookie__:<64 hex digits>` (mode 0600, written to a temporary file and
renamed, so a reader never sees half of it) and removes it at stop. A
client on the same machine reads it and sends it as Basic credentials. A
configured user and password are accepted too.

Credentials are compared in constant time: each accepted `user:password`
is stored as its SHA-256 digest and the digest of the presented one is
compared with every accepted digest with `hmac.compare_digest`, so neither
the position of the first differing byte nor the length leaks.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from timecoin.crypto import sha256

COOKIE_FILENAME: Final = ".cookie"
RPC_URL_FILENAME: Final = "rpc.url"
"""Where a running server writes its bound URL (`[rpc] port = 0` picks any
port; clients read the file to find it)."""
_ANY_ADDRESS: Final = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
COOKIE_USER: Final = "__cookie__"
COOKIE_SECRET_BYTES: Final = 32
COOKIE_FILE_MODE: Final = 0o600
MAX_AUTHORIZATION_CHARS: Final = 4_096
"""Longest Authorization header considered; longer ones fail without decoding."""


def cookie_path_for(datadir: Path) -> Path:
    """`<datadir>/.cookie`."""
    return datadir / COOKIE_FILENAME


def rpc_url_path_for(datadir: Path) -> Path:
    """`<datadir>/rpc.url`."""
    return datadir / RPC_URL_FILENAME


def compute_local_url(host: str, port: int) -> str:
    """The URL a client on this host uses for a server bound to `host:port`
    (a wildcard bind address means loopback)."""
    shown = _ANY_ADDRESS.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def write_rpc_url(path: Path, url: str) -> None:
    """Write `url` and a newline to `path` atomically (temp file + rename).

    Raises OSError when the directory is missing or not writable.
    """
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(url + "\n", encoding="ascii")
    os.replace(tmp, path)


def read_rpc_url(path: Path) -> str | None:
    """The URL in `path`, or None when the file is absent or not a URL."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if text.startswith("http://") and len(text) < 300 else None


def remove_rpc_url(path: Path, url: str) -> None:
    """Delete `path` if it still holds `url` (another server's is left alone)."""
    if read_rpc_url(path) == url:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def generate_cookie() -> str:
    """A fresh `__cookie__:<secret>` credential (32 random bytes in hex)."""
    return f"{COOKIE_USER}:{secrets.token_hex(COOKIE_SECRET_BYTES)}"


def write_cookie(path: Path, credential: str) -> None:
    """Write `credential` to `path` with mode 0600, atomically (temp file + rename).

    Raises OSError when the directory is missing or not writable.
    """
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, COOKIE_FILE_MODE)
    try:
        os.write(fd, credential.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def remove_cookie(path: Path, credential: str) -> None:
    """Delete the cookie file if it still holds `credential` (another node's
    cookie, written after ours, is left alone)."""
    try:
        current = path.read_text(encoding="ascii")
    except (FileNotFoundError, UnicodeDecodeError):
        return
    if hmac.compare_digest(current.strip().encode(), credential.encode()):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def read_cookie(path: Path) -> tuple[str, str]:
    """(user, password) from a cookie file.

    Raises OSError if it cannot be read, ValueError if it has no `:`.
    """
    text = path.read_text(encoding="utf-8").strip()
    user, sep, password = text.partition(":")
    if not sep:
        raise ValueError(f"{path}: not a cookie file (expected user:password)")
    return user, password


def parse_basic_authorization(header: str | None) -> str | None:
    """The `user:password` of an `Authorization: Basic ...` header, or None."""
    if header is None or len(header) > MAX_AUTHORIZATION_CHARS:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded if ":" in decoded else None


class Credentials:
    """The `user:password` strings the server accepts, kept as digests."""

    __slots__ = ("_digests",)

    def __init__(self, accepted: Iterable[str]) -> None:
        """Accept each `user:password` of `accepted` (at least one)."""
        self._digests = tuple(sha256(item.encode("utf-8")) for item in accepted)
        if not self._digests:
            raise ValueError("no RPC credentials to accept")

    def check(self, presented: str | None) -> bool:
        """True when `presented` is one of the accepted credentials (constant time)."""
        if presented is None:
            return False
        digest = sha256(presented.encode("utf-8"))
        matched = False
        for accepted in self._digests:
            matched |= hmac.compare_digest(digest, accepted)
        return matched
