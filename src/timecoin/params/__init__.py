"""Chain parameters: one frozen record per network, with named presets.

Every consensus constant lives here. Amounts are in base units (1 TIME = 10**8
units), durations in milliseconds, sizes in bytes. Rule changes activate at a
height named in `ActivationHeights`; a node refuses to run past
`halt_height` of a rule set it does not understand.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

COIN = 100_000_000
"""Base units per TIME."""

MAX_MONEY = 21_000_000_000 * COIN
"""Upper bound on any amount and on the total supply (fits in 2**63 - 1)."""


class Tier(enum.IntEnum):
    """Masternode collateral tiers."""

    FREE = 0
    BRONZE = 1
    SILVER = 2
    GOLD = 3


@dataclass(frozen=True, slots=True)
class TierParams:
    """Collateral and weights of one tier."""

    tier: Tier
    collateral: int
    voting_weight: int
    reward_weight: int


DEFAULT_TIERS: tuple[TierParams, ...] = (
    TierParams(Tier.FREE, 0, 0, 1),
    TierParams(Tier.BRONZE, 1_000 * COIN, 1, 1),
    TierParams(Tier.SILVER, 10_000 * COIN, 10, 10),
    TierParams(Tier.GOLD, 100_000 * COIN, 100, 100),
)


@dataclass(frozen=True, slots=True)
class SizeLimits:
    """Size and count limits enforced by decoders and sanity checks.

    `max_report_entries` bounds one epoch report (docs/spec/finality.md
    section 7): a longer report does not count, and a member defers new
    votes while its votes not yet in a block would exceed it. Keep it at
    least `max_tx_inputs` (a transaction adds one entry per input). With
    the attestations and the rest of a block it must leave room for a
    block of final transactions (ADR 0006; tests/finality/test_finality_params.py
    checks every preset).
    """

    max_tx_bytes: int = 100_000
    max_tx_inputs: int = 1_000
    max_tx_outputs: int = 1_000
    max_block_bytes: int = 8_000_000
    max_block_transactions: int = 50_000
    max_block_evidence: int = 100
    max_block_attestations: int = 2_500
    max_report_entries: int = 30_000
    max_network_address_bytes: int = 64
    max_frame_bytes: int = 16_000_000


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-peer network rate limits (defaults; node config may lower them)."""

    messages_per_s: int = 100
    bytes_per_s: int = 4_000_000
    ban_multiple: int = 10


@dataclass(frozen=True, slots=True)
class ActivationHeights:
    """Heights at which rule changes activate.

    `halt_height` is the first height whose rules this software does not
    know; None means no scheduled change.

    `epoch_reports_height` is the first height from which an epoch's last
    block must carry epoch reports and reported locks are chain state (ADR
    0004, docs/spec/finality.md section 7); None: not active on this
    network (the last block carries no reports, no locks exist).

    `all_voters_height` is the first height certified under the every-voter
    committee rule (ADR 0013, docs/spec/masternode.md section 4): the
    committee of an epoch whose first height is at or above it is every
    eligible masternode up to `max_voters`, the cut (if any) by weight then
    age, so that no seed decides membership; None: the top-weight rule
    (ties at the cut broken by the epoch seed).
    """

    halt_height: int | None = None
    epoch_reports_height: int | None = None
    all_voters_height: int | None = None

    def is_epoch_reports_active(self, height: int) -> bool:
        """Whether the epoch-report rule applies to the block at `height`."""
        return self.epoch_reports_height is not None and height >= self.epoch_reports_height

    def is_all_voters_active(self, height: int) -> bool:
        """Whether the committee certifying the block at `height` follows the
        every-voter rule (called with the first height of its epoch)."""
        return self.all_voters_height is not None and height >= self.all_voters_height


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A block hash that a syncing node requires at a height."""

    height: int
    block_hash: bytes


@dataclass(frozen=True, slots=True)
class ChainParams:
    """All consensus parameters of one network.

    Heartbeats (docs/spec/heartbeats.md): blocks are grouped into reward
    windows of `reward_window_blocks`; a masternode earns rewards while its
    last verified heartbeat is at most `heartbeat_grace_windows` windows old,
    and leaves the voting set at the next epoch boundary once it is more than
    `heartbeat_removal_windows` windows old. Keep `epoch_length` a multiple of
    `reward_window_blocks` so that a window never straddles two committees.
    """

    name: str
    chain_id: int
    address_hrp: str
    block_interval_ms: int
    epoch_length: int
    max_voters: int
    heartbeat_interval_ms: int
    timeout_propose_ms: int
    timeout_vote_ms: int
    timeout_delta_ms: int
    timeout_max_ms: int
    max_timestamp_drift_ms: int
    block_subsidy: int
    free_pool_share_permille: int
    rewarded_masternodes_per_block: int
    dust_limit: int
    min_fee: int
    min_fee_per_kb: int
    reward_window_blocks: int = 10
    heartbeat_grace_windows: int = 1
    heartbeat_removal_windows: int = 36
    tiers: tuple[TierParams, ...] = DEFAULT_TIERS
    sizes: SizeLimits = field(default_factory=SizeLimits)
    rates: RateLimits = field(default_factory=RateLimits)
    activation: ActivationHeights = field(default_factory=ActivationHeights)
    checkpoints: tuple[Checkpoint, ...] = ()
    genesis_hash: bytes | None = None
    max_final_tps: int = 250
    """Transactions per second the network finalizes at most: a block holds
    `block_interval_ms * max_final_tps / 1000` of them besides its largest
    attestations, evidence and epoch reports (docs/spec/finality.md, ADR
    0006; members defer votes while the final-but-unblocked backlog exceeds
    a block)."""
    default_p2p_port: int = 24100
    default_rpc_port: int = 24101

    def tier_params(self, tier: Tier) -> TierParams:
        """The parameters of `tier`."""
        return self.tiers[int(tier)]

    def tier_for_collateral(self, amount: int) -> Tier | None:
        """The tier whose collateral is exactly `amount`, or None."""
        for tp in self.tiers:
            if tp.collateral == amount:
                return tp.tier
        return None

    def epoch_of(self, height: int) -> int:
        """The epoch that contains block `height` (genesis is height 0, epoch 0)."""
        return height // self.epoch_length

    def with_genesis(self, genesis_hash: bytes) -> ChainParams:
        """A copy bound to a concrete genesis block hash."""
        return replace(self, genesis_hash=genesis_hash)


MAINNET = ChainParams(
    name="mainnet",
    chain_id=0x54494D45,  # "TIME"
    address_hrp="time",
    block_interval_ms=60_000,
    epoch_length=1_440,
    max_voters=300,  # every staked masternode votes up to 300: the block budget (ADR 0013)
    heartbeat_interval_ms=5_000,
    timeout_propose_ms=3_000,
    timeout_vote_ms=1_000,
    timeout_delta_ms=500,
    timeout_max_ms=30_000,
    max_timestamp_drift_ms=15_000,
    block_subsidy=100 * COIN,
    free_pool_share_permille=50,
    rewarded_masternodes_per_block=4,
    dust_limit=546,
    min_fee=1_000,
    min_fee_per_kb=1_000,
    reward_window_blocks=10,  # 10 min
    heartbeat_grace_windows=1,  # rewards need a heartbeat in this or the previous window
    heartbeat_removal_windows=36,  # 6 h of silence: out of the next epoch's voting set
    max_final_tps=250,  # 15,000 per block beside 2,500 attestations and 30,000 report entries
    # ADR 0004 and ADR 0013 from the start
    activation=ActivationHeights(epoch_reports_height=1, all_voters_height=0),
)

TESTNET = replace(
    MAINNET,
    name="testnet",
    chain_id=0x54544D45,  # "TTME"
    address_hrp="ttime",
    epoch_length=120,
    default_p2p_port=24200,
    default_rpc_port=24201,
)

DEVNET = replace(
    MAINNET,
    name="devnet",
    chain_id=0x44544D45,  # "DTME"
    address_hrp="dtime",
    block_interval_ms=1_000,
    epoch_length=20,
    timeout_propose_ms=1_000,
    timeout_vote_ms=500,
    timeout_delta_ms=250,
    timeout_max_ms=10_000,
    max_timestamp_drift_ms=5_000,
    reward_window_blocks=10,  # 10 s: two heartbeats per window
    heartbeat_grace_windows=2,
    heartbeat_removal_windows=6,  # 1 min
    max_final_tps=500,  # 500 per 1 s block
    default_p2p_port=24300,
    default_rpc_port=24301,
    # ADR 0004 and ADR 0013 from the start
    activation=ActivationHeights(epoch_reports_height=1, all_voters_height=0),
)

MINIMAL = replace(
    DEVNET,
    name="minimal",
    chain_id=0x4D494E49,  # "MINI"
    epoch_length=4,
    max_voters=7,
    reward_window_blocks=2,
    heartbeat_grace_windows=2,
    heartbeat_removal_windows=4,
    sizes=SizeLimits(
        max_block_transactions=2_000,
        max_block_bytes=1_000_000,
        max_block_attestations=500,
        max_report_entries=2_000,
    ),
    activation=ActivationHeights(),
)
"""Small parameters for unit tests and the simulator. The epoch-report rule
and the every-voter committee rule are off (unit tests build chains across
epochs without reports, and test the top-weight rule; the simulator's
parameters turn both on)."""

PRESETS: dict[str, ChainParams] = {p.name: p for p in (MAINNET, TESTNET, DEVNET, MINIMAL)}


def get_preset(name: str) -> ChainParams:
    """The preset called `name`; raises KeyError naming the known presets."""
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise KeyError(f"unknown network {name!r}; expected one of: {known}") from None
