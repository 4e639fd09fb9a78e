"""Peer-to-peer networking: transport, handshake, peers, gossip, PEX, limits.

The node builds one `PeerManager` (params with a genesis hash, its node
key, a `P2PConfig`, an `AddressStore`), attaches its subsystems as
`Reactor`s, and awaits `start()` / `stop()`. The wire protocol is specified
in ``docs/spec/p2p.md``; the choice of frame authentication in
``docs/adr/0003-p2p-frame-auth.md``.
"""

from timecoin.p2p.addrbook import (
    AddressBook,
    AddressEntry,
    AddressStore,
    MemoryAddressStore,
    decode_address_entries,
    encode_address_entries,
)
from timecoin.p2p.bans import BanEntry, BanKind, BanList
from timecoin.p2p.config import P2PConfig, parse_peer_address
from timecoin.p2p.errors import BAN_REJECT_CODES, PeerProtocolError
from timecoin.p2p.handshake import MIN_PROTOCOL_VERSION, P2P_MAGIC, PROTOCOL_VERSION
from timecoin.p2p.inventory import InventoryItem, compute_inventory_hash
from timecoin.p2p.loop import install_uvloop
from timecoin.p2p.manager import PeerManager, Reactor
from timecoin.p2p.messages import (
    Addr,
    BlockMsg,
    Blocks,
    CertificateMsg,
    CommittedBlock,
    EvidenceMsg,
    GetAddr,
    GetBlocks,
    GetData,
    HeartbeatMsg,
    Inv,
    InvKind,
    Message,
    MessageClass,
    NetAddress,
    NotFound,
    Ping,
    Pong,
    ProposalMsg,
    Reject,
    Txs,
    VoteMsg,
    class_of,
    decode_message,
    encode_message,
)
from timecoin.p2p.peer import Direction, Peer, PeerInfo, PeerState
from timecoin.p2p.ratelimit import ClassRate
from timecoin.p2p.stats import ClassCounters, P2PStats

__all__ = [
    "BAN_REJECT_CODES",
    "MIN_PROTOCOL_VERSION",
    "P2P_MAGIC",
    "PROTOCOL_VERSION",
    "Addr",
    "AddressBook",
    "AddressEntry",
    "AddressStore",
    "BanEntry",
    "BanKind",
    "BanList",
    "BlockMsg",
    "Blocks",
    "CertificateMsg",
    "ClassCounters",
    "ClassRate",
    "CommittedBlock",
    "Direction",
    "EvidenceMsg",
    "GetAddr",
    "GetBlocks",
    "GetData",
    "HeartbeatMsg",
    "Inv",
    "InvKind",
    "InventoryItem",
    "MemoryAddressStore",
    "Message",
    "MessageClass",
    "NetAddress",
    "NotFound",
    "P2PConfig",
    "P2PStats",
    "Peer",
    "PeerInfo",
    "PeerManager",
    "PeerProtocolError",
    "PeerState",
    "Ping",
    "Pong",
    "ProposalMsg",
    "Reactor",
    "Reject",
    "Txs",
    "VoteMsg",
    "class_of",
    "compute_inventory_hash",
    "decode_address_entries",
    "decode_message",
    "encode_address_entries",
    "encode_message",
    "install_uvloop",
    "parse_peer_address",
]
