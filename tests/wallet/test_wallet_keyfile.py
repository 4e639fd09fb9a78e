"""The encrypted key file: round trip, atomic saves, and typed failures that
never modify the file."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wallet_helpers import FAST_KDF, MASTER_SEED, PASSWORD

from timecoin.wallet import (
    DEFAULT_KDF,
    KdfParams,
    KeyFile,
    WalletExistsError,
    WalletFileCorruptError,
    WalletNotFoundError,
    WrongPasswordError,
)
from timecoin.wallet.keyfile import MAX_KEY_FILE_BYTES, compute_checksum


def _create(tmp_path: Path, **kwargs: Any) -> KeyFile:
    return KeyFile.create(
        tmp_path / "wallet.json",
        PASSWORD,
        "minimal",
        kdf=FAST_KDF,
        master_seed=MASTER_SEED,
        **kwargs,
    )


def test_create_then_open_round_trips(tmp_path: Path) -> None:
    created = _create(tmp_path)
    opened = KeyFile.open(tmp_path / "wallet.json", PASSWORD)
    assert opened.master_seed == MASTER_SEED
    assert opened.network == created.network == "minimal"
    assert opened.key_count == 1
    assert opened.kdf == FAST_KDF


def test_file_is_private_and_no_temp_files_remain(tmp_path: Path) -> None:
    keyfile = _create(tmp_path)
    keyfile.save_key_count(5)
    mode = stat.S_IMODE(os.stat(tmp_path / "wallet.json").st_mode)
    assert mode == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wallet.json"]


def test_file_layout_is_documented_json(tmp_path: Path) -> None:
    _create(tmp_path)
    doc = json.loads((tmp_path / "wallet.json").read_text())
    assert list(doc) == ["format", "version", "network", "kdf", "cipher", "checksum"]
    assert doc["format"] == "timecoin-wallet"
    assert doc["version"] == 1
    assert doc["kdf"]["algorithm"] == "argon2id"
    assert doc["kdf"]["opslimit"] == FAST_KDF.opslimit
    assert doc["kdf"]["memlimit_bytes"] == FAST_KDF.memlimit_bytes
    assert len(bytes.fromhex(doc["kdf"]["salt"])) == 16
    assert doc["cipher"]["algorithm"] == "xsalsa20-poly1305"
    assert len(bytes.fromhex(doc["cipher"]["nonce"])) == 24
    assert MASTER_SEED.hex() not in (tmp_path / "wallet.json").read_text()


def test_save_uses_a_fresh_nonce_and_keeps_contents(tmp_path: Path) -> None:
    keyfile = _create(tmp_path)
    path = tmp_path / "wallet.json"
    before = json.loads(path.read_text())
    keyfile.save_key_count(7)
    after = json.loads(path.read_text())
    assert before["cipher"]["nonce"] != after["cipher"]["nonce"]
    assert before["kdf"] == after["kdf"]
    reopened = KeyFile.open(path, PASSWORD)
    assert reopened.key_count == 7
    assert reopened.master_seed == MASTER_SEED


def test_create_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "wallet.json"
    path.write_bytes(b"precious")
    with pytest.raises(WalletExistsError):
        _create(tmp_path)
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wallet.json"]


def test_missing_file_is_typed(tmp_path: Path) -> None:
    with pytest.raises(WalletNotFoundError):
        KeyFile.open(tmp_path / "absent.json", PASSWORD)
    with pytest.raises(WalletNotFoundError):
        KeyFile.open(tmp_path, PASSWORD)


def test_wrong_password_is_typed_and_leaves_file_unchanged(tmp_path: Path) -> None:
    _create(tmp_path)
    path = tmp_path / "wallet.json"
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    for wrong in ("", "Correct horse battery staple", PASSWORD + " ", b"\xff\x00"):
        with pytest.raises(WrongPasswordError, match="wrong password"):
            KeyFile.open(path, wrong)
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == mtime
    assert KeyFile.open(path, PASSWORD.encode()).master_seed == MASTER_SEED


def _rewrite(mutate: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    """A corruption that edits the JSON and recomputes the checksum."""

    def apply(data: bytes) -> bytes:
        doc = json.loads(data)
        mutate(doc)
        body = {k: v for k, v in doc.items() if k != "checksum"}
        doc["checksum"] = compute_checksum(body)
        return json.dumps(doc).encode()

    return apply


def _flip_ciphertext_char(data: bytes) -> bytes:
    doc = json.loads(data)
    text = doc["cipher"]["ciphertext"]
    doc["cipher"]["ciphertext"] = ("0" if text[0] != "0" else "1") + text[1:]
    return json.dumps(doc).encode()


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda data: b"",
    "truncated-1": lambda data: data[:1],
    "truncated-half": lambda data: data[: len(data) // 2],
    "truncated-last-brace": lambda data: data.rstrip()[:-1],
    "garbage": lambda data: os.urandom(len(data)),
    "binary-zeros": lambda data: bytes(len(data)),
    "not-utf8": lambda data: b"\xff\xfe" + data,
    "json-array": lambda data: b"[1, 2, 3]",
    "other-json": lambda data: b'{"hello": "world"}',
    "flipped-ciphertext": _flip_ciphertext_char,
    "checksum-damaged": lambda data: data.replace(b'"checksum": "', b'"checksum": "0f', 1),
    "version-2": _rewrite(lambda d: d.update(version=2)),
    "missing-cipher": _rewrite(lambda d: d.pop("cipher")),
    "extra-field": _rewrite(lambda d: d.update(extra=1)),
    "bool-opslimit": _rewrite(lambda d: d["kdf"].update(opslimit=True)),
    "float-memlimit": _rewrite(lambda d: d["kdf"].update(memlimit_bytes=8192.0)),
    "huge-memlimit": _rewrite(lambda d: d["kdf"].update(memlimit_bytes=2**42)),
    "huge-opslimit": _rewrite(lambda d: d["kdf"].update(opslimit=10**9)),
    "short-salt": _rewrite(lambda d: d["kdf"].update(salt="00" * 15)),
    "bad-hex-nonce": _rewrite(lambda d: d["cipher"].update(nonce="zz" * 24)),
    "other-kdf": _rewrite(lambda d: d["kdf"].update(algorithm="scrypt")),
    "other-cipher": _rewrite(lambda d: d["cipher"].update(algorithm="aes")),
    "network-relabelled": _rewrite(lambda d: d.update(network="mainnet")),
    "oversized": lambda data: data + b" " * MAX_KEY_FILE_BYTES,
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corrupt_file_is_typed_and_left_unchanged(tmp_path: Path, name: str) -> None:
    _create(tmp_path)
    path = tmp_path / "wallet.json"
    damaged = CORRUPTIONS[name](path.read_bytes())
    path.write_bytes(damaged)
    with pytest.raises(WalletFileCorruptError) as info:
        KeyFile.open(path, PASSWORD)
    assert str(path) in str(info.value)
    assert info.value.reject_code == "wallet-file-corrupt"
    assert path.read_bytes() == damaged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wallet.json"]


def test_every_truncation_is_corrupt(tmp_path: Path) -> None:
    _create(tmp_path)
    path = tmp_path / "wallet.json"
    full = path.read_bytes()
    for cut in range(0, len(full) - 2, 7):
        path.write_bytes(full[:cut])
        with pytest.raises(WalletFileCorruptError):
            KeyFile.open(path, PASSWORD)


def test_ciphertext_forged_with_a_valid_checksum_is_rejected(tmp_path: Path) -> None:
    # The checksum is no security measure: a deliberate edit that fixes it
    # up is caught by the cipher's authentication, as a failed decryption.
    _create(tmp_path)
    path = tmp_path / "wallet.json"

    def forge(doc: dict[str, Any]) -> None:
        text = doc["cipher"]["ciphertext"]
        doc["cipher"]["ciphertext"] = ("0" if text[0] != "0" else "1") + text[1:]

    path.write_bytes(_rewrite(forge)(path.read_bytes()))
    with pytest.raises(WrongPasswordError):
        KeyFile.open(path, PASSWORD)


def test_change_password(tmp_path: Path) -> None:
    keyfile = _create(tmp_path)
    path = tmp_path / "wallet.json"
    old_salt = json.loads(path.read_text())["kdf"]["salt"]
    keyfile.change_password("new password", KdfParams(2, 16384))
    doc = json.loads(path.read_text())
    assert doc["kdf"]["salt"] != old_salt
    assert doc["kdf"]["opslimit"] == 2
    with pytest.raises(WrongPasswordError):
        KeyFile.open(path, PASSWORD)
    reopened = KeyFile.open(path, "new password")
    assert reopened.master_seed == MASTER_SEED
    assert reopened.kdf == KdfParams(2, 16384)


def test_random_seed_when_none_given(tmp_path: Path) -> None:
    a = KeyFile.create(tmp_path / "a.json", PASSWORD, "minimal", kdf=FAST_KDF)
    b = KeyFile.create(tmp_path / "b.json", PASSWORD, "minimal", kdf=FAST_KDF)
    assert a.master_seed != b.master_seed


@pytest.mark.parametrize(
    "kwargs",
    [{"master_seed": bytes(31)}, {"network": ""}, {"network": "n" * 65}],
)
def test_create_rejects_bad_arguments(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"network": "minimal", "kdf": FAST_KDF, **kwargs}
    with pytest.raises(ValueError):
        KeyFile.create(tmp_path / "w.json", PASSWORD, **args)
    assert not (tmp_path / "w.json").exists()


@pytest.mark.parametrize(("ops", "mem"), [(0, 8192), (65, 8192), (1, 8191), (1, 2**31)])
def test_kdf_params_are_bounded(ops: int, mem: int) -> None:
    with pytest.raises(ValueError):
        KdfParams(ops, mem)


def test_default_kdf_is_libsodium_moderate() -> None:
    assert KdfParams(3, 256 * 1024 * 1024) == DEFAULT_KDF
