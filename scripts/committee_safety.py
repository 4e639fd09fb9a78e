"""Probability that an adversary holding a fraction f of the total voting
weight gets more than 1/3 of a committee's weight (ADR 0013).

Exact computations, no sampling error:

- **top-weight rule** (the committee is the `max_voters` highest voting
  weights, ties among equal weights broken by sha256(seed || key)): the
  committee takes whole tiers from the top down and a uniformly random
  subset of the tier at the cut, so the adversary's weight in it is fixed
  plus a hypergeometric draw. The adversary stakes everything in Gold (its
  best placement: the cut is in Gold whenever more than `max_voters` Gold
  masternodes exist).
- **weighted seats** (the alternative considered: `seats` draws with
  replacement proportional to weight): the adversary's seats are
  Binomial(seats, f), however it splits its stake (weight is linear in
  collateral).
- **every voter votes** (the rule chosen): the committee is every masternode
  with voting weight while they number at most `max_voters`: the adversary's
  share is f exactly, so the probability is 0 for every f < 1/3. Beyond the
  cap the lightest (then youngest) are left out, which no seed decides; with
  an excluded share x of the weight the adversary's committee share is at
  most f / (1 - x).
- **grinding**: the proposer of the block whose hash seeds the next
  committee can try K block variants and keep the best seed. It holds that
  proposal with probability about f (rotation weighted by voting weight),
  so per epoch p_grind = f * (1 - (1 - p)**K) + (1 - f) * p.

Per year = 1 - (1 - p)**365 (mainnet epochs are 1,440 one-minute blocks).

`--costs` prints what a committee of 100, 300, 1,000 and 3,000 equally
weighted voters costs: certificate bytes, the epoch reports of the last
block of an epoch, consensus vote traffic per block, finality votes and
proof per final transaction, and the CPU time to verify them, measured
with the node's verifier on this machine.

`--check N` also runs the node's own `compute_voting_set_from_entries` on N
random seeds for one case and prints the observed frequency with its
standard error beside the exact value.

Usage: ``python scripts/committee_safety.py [--check N] [--costs]``
(the probabilities are deterministic; the timings are this machine's).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("timecoin") is None:
    sys.path.insert(0, str(ROOT / "src"))

from timecoin.chain import compute_block_overhead_bytes  # noqa: E402
from timecoin.crypto import SigningKey, sha256, verify  # noqa: E402
from timecoin.encoding import encode  # noqa: E402
from timecoin.masternode import compute_voting_set_from_entries  # noqa: E402
from timecoin.masternode.state import MasternodeEntry  # noqa: E402
from timecoin.params import MAINNET, ActivationHeights, Tier  # noqa: E402
from timecoin.types import PackedReport, ProofVote, TxVoteBatch, Vote, VoteLeaf  # noqa: E402

COST_VOTERS = (100, 300, 1_000, 3_000)
BATCH_TXIDS = 256
BATCH_BRANCH_HASHES = 8
"""A finality vote batch of 256 transactions: 8 sibling hashes per vote in a proof."""

FRACTIONS = (0.10, 0.20, 0.25, 0.30, 0.33)
EPOCHS_PER_YEAR = 365
GRIND_VARIANTS = (1_000, 1_000_000)
SEAT_COUNTS = (100, 300, 1_000, 3_000)


@dataclass(frozen=True)
class Population:
    """Honest masternodes per staked tier (Gold, Silver, Bronze)."""

    name: str
    gold: int
    silver: int
    bronze: int

    def weight(self) -> int:
        """The honest voting weight."""
        return sum(self.counts()[t] * w for t, w in tier_weights().items())

    def counts(self) -> dict[Tier, int]:
        return {Tier.GOLD: self.gold, Tier.SILVER: self.silver, Tier.BRONZE: self.bronze}


POPULATIONS = (
    Population("equal: 300 Gold", 300, 0, 0),
    Population("mixed: 100 Gold, 300 Silver, 1,000 Bronze", 100, 300, 1_000),
    Population("broad: 300 Gold, 1,000 Silver, 3,000 Bronze", 300, 1_000, 3_000),
)


def tier_weights() -> dict[Tier, int]:
    """Voting weight per staked tier, heaviest first (mainnet)."""
    return {t: MAINNET.tier_params(t).voting_weight for t in (Tier.GOLD, Tier.SILVER, Tier.BRONZE)}


def adversary_gold(population: Population, f: float) -> int:
    """Gold masternodes that give the adversary a fraction f of the total weight."""
    gold_weight = tier_weights()[Tier.GOLD]
    return round(f / (1 - f) * population.weight() / gold_weight)


def hypergeometric_tail(total: int, bad: int, draws: int, at_least: int) -> float:
    """P(X >= at_least) for X the bad items among `draws` taken without
    replacement from `total` items of which `bad` are bad."""
    denominator = math.comb(total, draws)
    numerator = sum(
        math.comb(bad, k) * math.comb(total - bad, draws - k)
        for k in range(max(at_least, 0), min(bad, draws) + 1)
    )
    return numerator / denominator


def binomial_tail(n: int, p: float, at_least: int) -> float:
    """P(X >= at_least) for X ~ Binomial(n, p), summed in logs."""
    total = 0.0
    for k in range(max(at_least, 0), n + 1):
        log_term = (
            math.lgamma(n + 1)
            - math.lgamma(k + 1)
            - math.lgamma(n - k + 1)
            + k * math.log(p)
            + (n - k) * math.log1p(-p)
        )
        total += math.exp(log_term)
    return total


def top_weight_rule(population: Population, bad_gold: int, max_voters: int) -> float:
    """P(adversary weight > 1/3 of the committee's) under the top-weight rule,
    the adversary holding `bad_gold` Gold masternodes and nothing else."""
    weights = tier_weights()
    pools = population.counts()
    pools[Tier.GOLD] += bad_gold
    seats = max_voters
    committee_weight = 0
    for tier, weight in weights.items():
        taken = min(seats, pools[tier])
        committee_weight += taken * weight
        seats -= taken
    gold_seats = min(max_voters, pools[Tier.GOLD])
    gold_weight = weights[Tier.GOLD]
    # adversary weight = X * gold_weight with X ~ hypergeometric; > 1/3 strictly
    threshold = committee_weight // (3 * gold_weight) + 1
    return hypergeometric_tail(pools[Tier.GOLD], bad_gold, gold_seats, threshold)


def weighted_seats(seats: int, f: float) -> float:
    """P(Binomial(seats, f) > seats / 3)."""
    return binomial_tail(seats, f, seats // 3 + 1)


def per_year(p: float) -> float:
    """Probability of at least one failing epoch in a year."""
    return -math.expm1(EPOCHS_PER_YEAR * math.log1p(-p)) if p < 1 else 1.0


def ground(p: float, f: float, variants: int) -> float:
    """Per-epoch probability when the seed block's proposer tries `variants` seeds."""
    best_of = -math.expm1(variants * math.log1p(-p)) if p < 1 else 1.0
    return f * best_of + (1 - f) * p


def fmt(p: float) -> str:
    if p == 0:
        return "0"
    if p >= 0.01:
        return f"{p:.3f}"
    return f"{p:.1e}"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def report(max_voters: int) -> None:
    """Print the ADR's tables (markdown)."""
    print(f"max_voters = {max_voters}, epochs per year = {EPOCHS_PER_YEAR}")
    for population in POPULATIONS:
        rows = []
        for f in FRACTIONS:
            bad = adversary_gold(population, f)
            p = top_weight_rule(population, bad, max_voters)
            grind = [fmt(ground(p, f, k)) for k in GRIND_VARIANTS]
            grind_year = fmt(per_year(ground(p, f, GRIND_VARIANTS[-1])))
            rows.append([f"{f:.2f}", str(bad), fmt(p), fmt(per_year(p)), *grind, grind_year])
        print_table(
            f"Top-weight rule, honest population {population.name}",
            [
                "f",
                "adversary Gold",
                "per epoch",
                "per year",
                *(f"per epoch, grind K={k:,}" for k in GRIND_VARIANTS),
                f"per year, grind K={GRIND_VARIANTS[-1]:,}",
            ],
            rows,
        )
    rows = []
    for f in FRACTIONS:
        cells = []
        for seats in SEAT_COUNTS:
            p = weighted_seats(seats, f)
            cells.append(f"{fmt(p)} / {fmt(per_year(p))}")
        rows.append([f"{f:.2f}", *cells])
    print_table(
        "Weighted seats (Binomial), per epoch / per year",
        ["f", *(f"{s:,} seats" for s in SEAT_COUNTS)],
        rows,
    )
    rows = [[f"{f:.2f}", "0", "0", "0"] for f in FRACTIONS]
    print_table(
        "Every voter votes (at most max_voters staked masternodes)",
        ["f", "per epoch", "per year", "any grinding"],
        rows,
    )


def costs() -> None:
    """Print the per-committee-size costs (markdown)."""
    params = MAINNET
    hash32 = b"\xff" * 32
    signature = b"\xff" * 64
    branch = [hash32] * BATCH_BRANCH_HASHES
    vote = len(encode(Vote(2, 2**40, 2**20, hash32, hash32, signature)))
    leaf = len(encode(VoteLeaf(hash32, hash32)))
    batch = len(encode(TxVoteBatch(hash32, 2**20, hash32, BATCH_TXIDS, signature)))
    proof_vote = len(encode(ProofVote(0xFFFF, hash32, 256, 255, branch, signature)))
    entries = params.sizes.max_report_entries
    report = len(encode(PackedReport(hash32, signature, b"\xff" * ((entries + 7) // 8))))
    base = compute_block_overhead_bytes(replace(params, max_voters=0))

    key = SigningKey.from_seed(sha256(b"costs"))
    message = b"m" * 64
    signed = key.sign(message)
    rounds = 2_000
    start = time.perf_counter()
    for _ in range(rounds):
        verify(key.public_key, message, signed)
    verify_s = (time.perf_counter() - start) / rounds
    start = time.perf_counter()
    for _ in range(rounds):
        sha256(sha256(hash32 + hash32) + hash32)
    leaf_s = (time.perf_counter() - start) / rounds

    rows = []
    for n in COST_VOTERS:
        quorum = 2 * n // 3 + 1
        certificate = compute_block_overhead_bytes(replace(params, max_voters=n)) - base
        # a member receives each voter's batch: per transaction a leaf and
        # about two hashes to rebuild the root, and 1/256 of a signature
        per_tx_s = n * (leaf_s + verify_s / BATCH_TXIDS)
        rows.append(
            [
                f"{n:,}",
                f"{certificate / 1e3:,.0f} kB",
                f"{n * report / 1e6:.2f} MB",
                f"{2 * n * vote / 1e3:,.0f} kB",
                f"{2 * n * verify_s * 1e3:,.0f} ms",
                f"{n * (leaf + batch / BATCH_TXIDS) / 1e3:,.1f} kB",
                f"{quorum * proof_vote / 1e3:,.0f} kB",
                f"{per_tx_s * 1e3:.2f} ms",
                f"{per_tx_s * params.max_final_tps:.2f} s/s",
            ]
        )
    print_table(
        f"Costs by committee size (Ed25519 verify {verify_s * 1e6:.0f} us, "
        f"two sha256 {leaf_s * 1e6:.1f} us, batches of {BATCH_TXIDS}, "
        f"{params.max_final_tps} final tx/s)",
        [
            "voters",
            "certificate",
            "epoch reports (last block)",
            "consensus votes per block (1 round)",
            "verify them",
            "finality vote traffic per tx",
            "proof per tx",
            "verify votes per tx",
            "at max_final_tps",
        ],
        rows,
    )


def check(trials: int, max_voters: int) -> None:
    """Run the node's committee function on `trials` seeds for the equal
    population at f = 0.30 and compare with the exact value."""
    population = POPULATIONS[0]
    f = 0.30
    bad = adversary_gold(population, f)
    entries = [
        MasternodeEntry(
            masternode_id=sha256(b"mn %d" % i),
            tier=Tier.GOLD,
            collateral=None,
            owner_key=sha256(b"owner %d" % i),
            operator_key=sha256(b"operator %d" % i),
            reward_address=b"",
            network_address="",
            registered_height=0,
            active_from_epoch=0,
            banned_from_epoch=None,
            deregistered_from_epoch=None,
            last_heartbeat_sequence=None,
            last_heartbeat_window=None,
        )
        for i in range(population.gold + bad)
    ]
    bad_keys = {e.operator_key for e in entries[:bad]}
    params = replace(
        MAINNET, max_voters=max_voters, activation=ActivationHeights(epoch_reports_height=1)
    )
    failures = 0
    for trial in range(trials):
        voting_set = compute_voting_set_from_entries(entries, 1, sha256(b"seed %d" % trial), params)
        weight = sum(v.weight for v in voting_set.voters)
        bad_weight = sum(v.weight for v in voting_set.voters if v.operator_key in bad_keys)
        failures += 3 * bad_weight > weight
    observed = failures / trials
    exact = top_weight_rule(population, bad, max_voters)
    error = math.sqrt(exact * (1 - exact) / trials)
    print(
        f"\ncheck ({population.name}, f = {f}, {trials} seeds, node's committee code): "
        f"observed {observed:.4f}, exact {exact:.4f}, standard error {error:.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-voters", type=int, default=100, help="committee size (top rule)")
    parser.add_argument("--check", type=int, default=0, metavar="N", help="also sample N seeds")
    parser.add_argument("--costs", action="store_true", help="also print committee costs")
    args = parser.parse_args()
    report(args.max_voters)
    if args.costs:
        costs()
    if args.check:
        check(args.check, args.max_voters)


if __name__ == "__main__":
    main()
