"""The `timecoin devnet` and `timecoin wallet` commands, run as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from timecoin.crypto import decode_address
from timecoin.encoding import decode
from timecoin.params import DEVNET
from timecoin.types import Transaction

PASSWORD = "correct horse battery staple"


def run(*args: str, env_password: str | None = PASSWORD, check: bool = True) -> str:
    env = dict(os.environ)
    env.pop("TIMECOIN_WALLET_PASSWORD", None)
    if env_password is not None:
        env["TIMECOIN_WALLET_PASSWORD"] = env_password
    proc = subprocess.run(
        [sys.executable, "-m", "timecoin.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc.stdout + proc.stderr if not check else proc.stdout


def field(output: str, name: str) -> str:
    for line in output.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name!r} in {output!r}")


def test_devnet_creates_funded_chain_and_is_idempotent(tmp_path: Path) -> None:
    datadir = tmp_path / "devnet"
    first = run("devnet", "--datadir", str(datadir))
    assert field(first, "balance") == "1000000.00000000 TIME"
    assert "(new)" in field(first, "wallet")
    second = run("devnet", "--datadir", str(datadir))
    assert field(second, "chain tip") == field(first, "chain tip")
    assert field(second, "address") == field(first, "address")
    assert field(second, "balance") == "1000000.00000000 TIME"
    assert oct((datadir / "wallet.password").stat().st_mode & 0o777) == "0o600"


def test_wallet_send_marks_coins_and_never_double_spends(tmp_path: Path) -> None:
    datadir = tmp_path / "devnet"
    run("devnet", "--datadir", str(datadir))
    wallet = str(datadir / "wallet.json")
    pw_file = str(datadir / "wallet.password")
    other = tmp_path / "other.json"
    dest = run("wallet", "create", "--wallet", str(other)).strip()
    assert decode_address(dest, DEVNET.address_hrp)
    out = run(
        "wallet",
        "send",
        "--wallet",
        wallet,
        "--password-file",
        pw_file,
        "--datadir",
        str(datadir),
        dest,
        "12.5",
    )
    tx = decode(bytes.fromhex(field(out, "hex")), Transaction, DEVNET.sizes.max_tx_bytes)
    assert any(o.amount == 1_250_000_000 for o in tx.outputs)
    # The only coin is now marked: a second payment must be refused, not signed.
    again = run(
        "wallet",
        "send",
        "--wallet",
        wallet,
        "--password-file",
        pw_file,
        "--datadir",
        str(datadir),
        dest,
        "1",
        check=False,
    )
    assert "hex:" not in again
    assert "insufficient" in again.lower() or "locked" in again.lower()


def test_wrong_password_is_a_clear_error_and_file_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    run("wallet", "create", "--wallet", str(path))
    before = path.read_bytes()
    out = run("wallet", "address", "--wallet", str(path), env_password="wrong", check=False)
    assert "password" in out.lower()
    assert "Traceback" not in out
    assert path.read_bytes() == before


@pytest.mark.parametrize("garbage", [b"", b"{not json", b"\x00" * 100])
def test_corrupt_wallet_file_is_a_clear_error(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "w.json"
    path.write_bytes(garbage)
    out = run("wallet", "address", "--wallet", str(path), check=False)
    assert "Traceback" not in out
    assert "corrupt" in out.lower() or "damaged" in out.lower() or "invalid" in out.lower()
    assert path.read_bytes() == garbage


def test_balance_without_chain_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    run("wallet", "create", "--wallet", str(path))
    out = run(
        "wallet", "balance", "--wallet", str(path), "--datadir", str(tmp_path / "none"), check=False
    )
    assert "no chain" in out


def test_unknown_lowercase_command_is_an_rpc_method(tmp_path: Path) -> None:
    out = run("getblockcount", "--datadir", str(tmp_path), check=False)
    assert "No such command" not in out
    assert "cookie" in out.lower() or "credentials" in out.lower()
    out = run("Not-A-Method", check=False)
    assert "No such command" in out
