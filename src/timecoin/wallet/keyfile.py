"""The encrypted key file: a master seed under a password.

The file is UTF-8 JSON (docs/spec/wallet.md gives every field):

    {"format": "timecoin-wallet", "version": 1, "network": "mainnet",
     "kdf": {"algorithm": "argon2id", "opslimit": 3,
             "memlimit_bytes": 268435456, "salt": "<16 bytes hex>"},
     "cipher": {"algorithm": "xsalsa20-poly1305",
                "nonce": "<24 bytes hex>", "ciphertext": "<hex>"},
     "checksum": "<SHA-256 hex of the canonical JSON of the other fields>"}

The password and salt give a 32-byte key through Argon2id; libsodium's
secretbox (XSalsa20-Poly1305) encrypts the canonical encoding of
`WalletSecrets` (network, master seed, key count) under a fresh random nonce
at every save.

The checksum tells corruption apart from a wrong password: a file whose
checksum fails is `WalletFileCorruptError`; an intact file that does not
decrypt is `WrongPasswordError`. It is not a security measure: secretbox
authenticates the secrets, and the network name inside them must match the
one in the clear. Opening only reads the file; saving replaces it
atomically (fileio), with mode 0600.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec
import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils
from msgspec import Meta

from timecoin.crypto import sha256
from timecoin.encoding import DecodeError, decode, encode
from timecoin.wallet.errors import (
    WalletExistsError,
    WalletFileCorruptError,
    WalletNotFoundError,
    WrongPasswordError,
)
from timecoin.wallet.fileio import create_file_atomic, read_file_limited, replace_file_atomic
from timecoin.wallet.keys import MASTER_SEED_BYTES, MAX_KEYS, generate_master_seed

FORMAT_NAME: Final = "timecoin-wallet"
FORMAT_VERSION: Final = 1
KDF_ALGORITHM: Final = "argon2id"
CIPHER_ALGORITHM: Final = "xsalsa20-poly1305"
MAX_KEY_FILE_BYTES: Final = 64 * 1024
MAX_SECRETS_BYTES: Final = 1024
MAX_NETWORK_NAME_CHARS: Final = 64

_ARGON2ID: Any = nacl.pwhash.argon2id
SALT_BYTES: Final[int] = _ARGON2ID.SALTBYTES
NONCE_BYTES: Final[int] = nacl.secret.SecretBox.NONCE_SIZE
BOX_KEY_BYTES: Final[int] = nacl.secret.SecretBox.KEY_SIZE
MIN_OPSLIMIT: Final[int] = _ARGON2ID.OPSLIMIT_MIN
MAX_OPSLIMIT: Final = 64
MIN_MEMLIMIT_BYTES: Final[int] = _ARGON2ID.MEMLIMIT_MIN
MAX_MEMLIMIT_BYTES: Final[int] = _ARGON2ID.MEMLIMIT_SENSITIVE
"""Bounds a file's KDF parameters must respect, checked before any hashing,
so a damaged file cannot make us allocate gigabytes or spin for hours."""


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost: passes over memory (`opslimit`) and memory in bytes."""

    opslimit: int
    memlimit_bytes: int

    def __post_init__(self) -> None:
        if not MIN_OPSLIMIT <= self.opslimit <= MAX_OPSLIMIT:
            raise ValueError(f"opslimit {self.opslimit} outside {MIN_OPSLIMIT} .. {MAX_OPSLIMIT}")
        if not MIN_MEMLIMIT_BYTES <= self.memlimit_bytes <= MAX_MEMLIMIT_BYTES:
            raise ValueError(
                f"memlimit {self.memlimit_bytes} bytes outside "
                f"{MIN_MEMLIMIT_BYTES} .. {MAX_MEMLIMIT_BYTES}"
            )


DEFAULT_KDF: Final = KdfParams(_ARGON2ID.OPSLIMIT_MODERATE, _ARGON2ID.MEMLIMIT_MODERATE)
"""libsodium's "moderate" Argon2id cost: 3 passes over 256 MiB (about a second)."""


class WalletSecrets(msgspec.Struct, array_like=True, frozen=True):
    """What the key file encrypts."""

    network: Annotated[str, Meta(min_length=1, max_length=MAX_NETWORK_NAME_CHARS)]
    master_seed: Annotated[bytes, Meta(min_length=MASTER_SEED_BYTES, max_length=MASTER_SEED_BYTES)]
    key_count: Annotated[int, Meta(ge=1, le=MAX_KEYS)]


def _password_bytes(password: str | bytes) -> bytes:
    return password.encode("utf-8") if isinstance(password, str) else bytes(password)


def compute_box_key(password: str | bytes, salt: bytes, kdf: KdfParams) -> bytes:
    """The secretbox key Argon2id derives from `password` and `salt`."""
    key: bytes = _ARGON2ID.kdf(
        BOX_KEY_BYTES, _password_bytes(password), salt, kdf.opslimit, kdf.memlimit_bytes
    )
    return key


def _canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def compute_checksum(body: dict[str, Any]) -> str:
    """The checksum field: SHA-256 hex of the canonical JSON of the other fields."""
    return sha256(_canonical_json(body)).hex()


def _corrupt(path: Path, why: str) -> WalletFileCorruptError:
    return WalletFileCorruptError(f"{path}: {why}")


def _field(obj: dict[str, Any], name: str, kind: type, path: Path, where: str) -> Any:
    value = obj.get(name)
    # `type(...) is` so that JSON true/false is not accepted as an integer.
    if type(value) is not kind:
        raise _corrupt(path, f"{where}{name}: expected {kind.__name__}, got {value!r:.40}")
    return value


def _hex_field(obj: dict[str, Any], name: str, size: int | None, path: Path, where: str) -> bytes:
    text = _field(obj, name, str, path, where)
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise _corrupt(path, f"{where}{name}: not hexadecimal") from None
    if size is not None and len(value) != size:
        raise _corrupt(path, f"{where}{name}: expected {size} bytes, got {len(value)}")
    return value


def _exact_keys(obj: dict[str, Any], keys: set[str], path: Path, where: str) -> None:
    if set(obj) != keys:
        raise _corrupt(path, f"{where}fields {sorted(obj)}, expected {sorted(keys)}")


@dataclass(frozen=True, slots=True)
class _Envelope:
    network: str
    kdf: KdfParams
    salt: bytes
    nonce: bytes
    ciphertext: bytes


def _parse_envelope(path: Path, data: bytes) -> _Envelope:
    """Check the file's structure and checksum; raises WalletFileCorruptError."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _corrupt(path, f"not a JSON document (truncated or damaged?): {exc}") from None
    if not isinstance(doc, dict):
        raise _corrupt(path, "not a TimeCoin wallet file (top level is not an object)")
    if doc.get("format") != FORMAT_NAME:
        raise _corrupt(path, f"not a TimeCoin wallet file (format {doc.get('format')!r:.40})")
    if doc.get("version") != FORMAT_VERSION:
        raise _corrupt(
            path,
            f"unsupported format version {doc.get('version')!r:.20}; this software "
            f"reads version {FORMAT_VERSION}",
        )
    _exact_keys(doc, {"format", "version", "network", "kdf", "cipher", "checksum"}, path, "")
    checksum = _field(doc, "checksum", str, path, "")
    body = {k: v for k, v in doc.items() if k != "checksum"}
    if compute_checksum(body) != checksum:
        raise _corrupt(path, "checksum mismatch: the file was modified or damaged")
    network = _field(doc, "network", str, path, "")
    kdf_obj = _field(doc, "kdf", dict, path, "")
    cipher_obj = _field(doc, "cipher", dict, path, "")
    _exact_keys(kdf_obj, {"algorithm", "opslimit", "memlimit_bytes", "salt"}, path, "kdf.")
    _exact_keys(cipher_obj, {"algorithm", "nonce", "ciphertext"}, path, "cipher.")
    if kdf_obj["algorithm"] != KDF_ALGORITHM:
        raise _corrupt(path, f"kdf.algorithm {kdf_obj['algorithm']!r:.40}, expected argon2id")
    if cipher_obj["algorithm"] != CIPHER_ALGORITHM:
        raise _corrupt(path, f"cipher.algorithm {cipher_obj['algorithm']!r:.40}")
    try:
        kdf = KdfParams(
            _field(kdf_obj, "opslimit", int, path, "kdf."),
            _field(kdf_obj, "memlimit_bytes", int, path, "kdf."),
        )
    except ValueError as exc:
        raise _corrupt(path, f"kdf: {exc}") from None
    return _Envelope(
        network=network,
        kdf=kdf,
        salt=_hex_field(kdf_obj, "salt", SALT_BYTES, path, "kdf."),
        nonce=_hex_field(cipher_obj, "nonce", NONCE_BYTES, path, "cipher."),
        ciphertext=_hex_field(cipher_obj, "ciphertext", None, path, "cipher."),
    )


def _serialize(network: str, kdf: KdfParams, salt: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    body: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "network": network,
        "kdf": {
            "algorithm": KDF_ALGORITHM,
            "opslimit": kdf.opslimit,
            "memlimit_bytes": kdf.memlimit_bytes,
            "salt": salt.hex(),
        },
        "cipher": {
            "algorithm": CIPHER_ALGORITHM,
            "nonce": nonce.hex(),
            "ciphertext": ciphertext.hex(),
        },
    }
    doc = {**body, "checksum": compute_checksum(body)}
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


class KeyFile:
    """An open key file: its decrypted secrets and the key to save them again.

    The Argon2id-derived key stays in memory so that saves (a new address, a
    new key count) need no password; `change_password` derives a new one.
    Python cannot reliably wipe memory: keep the process's memory private.
    """

    def __init__(
        self, path: Path, kdf: KdfParams, salt: bytes, box_key: bytes, secrets: WalletSecrets
    ) -> None:
        """Use `create` or `open`; this only assembles an already-checked file."""
        self._path = path
        self._kdf = kdf
        self._salt = salt
        self._box_key = box_key
        self._secrets = secrets

    @classmethod
    def create(
        cls,
        path: str | Path,
        password: str | bytes,
        network: str,
        *,
        kdf: KdfParams = DEFAULT_KDF,
        master_seed: bytes | None = None,
    ) -> KeyFile:
        """Create a new key file for `network`; a fresh master seed unless one is given.

        Raises WalletExistsError if `path` exists (it is never overwritten)
        and ValueError for a malformed network name or master seed.
        """
        path = Path(path)
        seed = generate_master_seed() if master_seed is None else master_seed
        if len(seed) != MASTER_SEED_BYTES:
            raise ValueError(f"master seed: expected {MASTER_SEED_BYTES} bytes, got {len(seed)}")
        if not 1 <= len(network) <= MAX_NETWORK_NAME_CHARS:
            raise ValueError(f"network name must have 1 .. {MAX_NETWORK_NAME_CHARS} characters")
        salt = nacl.utils.random(SALT_BYTES)
        box_key = compute_box_key(password, salt, kdf)
        keyfile = cls(path, kdf, salt, box_key, WalletSecrets(network, seed, 1))
        try:
            create_file_atomic(path, keyfile._serialize())
        except FileExistsError:
            raise WalletExistsError(f"{path}: a file already exists there") from None
        return keyfile

    @classmethod
    def open(cls, path: str | Path, password: str | bytes) -> KeyFile:
        """Read and decrypt the key file at `path`. Never modifies the file.

        Raises WalletNotFoundError, WalletFileCorruptError (truncated,
        damaged, not a wallet file, unsupported version) or
        WrongPasswordError (intact file, wrong password).
        """
        path = Path(path)
        try:
            data = read_file_limited(path, MAX_KEY_FILE_BYTES)
        except FileNotFoundError:
            raise WalletNotFoundError(f"{path}: no wallet file") from None
        except IsADirectoryError:
            raise WalletNotFoundError(f"{path}: is a directory, not a wallet file") from None
        if data is None:
            raise _corrupt(path, f"larger than {MAX_KEY_FILE_BYTES} bytes: not a wallet file")
        envelope = _parse_envelope(path, data)
        box_key = compute_box_key(password, envelope.salt, envelope.kdf)
        try:
            plaintext = nacl.secret.SecretBox(box_key).decrypt(envelope.ciphertext, envelope.nonce)
        except nacl.exceptions.CryptoError:
            raise WrongPasswordError(f"{path}: wrong password") from None
        try:
            secrets = decode(plaintext, WalletSecrets, MAX_SECRETS_BYTES)
        except DecodeError as exc:
            raise _corrupt(path, f"decrypted secrets are malformed: {exc}") from None
        if secrets.network != envelope.network:
            raise _corrupt(
                path, f"network {envelope.network!r} in the clear but {secrets.network!r} inside"
            )
        return cls(path, envelope.kdf, envelope.salt, box_key, secrets)

    @property
    def path(self) -> Path:
        """Where the file lives."""
        return self._path

    @property
    def network(self) -> str:
        """The name of the network the wallet belongs to."""
        return self._secrets.network

    @property
    def kdf(self) -> KdfParams:
        """The Argon2id cost the file uses."""
        return self._kdf

    @property
    def master_seed(self) -> bytes:
        """The 32-byte master seed (secret)."""
        return self._secrets.master_seed

    @property
    def key_count(self) -> int:
        """How many keys the wallet has derived (at least 1)."""
        return self._secrets.key_count

    def _serialize(self) -> bytes:
        nonce = nacl.utils.random(NONCE_BYTES)
        box = nacl.secret.SecretBox(self._box_key)
        ciphertext = box.encrypt(encode(self._secrets), nonce).ciphertext
        return _serialize(self._secrets.network, self._kdf, self._salt, nonce, bytes(ciphertext))

    def save(self) -> None:
        """Write the file again, atomically and durably, under a fresh nonce."""
        replace_file_atomic(self._path, self._serialize())

    def save_key_count(self, key_count: int) -> None:
        """Record a new key count and save; on failure nothing changes in memory."""
        previous = self._secrets
        self._secrets = msgspec.structs.replace(previous, key_count=key_count)
        try:
            self.save()
        except BaseException:
            self._secrets = previous
            raise

    def change_password(self, new_password: str | bytes, kdf: KdfParams | None = None) -> None:
        """Re-encrypt under `new_password` (new salt; optionally a new KDF cost) and save."""
        new_kdf = self._kdf if kdf is None else kdf
        new_salt = nacl.utils.random(SALT_BYTES)
        new_key = compute_box_key(new_password, new_salt, new_kdf)
        previous = (self._kdf, self._salt, self._box_key)
        self._kdf, self._salt, self._box_key = new_kdf, new_salt, new_key
        try:
            self.save()
        except BaseException:
            self._kdf, self._salt, self._box_key = previous
            raise
