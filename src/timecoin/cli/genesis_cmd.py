"""`timecoin genesis new|show`: build the genesis block of a new network from
a manifest, and show what a genesis file holds (to check a file received).

A manifest is TOML (docs/operator.md shows one):

    network = "testnet"                # parameters preset
    timestamp_ms = 1767225600000       # optional; default: now

    [[masternodes]]                    # one per initial masternode
    tier = "bronze"                    # its collateral is created by genesis
    operator_key = "<64 hex digits>"   # the node's operator public key
    owner_key = "<64 hex digits>"      # optional; default: the operator key
    reward_address = "<address>"       # optional; default: the owner key's address
    network_address = "203.0.113.1:24200"

    [[allocations]]                    # coins genesis pays
    address = "<address>"
    amount = "1000000"                 # TIME, up to 8 decimals

Every key is checked: an unknown key, a malformed key or address, or a bad
tier is refused with a message naming the entry and the key.
"""

from __future__ import annotations

import time
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

import click

from timecoin.chain import GenesisMasternode, GenesisSpec, build_genesis
from timecoin.crypto import AddressError, address_from_public_key, decode_address, encode_address
from timecoin.encoding import DecodeError, decode, encode
from timecoin.masternode import registry_from_genesis
from timecoin.params import COIN, PRESETS, Tier, get_preset
from timecoin.types import Block, InvalidBlock, compute_block_hash

MAX_MANIFEST_BYTES: Final = 4_000_000
MAX_GENESIS_BYTES: Final = 16_000_000
_TOP_KEYS: Final = frozenset({"network", "timestamp_ms", "masternodes", "allocations"})
_MASTERNODE_KEYS: Final = frozenset(
    {"tier", "operator_key", "owner_key", "reward_address", "network_address"}
)
_ALLOCATION_KEYS: Final = frozenset({"address", "amount"})


class ManifestError(click.ClickException):
    """A manifest that cannot build a genesis; the message names the key."""


def _require_keys(table: object, allowed: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ManifestError(f"{where}: expected a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ManifestError(f"{where}: unknown key {unknown[0]!r} (known: {sorted(allowed)})")
    return table


def _text(table: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ManifestError(f"{where}.{key}: expected a string")
    return value


def _public_key(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ManifestError(f"{where}: expected a public key of 64 hex digits, got {text!r:.80}")
    return key


def _address(text: str, hrp: str, where: str) -> bytes:
    try:
        return decode_address(text, hrp)
    except AddressError as exc:
        raise ManifestError(f"{where}: {exc}") from None


def _amount_units(value: object, where: str) -> int:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ManifestError(f"{where}: expected an amount of TIME, got {value!r:.40}") from None
    units = amount * COIN
    if units != units.to_integral_value() or units <= 0:
        raise ManifestError(f"{where}: expected a positive amount with at most 8 decimals")
    return int(units)


def parse_manifest(text: str, now_ms: int) -> GenesisSpec:
    """The genesis spec a manifest describes (see the module docstring).

    Raises ManifestError naming the entry and key.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"invalid TOML: {exc}") from None
    top = _require_keys(data, _TOP_KEYS, "manifest")
    network = _text(top, "network", "manifest")
    if network not in PRESETS:
        raise ManifestError(f"manifest.network: {network!r} is not one of {sorted(PRESETS)}")
    params = get_preset(network)
    timestamp_ms = top.get("timestamp_ms", now_ms)
    if not isinstance(timestamp_ms, int) or timestamp_ms <= 0:
        raise ManifestError("manifest.timestamp_ms: expected a positive integer")
    masternodes = []
    for index, raw in enumerate(top.get("masternodes", [])):
        where = f"masternodes[{index}]"
        table = _require_keys(raw, _MASTERNODE_KEYS, where)
        tier_text = _text(table, "tier", where)
        try:
            tier = Tier[tier_text.upper()]
        except KeyError:
            names = ", ".join(t.name.lower() for t in Tier)
            raise ManifestError(
                f"{where}.tier: expected one of {names}, got {tier_text!r}"
            ) from None
        operator_key = _public_key(_text(table, "operator_key", where), f"{where}.operator_key")
        owner_key = (
            _public_key(_text(table, "owner_key", where), f"{where}.owner_key")
            if "owner_key" in table
            else operator_key
        )
        reward_address = (
            _address(
                _text(table, "reward_address", where), params.address_hrp, f"{where}.reward_address"
            )
            if "reward_address" in table
            else address_from_public_key(owner_key)
        )
        network_address = _text(table, "network_address", where, "").encode("utf-8")
        masternodes.append(
            GenesisMasternode(tier, owner_key, operator_key, reward_address, network_address)
        )
    if not masternodes:
        raise ManifestError("manifest.masternodes: a network needs at least one masternode")
    allocations = []
    for index, raw in enumerate(top.get("allocations", [])):
        where = f"allocations[{index}]"
        table = _require_keys(raw, _ALLOCATION_KEYS, where)
        address = _address(_text(table, "address", where), params.address_hrp, f"{where}.address")
        if "amount" not in table:
            raise ManifestError(f"{where}.amount: missing")
        allocations.append((address, _amount_units(table["amount"], f"{where}.amount")))
    return GenesisSpec(params, timestamp_ms, tuple(allocations), tuple(masternodes))


def describe_genesis(block: Block, network: str) -> list[str]:
    """What an operator checks in a genesis file: hash, chain id, masternodes."""
    params = get_preset(network)
    registry = registry_from_genesis(block, params)
    total = sum(tx.outputs[i].amount for tx in block.transactions for i in range(len(tx.outputs)))
    lines = [
        f"genesis hash  {compute_block_hash(block.header).hex()}",
        f"network       {network}",
        f"chain id      {block.header.chain_id}",
        f"timestamp_ms  {block.header.timestamp_ms}",
        f"coins         {Decimal(total) / COIN:.8f} TIME (allocations and collaterals)",
        f"masternodes   {len(registry.entries)} ({len(registry.voting_set.voters)} voters)",
    ]
    for entry in registry.entries:
        lines.append(
            f"  {Tier(entry.tier).name.lower():6}  operator {entry.operator_key.hex()}  "
            f"{entry.network_address.decode('utf-8', errors='replace')}  "
            f"reward {encode_address(params.address_hrp, entry.reward_address)}"
        )
    return lines


@click.group("genesis")
def genesis_group() -> None:
    """Build the genesis block of a new network, or inspect one."""


@genesis_group.command("new")
@click.option(
    "--manifest",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True,
    help="The network's manifest (TOML: network, masternodes, allocations).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("genesis.block"),
    show_default=True,
    help="Where to write the genesis block (never overwritten).",
)
def new_cmd(manifest: Path, out: Path) -> None:
    """Build a genesis block from MANIFEST; print its hash and chain id."""
    text = manifest.read_bytes()[:MAX_MANIFEST_BYTES].decode("utf-8", errors="replace")
    try:
        spec = parse_manifest(text, int(time.time() * 1000))
    except ManifestError as exc:
        raise ManifestError(f"{manifest}: {exc.message}") from None
    try:
        block = build_genesis(spec)
    except InvalidBlock as exc:
        raise click.ClickException(f"{manifest}: {exc.message}") from None
    if out.exists():
        raise click.ClickException(f"{out}: already exists; not overwriting a genesis block")
    partial = out.with_name(out.name + ".tmp")
    partial.write_bytes(encode(block))
    partial.replace(out)
    for line in describe_genesis(block, spec.params.name):
        click.echo(line)
    click.echo(f"written to {out}: give it to every node (--genesis {out})")


@genesis_group.command("show")
@click.argument("genesis_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--network",
    type=click.Choice(sorted(PRESETS)),
    default=None,
    help="Its parameters preset (default: the one whose chain id it names).",
)
def show_cmd(genesis_file: Path, network: str | None) -> None:
    """Show a genesis block's hash, chain id and masternodes."""
    try:
        block = decode(genesis_file.read_bytes(), Block, MAX_GENESIS_BYTES)
    except DecodeError as exc:
        raise click.ClickException(f"{genesis_file}: not a genesis block: {exc}") from None
    if network is None:
        matching = [p.name for p in PRESETS.values() if p.chain_id == block.header.chain_id]
        if not matching:
            raise click.ClickException(
                f"{genesis_file}: chain id {block.header.chain_id} is no known network's"
            )
        network = matching[0]
    try:
        lines = describe_genesis(block, network)
    except InvalidBlock as exc:
        raise click.ClickException(f"{genesis_file}: {exc.message}") from None
    for line in lines:
        click.echo(line)
