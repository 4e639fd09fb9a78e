"""The node's TOML configuration: every field optional, every field checked.

`load_config(path)` reads a TOML file with `tomllib` into frozen dataclasses.
A missing file section or key takes its default; an unknown key, a value of
the wrong type or out of range raises `ConfigError` naming the key and the
file, so a typo is a clear error at start-up and never a traceback.
Relative paths in the file are relative to the data directory.
docs/node.md lists every field with its default.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from timecoin.params import PRESETS

LOG_LEVELS: Final = ("debug", "info", "warning", "error")
MAX_PORT: Final = 65_535


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the key and file."""


@dataclass(frozen=True, slots=True)
class P2PSection:
    """`[p2p]`: where the node listens and whom it dials.

    `port` None means the network's default p2p port, 0 any free port.
    `seeds` are "host:port" strings dialed at start and kept connected.
    """

    host: str = "0.0.0.0"
    port: int | None = None
    seeds: tuple[str, ...] = ()
    max_inbound: int = 64
    max_outbound: int = 8
    allow_local_addresses: bool = False


@dataclass(frozen=True, slots=True)
class RpcSection:
    """`[rpc]`: the JSON-RPC server. The cookie file is always written to the
    data directory; `user` and `password` add a second credential."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int | None = None
    user: str | None = None
    password: str | None = None
    server_timeout_s: float = 30.0
    """A request body not received within this gets HTTP 408 (bitcoind's -rpcservertimeout)."""


@dataclass(frozen=True, slots=True)
class MetricsSection:
    """`[metrics]`: the Prometheus endpoint (`port` 0 picks a free port)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 24_109


@dataclass(frozen=True, slots=True)
class RestSection:
    """`[rest]`: the read-only REST API and web explorer (off by default;
    `port` 0 picks a free port). Each client address may make
    `requests_per_s` requests a second, in bursts of `burst`."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 24_110
    requests_per_s: int = 50
    burst: int = 100


@dataclass(frozen=True, slots=True)
class MempoolSection:
    """`[mempool]`: the bounds of the transaction pool."""

    max_transactions: int = 20_000
    max_bytes: int = 64_000_000


@dataclass(frozen=True, slots=True)
class SyncSection:
    """`[sync]`: the checkpoint a node syncing from genesis requires
    ("HEIGHT:HASH", the hash in hex), and whether it is required (default:
    on mainnet and testnet, off on devnets where genesis is the anchor)."""

    checkpoint: str | None = None
    require_checkpoint: bool | None = None


@dataclass(frozen=True, slots=True)
class IndexSection:
    """`[index]`: the block indexes this node keeps (docs/node.md, "Indexes"):
    transactions by txid, spenders by outpoint, history by address. One
    turned on later is built from the stored blocks at the next start."""

    txindex: bool = True
    spentindex: bool = True
    addressindex: bool = False


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The whole configuration of one node.

    - `network`: the parameters preset (mainnet, testnet, devnet, minimal);
    - `genesis_file`: the genesis block (canonical bytes), needed only when
      the chain store is empty and the preset has no built-in genesis;
    - `operator_key_file`: the masternode operator key (created if absent);
      `node_key_file`: the p2p identity key (created if absent);
    - `wallet_file`, `wallet_password_file`: an optional wallet served over
      RPC (both or neither);
    - `block_interval_ms`: overrides the preset's block interval (devnets);
    - `epoch_length`: overrides the preset's epoch length in blocks (devnet
      and minimal only: a multiple of the preset's reward window);
    - `clock_skew_warn_ms`: warn when the local clock is off the peers'
      median time by more than this;
    - `shutdown_timeout_s`: the bound of a graceful shutdown;
    - `log_level`: debug, info, warning or error;
    - `accept_damaged_wal`: start even if a write-ahead log lost or changed
      records, keeping the records left (the operator accepts that the node
      may sign a vote conflicting with one it lost; off by default).
    """

    network: str = "devnet"
    genesis_file: Path = Path("genesis.block")
    operator_key_file: Path = Path("operator.key")
    node_key_file: Path = Path("node.key")
    wallet_file: Path | None = None
    wallet_password_file: Path | None = None
    block_interval_ms: int | None = None
    epoch_length: int | None = None
    clock_skew_warn_ms: int = 2_000
    shutdown_timeout_s: float = 5.0
    log_level: str = "info"
    accept_damaged_wal: bool = False
    p2p: P2PSection = field(default_factory=P2PSection)
    rpc: RpcSection = field(default_factory=RpcSection)
    metrics: MetricsSection = field(default_factory=MetricsSection)
    rest: RestSection = field(default_factory=RestSection)
    mempool: MempoolSection = field(default_factory=MempoolSection)
    sync: SyncSection = field(default_factory=SyncSection)
    index: IndexSection = field(default_factory=IndexSection)

    def resolve(self, datadir: Path) -> NodeConfig:
        """A copy whose relative file paths are made relative to `datadir`."""

        def under(path: Path | None) -> Path | None:
            if path is None or path.is_absolute():
                return path
            return datadir / path

        genesis = under(self.genesis_file)
        operator = under(self.operator_key_file)
        node_key = under(self.node_key_file)
        if genesis is None or operator is None or node_key is None:
            raise ConfigError("required file paths are missing")
        return dataclasses.replace(
            self,
            genesis_file=genesis,
            operator_key_file=operator,
            node_key_file=node_key,
            wallet_file=under(self.wallet_file),
            wallet_password_file=under(self.wallet_password_file),
        )


_SECTIONS: Final[dict[str, type[Any]]] = {
    "p2p": P2PSection,
    "rpc": RpcSection,
    "metrics": MetricsSection,
    "rest": RestSection,
    "mempool": MempoolSection,
    "sync": SyncSection,
    "index": IndexSection,
}
_PATH_FIELDS: Final = frozenset(
    {"genesis_file", "operator_key_file", "node_key_file", "wallet_file", "wallet_password_file"}
)


def load_config(path: Path | None) -> NodeConfig:
    """The configuration in the TOML file `path` (None: every default).

    Raises ConfigError (unreadable file, bad TOML, unknown key, wrong type,
    value out of range), naming the key and the file.
    """
    if path is None:
        return NodeConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    return parse_config(text, str(path))


def parse_config(text: str, source: str) -> NodeConfig:
    """The configuration in TOML `text`; `source` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    top: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{key}] must be a table")
            top[key] = _build(_SECTIONS[key], value, source, f"{key}.")
        else:
            top[key] = value
    config: NodeConfig = _build(NodeConfig, top, source, "", nested=frozenset(_SECTIONS))
    _check(config, source)
    return config


def _build(
    cls: type[Any],
    values: dict[str, Any],
    source: str,
    prefix: str,
    nested: frozenset[str] = frozenset(),
) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{source}: unknown key {prefix}{key!r}")
        if key in nested:
            kwargs[key] = value
            continue
        kwargs[key] = _convert(f"{prefix}{key}", known[key].default, value, source, key)
    return cls(**kwargs)


def _convert(name: str, default: object, value: object, source: str, key: str) -> object:
    """`value` checked against the type of the field's default."""
    if key in _PATH_FIELDS:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{source}: {name} must be a non-empty path string")
        return Path(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {name} must be true or false")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{source}: {name} must be a number")
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: {name} must be a list of strings")
        return tuple(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {name} must be a string")
        return value
    if isinstance(default, int) or key in {"port", "block_interval_ms", "epoch_length"}:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {name} must be an integer")
        return value
    if key in {"user", "password", "checkpoint"}:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {name} must be a string")
        return value
    if key == "require_checkpoint":
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {name} must be true or false")
        return value
    raise ConfigError(f"{source}: {name}: unsupported value {value!r}")


def _check_port(name: str, port: int | None, source: str) -> None:
    if port is not None and not 0 <= port <= MAX_PORT:
        raise ConfigError(f"{source}: {name} = {port} is outside 0..{MAX_PORT}")


def _check_host(name: str, host: str, source: str) -> None:
    if host == "localhost":
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"{source}: {name} = {host!r} is not an IP address") from None


EPOCH_LENGTH_NETWORKS: Final = ("devnet", "minimal")
"""Networks whose epoch length a config may override (local test networks)."""


def _check(config: NodeConfig, source: str) -> None:
    """Ranges and relations between fields."""
    if config.network not in PRESETS:
        known = ", ".join(sorted(PRESETS))
        raise ConfigError(f"{source}: network = {config.network!r}; expected one of: {known}")
    if config.log_level not in LOG_LEVELS:
        raise ConfigError(
            f"{source}: log_level = {config.log_level!r}; expected one of: {', '.join(LOG_LEVELS)}"
        )
    if config.block_interval_ms is not None and not 10 <= config.block_interval_ms <= 3_600_000:
        raise ConfigError(f"{source}: block_interval_ms must be in 10..3600000")
    if config.epoch_length is not None:
        if config.network not in EPOCH_LENGTH_NETWORKS:
            raise ConfigError(
                f"{source}: epoch_length may be set only on {', '.join(EPOCH_LENGTH_NETWORKS)}"
            )
        window = PRESETS[config.network].reward_window_blocks
        if not 1 <= config.epoch_length // window <= 10_000 or config.epoch_length % window:
            raise ConfigError(
                f"{source}: epoch_length = {config.epoch_length} must be a positive "
                f"multiple of the reward window ({window} blocks)"
            )
    if config.clock_skew_warn_ms < 1:
        raise ConfigError(f"{source}: clock_skew_warn_ms must be at least 1")
    if not 0.1 <= config.shutdown_timeout_s <= 60:
        raise ConfigError(f"{source}: shutdown_timeout_s must be in 0.1..60")
    if not 0.1 <= config.rpc.server_timeout_s <= 3_600:
        raise ConfigError(f"{source}: rpc.server_timeout_s must be in 0.1..3600")
    if (config.wallet_file is None) != (config.wallet_password_file is None):
        raise ConfigError(f"{source}: wallet_file and wallet_password_file go together")
    _check_host("p2p.host", config.p2p.host, source)
    _check_host("rpc.host", config.rpc.host, source)
    _check_host("metrics.host", config.metrics.host, source)
    _check_port("p2p.port", config.p2p.port, source)
    _check_port("rpc.port", config.rpc.port, source)
    _check_port("metrics.port", config.metrics.port, source)
    _check_host("rest.host", config.rest.host, source)
    _check_port("rest.port", config.rest.port, source)
    if not 1 <= config.rest.requests_per_s <= 1_000_000 or not 1 <= config.rest.burst <= 1_000_000:
        raise ConfigError(f"{source}: rest.requests_per_s and rest.burst must be in 1..1000000")
    for seed in config.p2p.seeds:
        host, sep, port = seed.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= MAX_PORT:
            raise ConfigError(f"{source}: p2p.seeds: {seed!r} is not host:port")
    if config.p2p.max_inbound < 0 or config.p2p.max_outbound < 0:
        raise ConfigError(f"{source}: p2p.max_inbound and p2p.max_outbound must be >= 0")
    if (config.rpc.user is None) != (config.rpc.password is None):
        raise ConfigError(f"{source}: rpc.user and rpc.password go together")
    if config.rpc.user is not None and (not config.rpc.user or ":" in config.rpc.user):
        raise ConfigError(f"{source}: rpc.user must be non-empty without ':'")
    if config.mempool.max_transactions < 1 or config.mempool.max_bytes < 1_000:
        raise ConfigError(
            f"{source}: mempool.max_transactions must be >= 1 and mempool.max_bytes >= 1000"
        )
    if config.sync.checkpoint is not None and parse_checkpoint(config.sync.checkpoint) is None:
        raise ConfigError(f"{source}: sync.checkpoint must be HEIGHT:HASH (64 hex digits)")


def apply_overrides(
    config: NodeConfig,
    *,
    network: str | None = None,
    genesis_file: Path | None = None,
    seeds: tuple[str, ...] = (),
) -> NodeConfig:
    """`config` with the command line's `--network`, `--genesis` and `--seed`
    (added to the configured seeds) applied and checked like the file.

    Raises ConfigError naming the flag's key.
    """
    updated = dataclasses.replace(
        config,
        network=config.network if network is None else network,
        genesis_file=config.genesis_file if genesis_file is None else genesis_file,
        p2p=dataclasses.replace(
            config.p2p, seeds=tuple(dict.fromkeys((*config.p2p.seeds, *seeds)))
        ),
    )
    _check(updated, "command line")
    return updated


def default_datadir(network: str) -> Path:
    """`~/.timecoin/NETWORK`: where a node of `network` keeps its data by default."""
    return Path.home() / ".timecoin" / network


def parse_checkpoint(text: str) -> tuple[int, bytes] | None:
    """(height, block hash) from "HEIGHT:HASH", or None when malformed."""
    height, sep, digest = text.partition(":")
    if not sep or not height.isdigit() or len(digest) != 64:
        return None
    try:
        return int(height), bytes.fromhex(digest)
    except ValueError:
        return None


def render_config(config: NodeConfig) -> str:
    """TOML text that `parse_config` reads back as `config` (used by the testnet)."""
    lines: list[str] = []

    def emit(name: str, value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            lines.append(f"{name} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            lines.append(f"{name} = {value}")
        elif isinstance(value, tuple):
            items = ", ".join(_quote(str(v)) for v in value)
            lines.append(f"{name} = [{items}]")
        else:
            lines.append(f"{name} = {_quote(str(value))}")

    for f in dataclasses.fields(NodeConfig):
        if f.name not in _SECTIONS:
            emit(f.name, getattr(config, f.name))
    for section in _SECTIONS:
        lines.append("")
        lines.append(f"[{section}]")
        value = getattr(config, section)
        for f in dataclasses.fields(value):
            emit(f.name, getattr(value, f.name))
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
