"""Configuration of the p2p layer: every limit and timeout, with defaults."""

from __future__ import annotations

from dataclasses import dataclass

from timecoin.p2p.addrbook import normalize_host
from timecoin.p2p.messages import MessageClass
from timecoin.p2p.ratelimit import ClassRate
from timecoin.params import ChainParams

__all__ = ["P2PConfig", "parse_peer_address"]


@dataclass(frozen=True, slots=True)
class P2PConfig:
    """Settings of one `PeerManager`. Durations are seconds, sizes bytes.

    None means "from the chain parameters": `listen_port` from
    `params.default_p2p_port`; the rates from `params.rates`; the frame limit
    from `params.sizes.max_frame_bytes`; the queue limits from the frame
    limit.
    """

    # listening and dialing
    listen: bool = True
    listen_host: str = "0.0.0.0"
    listen_port: int | None = None
    """0 picks a free port (tests); the bound port is `PeerManager.listen_address`."""
    advertised_port: int | None = None
    """Port announced in the hello; None: the bound listen port (0 if not listening)."""
    bind_host: str | None = None
    """Source address of outbound connections; None: chosen by the OS."""
    seeds: tuple[str, ...] = ()
    """"host:port" dialed when the address book offers nothing to dial."""
    persistent_peers: tuple[str, ...] = ()
    """"host:port" kept connected, redialed with backoff."""
    max_inbound: int = 64
    max_outbound: int = 8
    max_inbound_per_host: int = 8

    # timeouts (monotonic clock)
    handshake_timeout_s: float = 5.0
    connect_timeout_s: float = 5.0
    idle_timeout_s: float = 120.0
    """Disconnect a peer from which nothing arrived for this long."""
    ping_interval_s: float = 30.0
    pong_timeout_s: float = 20.0
    close_timeout_s: float = 2.0
    """How long a polite close may wait for the send buffer to drain."""
    tick_interval_s: float = 0.25
    """Period of the maintenance task (timeouts, pings, dials, PEX, persistence)."""
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0

    # misbehaviour and rates
    ban_duration_s: float = 86_400.0
    max_bans: int = 10_000
    messages_per_s: float | None = None
    bytes_per_s: float | None = None
    burst_s: float = 2.0
    ban_multiple: float | None = None
    ban_window_s: float = 10.0
    class_rates: tuple[tuple[MessageClass, ClassRate], ...] = ()
    """Per-class overrides of the rates above."""

    # sizes and queues
    max_frame_bytes: int | None = None
    max_send_queue_bytes: int | None = None
    """Unsent bytes per peer beyond which a slow peer is disconnected;
    None: one maximum frame plus 1 MB."""
    max_send_queue_messages: int = 100_000
    max_inbound_queue_messages: int = 1_000
    """Decoded messages waiting for the reactors before reading pauses."""
    max_inbound_queue_bytes: int | None = None
    """Payload bytes waiting for the reactors before reading pauses; None: one maximum frame."""

    # inventory gossip
    seen_cache_size: int = 200_000
    known_inventory_size: int = 5_000
    """Per peer: hashes it is known to have (not announced to it again)."""
    relay_cache_items: int = 50_000
    relay_cache_bytes: int = 64_000_000
    max_inflight_requests: int = 50_000
    getdata_timeout_s: float = 15.0
    inv_interval_s: float = 0.05
    """Least time between two `Inv` flushes to one peer (0: every event-loop
    iteration). Announcements queued meanwhile share one `Inv` per kind, so
    an honest node's gossip to a peer (its `Inv`s, the `GetData`s and `Txs`
    that answer them) stays well under the per-class message rate at any
    transaction rate."""

    # peer exchange
    address_book_size: int = 5_000
    max_address_failures: int = 10
    allow_local_addresses: bool = False
    """Accept loopback and private addresses in PEX (local test networks)."""
    addr_rate_per_s: float = 0.5
    addr_burst: int = 1_000
    addr_response_max: int = 250
    getaddr_min_interval_s: float = 60.0
    pex_interval_s: float = 120.0
    persist_interval_s: float = 60.0

    # identity
    user_agent: str = "timecoin/0.1.0"
    max_clock_skew_ms: int = 120_000

    def resolve_listen_port(self, params: ChainParams) -> int:
        """The port to listen on."""
        return params.default_p2p_port if self.listen_port is None else self.listen_port

    def resolve_max_frame_bytes(self, params: ChainParams) -> int:
        """The frame body limit."""
        return (
            params.sizes.max_frame_bytes if self.max_frame_bytes is None else self.max_frame_bytes
        )

    def resolve_rates(self, params: ChainParams) -> dict[MessageClass, ClassRate]:
        """The rate limits of every message class."""
        default = ClassRate(
            messages_per_s=float(
                params.rates.messages_per_s if self.messages_per_s is None else self.messages_per_s
            ),
            bytes_per_s=float(
                params.rates.bytes_per_s if self.bytes_per_s is None else self.bytes_per_s
            ),
            burst_s=self.burst_s,
            ban_multiple=float(
                params.rates.ban_multiple if self.ban_multiple is None else self.ban_multiple
            ),
            ban_window_s=self.ban_window_s,
        )
        rates = dict.fromkeys(MessageClass, default)
        rates.update(dict(self.class_rates))
        return rates

    def check(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        positive = {
            "max_inbound": self.max_inbound,
            "max_outbound": self.max_outbound,
            "max_inbound_per_host": self.max_inbound_per_host,
            "handshake_timeout_s": self.handshake_timeout_s,
            "connect_timeout_s": self.connect_timeout_s,
            "idle_timeout_s": self.idle_timeout_s,
            "ping_interval_s": self.ping_interval_s,
            "pong_timeout_s": self.pong_timeout_s,
            "tick_interval_s": self.tick_interval_s,
            "backoff_base_s": self.backoff_base_s,
            "ban_duration_s": self.ban_duration_s,
            "max_bans": self.max_bans,
            "burst_s": self.burst_s,
            "ban_window_s": self.ban_window_s,
            "max_send_queue_messages": self.max_send_queue_messages,
            "max_inbound_queue_messages": self.max_inbound_queue_messages,
            "seen_cache_size": self.seen_cache_size,
            "known_inventory_size": self.known_inventory_size,
            "relay_cache_items": self.relay_cache_items,
            "relay_cache_bytes": self.relay_cache_bytes,
            "max_inflight_requests": self.max_inflight_requests,
            "getdata_timeout_s": self.getdata_timeout_s,
            "address_book_size": self.address_book_size,
            "max_address_failures": self.max_address_failures,
            "addr_rate_per_s": self.addr_rate_per_s,
            "addr_burst": self.addr_burst,
            "addr_response_max": self.addr_response_max,
            "pex_interval_s": self.pex_interval_s,
            "persist_interval_s": self.persist_interval_s,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"p2p setting {name} must be positive, got {value}")
        if not 0 <= self.inv_interval_s <= 10:
            raise ValueError(f"inv_interval_s must be in 0..10 s, got {self.inv_interval_s}")
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError(
                f"backoff_max_s {self.backoff_max_s} is below backoff_base_s {self.backoff_base_s}"
            )
        if self.listen_port is not None and not 0 <= self.listen_port <= 0xFFFF:
            raise ValueError(f"listen_port out of range: {self.listen_port}")
        if len(self.user_agent) > 64:
            raise ValueError(f"user_agent longer than 64 characters: {self.user_agent!r}")


def parse_peer_address(text: str, default_port: int) -> tuple[str, int]:
    """(host, port) of "host:port", "[ipv6]:port", "ipv6" or "host".

    An IP host comes back in canonical form; a name is kept as written (it is
    resolved when dialed). Raises ValueError for an empty host or a bad port.
    """
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unclosed bracket in peer address {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad peer address {text!r}")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host:
        raise ValueError(f"empty host in peer address {text!r}")
    port = default_port
    if port_text:
        if not port_text.isdigit():
            raise ValueError(f"bad port in peer address {text!r}")
        port = int(port_text)
    if not 1 <= port <= 0xFFFF:
        raise ValueError(f"port out of range in peer address {text!r}")
    return normalize_host(host) or host, port
