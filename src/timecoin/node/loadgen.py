"""A load generator for a local testnet: signed transfers at a target rate.

`run_loadgen(testnet_dir, LoadgenConfig(tps=..., duration_s=...))` drives
the nodes of a running `timecoin testnet` over JSON-RPC and returns a
`LoadgenReport`; `timecoin loadgen` prints it.

1. **Funding.** `timecoin testnet` gives each node a wallet funded by
   genesis, with its password in a file beside it (`testnet.py`). The
   generator reads each wallet's key file (read-only: the node keeps the
   wallet open), asks the node for the wallet's largest coin in a block
   (`listunspent`), and signs one fan-out transaction per node that splits
   it into coins of `amount_per_coin` owned by keys the generator makes for
   this run, the change going back to the wallet. The load then never
   touches the nodes' wallets. While the fan-outs wait for their block,
   a payment from a node's own wallet (`sendtoaddress`) could pick the same
   coin; one of the two is then refused.
2. **Load.** Every 10 ms the generator signs the transfers due at the
   target rate, each spending one of its coins back to the same key less
   the minimum fee, and queues them round-robin for the nodes. One sender
   thread per node posts its queue as JSON-RPC batches of
   `sendrawtransaction`. A transfer due while no coin is free is not sent
   and counts as `starved`.
3. **Commits.** A poller reads node 0's new blocks (`getblockhash`,
   `getblock`) every `poll_interval_s`; a transfer is committed when its
   txid is in a block, and its latency runs from the post of its batch to
   the poll that saw the block. A committed transfer's output becomes a
   free coin again once every node has that block (a node behind would
   refuse a transfer spending it).
4. **Drain.** After `duration_s` no new transfer is sent; the generator
   waits up to `drain_timeout_s` for the accepted ones to commit.
"""

from __future__ import annotations

import collections
import json
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from timecoin.crypto import SigningKey, address_from_public_key
from timecoin.encoding import encode
from timecoin.ledger import compute_min_fee, compute_tx_size
from timecoin.ledger import sign_transaction as sign_spends
from timecoin.node.config import ConfigError, load_config
from timecoin.params import COIN, MAX_MONEY, ChainParams, get_preset
from timecoin.rpc.client import RpcCallError, RpcClient, RpcClientError
from timecoin.types import TX_VERSION, OutPoint, Transaction, TxInput, TxOutput, compute_txid
from timecoin.wallet.errors import WalletError
from timecoin.wallet.keyfile import KeyFile
from timecoin.wallet.keys import KeyRing

TESTNET_FILENAME: Final = "testnet.json"
CONFIG_FILENAME: Final = "node.toml"
MAX_FANOUT_OUTPUTS: Final = 999
"""Coins one fan-out transaction creates (the ledger allows 1,000 outputs)."""
MAX_LOAD_KEYS: Final = 256
"""Keys the generator spreads its coins over."""
TICK_S: Final = 0.01
RPC_TIMEOUT_S: Final = 30.0
FUNDING_TIMEOUT_S: Final = 60.0
LATENCY_PERCENTILES: Final = (50, 90, 99)


class LoadgenError(Exception):
    """The load cannot run (no testnet, no funds, a node unreachable); the message says why."""


@dataclass(frozen=True, slots=True)
class LoadgenNode:
    """One node of the testnet as the generator uses it."""

    name: str
    rpc_url: str
    datadir: Path
    wallet_file: Path
    password_file: Path

    def client(self, timeout_s: float = RPC_TIMEOUT_S) -> RpcClient:
        """A JSON-RPC client authenticated with the node's cookie."""
        return RpcClient.from_cookie(self.datadir, self.rpc_url, timeout_s=timeout_s)


@dataclass(frozen=True, slots=True)
class TestnetTargets:
    """The chain parameters and the nodes of a running testnet."""

    params: ChainParams
    nodes: tuple[LoadgenNode, ...]


@dataclass(frozen=True, slots=True)
class LoadgenConfig:
    """What load to offer.

    - `tps`: transfers per second, spread over the nodes round-robin;
    - `duration_s`: how long to send;
    - `coins`: how many coins to fund (None: enough for ~4 s of transfers
      in flight, within `MAX_FANOUT_OUTPUTS` per node);
    - `batch_max`: most transfers in one JSON-RPC batch;
    - `drain_timeout_s`: how long to wait for the accepted transfers to commit;
    - `poll_interval_s`: how often to look for new blocks;
    - `amount_per_coin`: what each funded coin holds (base units).
    """

    tps: float
    duration_s: float
    coins: int | None = None
    batch_max: int = 500
    drain_timeout_s: float = 30.0
    poll_interval_s: float = 0.05
    amount_per_coin: int = 10 * COIN

    def __post_init__(self) -> None:
        """Raises LoadgenError for values out of range."""
        if not 0 < self.tps <= 1_000_000:
            raise LoadgenError(f"--tps must be in (0, 1000000], got {self.tps}")
        if not 0 < self.duration_s <= 86_400:
            raise LoadgenError(f"--duration must be in (0, 86400] s, got {self.duration_s}")
        if self.coins is not None and self.coins < 1:
            raise LoadgenError(f"--coins must be at least 1, got {self.coins}")
        if not 1 <= self.batch_max <= 1_000:
            raise LoadgenError(f"batch size must be in 1..1000, got {self.batch_max}")
        if self.drain_timeout_s < 0 or self.poll_interval_s <= 0:
            raise LoadgenError("the drain timeout must be >= 0 and the poll interval > 0")

    def coin_count(self, node_count: int) -> int:
        """Coins to fund: as configured, or ~4 s of transfers, capped by the fan-outs."""
        wanted = self.coins if self.coins is not None else max(16, math.ceil(self.tps * 4))
        return min(wanted, MAX_FANOUT_OUTPUTS * node_count)


@dataclass(slots=True)
class LoadgenReport:
    """What a run did; `to_json` is the machine-readable form."""

    target_tps: float
    duration_s: float
    nodes: int
    coins: int
    submitted: int = 0
    """Transfers posted to a node."""
    accepted: int = 0
    """Transfers a node accepted (`sendrawtransaction` returned the txid)."""
    rejected: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    """Rejected transfers by the first word of the node's error message."""
    committed: int = 0
    """Accepted transfers seen in a block."""
    starved: int = 0
    """Transfers not sent because no coin was free."""
    send_elapsed_s: float = 0.0
    """From the first post to the end of sending."""
    commit_elapsed_s: float = 0.0
    """From the first post to the last commit seen."""
    latencies_s: list[float] = field(default_factory=list)
    commit_times_s: list[float] = field(default_factory=list)
    """When each commit was seen, in seconds from the first post."""
    accept_times_s: list[float] = field(default_factory=list)
    """When each accepted transfer was posted, in seconds from the first post."""

    @property
    def submit_rate_tps(self) -> float:
        """Accepted transfers per second of sending."""
        return self.accepted / self.send_elapsed_s if self.send_elapsed_s > 0 else 0.0

    @property
    def commit_rate_tps(self) -> float:
        """Committed transfers per second, first post to last commit."""
        return self.committed / self.commit_elapsed_s if self.commit_elapsed_s > 0 else 0.0

    def commit_rate_between(self, start_s: float, end_s: float) -> float:
        """Commits per second seen from `start_s` to `end_s` after the first post."""
        if end_s <= start_s:
            return 0.0
        count = sum(1 for t in self.commit_times_s if start_s <= t < end_s)
        return count / (end_s - start_s)

    def in_flight_at(self, time_s: float) -> int:
        """Accepted transfers posted by `time_s` and not yet seen committed."""
        posted = sum(1 for t in self.accept_times_s if t <= time_s)
        return posted - sum(1 for t in self.commit_times_s if t <= time_s)

    def latency_ms(self) -> dict[str, float | None]:
        """Submission-to-commit latency: percentiles, mean and max, in milliseconds."""
        values = sorted(self.latencies_s)
        result: dict[str, float | None] = {}
        for p in LATENCY_PERCENTILES:
            result[f"p{p}"] = None if not values else round(percentile(values, p) * 1000, 1)
        result["mean"] = None if not values else round(sum(values) / len(values) * 1000, 1)
        result["max"] = None if not values else round(values[-1] * 1000, 1)
        return result

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON object."""
        return {
            "target_tps": self.target_tps,
            "duration_s": self.duration_s,
            "nodes": self.nodes,
            "coins": self.coins,
            "submitted": self.submitted,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejections": dict(sorted(self.rejections.items())),
            "committed": self.committed,
            "starved": self.starved,
            "submit_rate_tps": round(self.submit_rate_tps, 2),
            "commit_rate_tps": round(self.commit_rate_tps, 2),
            "latency_ms": self.latency_ms(),
        }

    def format(self) -> str:
        """A few human-readable lines."""
        lat = self.latency_ms()

        def ms(key: str) -> str:
            value = lat[key]
            return "-" if value is None else f"{value:.0f} ms"

        lines = [
            f"target {self.target_tps:g} tx/s for {self.duration_s:g} s over {self.nodes} nodes "
            f"({self.coins} coins)",
            f"submitted {self.submitted}  accepted {self.accepted}  rejected {self.rejected}  "
            f"committed {self.committed}  starved {self.starved}",
            f"rate: accepted {self.submit_rate_tps:.1f} tx/s, committed "
            f"{self.commit_rate_tps:.1f} tx/s",
            f"latency to commit: p50 {ms('p50')}  p90 {ms('p90')}  p99 {ms('p99')}  "
            f"max {ms('max')}",
        ]
        if self.rejections:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.rejections.items()))
            lines.append(f"rejections: {reasons}")
        return "\n".join(lines)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The nearest-rank `p`-th percentile of a non-empty sorted sequence."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# ---------------------------------------------------------------- the testnet


def read_testnet(datadir: Path) -> TestnetTargets:
    """The nodes of the testnet in `datadir`, from testnet.json and each node.toml.

    Raises LoadgenError when the testnet or a wallet is missing.
    """
    path = datadir / TESTNET_FILENAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LoadgenError(
            f"{path}: {exc.strerror}: is `timecoin testnet --datadir {datadir}` running?"
        ) from None
    except ValueError as exc:
        raise LoadgenError(f"{path}: not a testnet description: {exc}") from None
    entries = document.get("nodes") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise LoadgenError(f"{path}: lists no nodes")
    nodes: list[LoadgenNode] = []
    network: str | None = None
    for entry in entries:
        try:
            node_dir = Path(entry["datadir"])
            config = load_config(node_dir / CONFIG_FILENAME).resolve(node_dir)
            rpc_url = str(entry["rpc_url"])
            name = str(entry["name"])
        except (KeyError, TypeError) as exc:
            raise LoadgenError(f"{path}: malformed node entry: {exc}") from None
        except ConfigError as exc:
            raise LoadgenError(str(exc)) from None
        if config.wallet_file is None or config.wallet_password_file is None:
            raise LoadgenError(f"{name}: the node has no wallet to fund the load from")
        if network is not None and config.network != network:
            raise LoadgenError(f"{path}: nodes of different networks")
        network = config.network
        nodes.append(
            LoadgenNode(name, rpc_url, node_dir, config.wallet_file, config.wallet_password_file)
        )
    params = get_preset(network or "devnet")
    return TestnetTargets(params, tuple(nodes))


# ---------------------------------------------------------------- transactions


@dataclass(frozen=True, slots=True)
class _Coin:
    """A coin of the generator: where it is, what it holds, which key owns it."""

    outpoint: OutPoint
    amount: int
    key: SigningKey


def sign_transaction(
    inputs: Sequence[tuple[OutPoint, SigningKey]], outputs: list[TxOutput], chain_id: int
) -> Transaction:
    """A transaction spending `inputs` to `outputs`, every input signed by its key."""
    unsigned = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(op, key.public_key) for op, key in inputs],
        outputs=outputs,
        lock_time=0,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    return sign_spends(unsigned, [key for _, key in inputs], chain_id)


def compute_fee_for(
    inputs: Sequence[tuple[OutPoint, SigningKey]], outputs: list[TxOutput], params: ChainParams
) -> int:
    """The minimum fee of a transaction shaped like `inputs` -> `outputs`.

    Signatures and keys have fixed lengths, so zero-filled signatures give
    the signed size; amounts are taken as given, so pass the widest amount
    for an output whose value depends on the fee.
    """
    template = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(op, key.public_key) for op, key in inputs],
        outputs=outputs,
        lock_time=0,
        payload=None,
        signatures=[bytes(64)] * len(inputs),
        owner_signature=None,
    )
    return compute_min_fee(compute_tx_size(template), params)


def build_transfer(coin: _Coin, params: ChainParams) -> tuple[Transaction, _Coin]:
    """A signed transfer of `coin` back to its own key less the minimum fee; the new coin.

    Raises LoadgenError when the coin cannot pay the fee and stay above dust.
    """
    address = address_from_public_key(coin.key.public_key)
    spend = [(coin.outpoint, coin.key)]
    fee = compute_fee_for(spend, [TxOutput(coin.amount, address)], params)
    amount = coin.amount - fee
    if amount < max(params.dust_limit, 1):
        raise LoadgenError(f"coin {coin.outpoint.txid.hex()} is spent down to dust")
    tx = sign_transaction(spend, [TxOutput(amount, address)], params.chain_id)
    return tx, _Coin(OutPoint(compute_txid(tx), 0), amount, coin.key)


def _units(amount: object) -> int:
    """A JSON amount in TIME (Decimal from the RPC client) as base units."""
    return int(Decimal(str(amount)) * COIN)


def fund_node(
    node: LoadgenNode,
    count: int,
    keys: Sequence[SigningKey],
    config: LoadgenConfig,
    params: ChainParams,
) -> tuple[bytes, list[_Coin]]:
    """Sign and submit the fan-out of `node`'s wallet into `count` coins; (txid, coins).

    Raises LoadgenError when the wallet cannot be read or lacks a coin large enough.
    """
    try:
        password = node.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        keyfile = KeyFile.open(node.wallet_file, password)
    except OSError as exc:
        raise LoadgenError(f"{node.name}: cannot read the wallet password: {exc}") from None
    except WalletError as exc:
        raise LoadgenError(f"{node.name}: {exc}") from None
    ring = KeyRing(keyfile.master_seed, keyfile.key_count)
    by_address = {ring.key(i).address: ring.key(i) for i in range(ring.count)}
    client = node.client()
    try:
        unspent = client.call("listunspent", [1])
    except RpcClientError as exc:
        raise LoadgenError(f"{node.name}: listunspent: {exc}") from None
    best: tuple[int, OutPoint, SigningKey] | None = None
    for entry in unspent if isinstance(unspent, list) else []:
        wallet_key = by_address.get(bytes.fromhex(str(entry.get("scriptPubKey", ""))))
        if wallet_key is None or not entry.get("spendable", True):
            continue
        amount = _units(entry["amount"])
        if best is None or amount > best[0]:
            outpoint = OutPoint(bytes.fromhex(entry["txid"]), int(entry["vout"]))
            best = (amount, outpoint, wallet_key.signing_key)
    if best is None:
        raise LoadgenError(f"{node.name}: the wallet has no coin in a block to fund the load")
    total, outpoint, wallet_signing_key = best
    change_address = address_from_public_key(wallet_signing_key.public_key)
    payees = [keys[i % len(keys)] for i in range(count)]
    outputs = [
        TxOutput(config.amount_per_coin, address_from_public_key(k.public_key)) for k in payees
    ]
    spend = [(outpoint, wallet_signing_key)]
    fee = compute_fee_for(spend, [*outputs, TxOutput(MAX_MONEY, change_address)], params)
    change = total - config.amount_per_coin * count - fee
    if change < max(params.dust_limit, 1):
        raise LoadgenError(
            f"{node.name}: the largest coin holds {total} units, the load needs "
            f"{config.amount_per_coin * count + fee}: lower --coins or the amount per coin"
        )
    tx = sign_transaction(spend, [*outputs, TxOutput(change, change_address)], params.chain_id)
    txid = compute_txid(tx)
    try:
        client.call("sendrawtransaction", [encode(tx).hex()])
    except RpcClientError as exc:
        raise LoadgenError(f"{node.name}: the fan-out was refused: {exc}") from None
    coins = [
        _Coin(OutPoint(txid, index), config.amount_per_coin, key)
        for index, key in enumerate(payees)
    ]
    return txid, coins


# ---------------------------------------------------------------- the run


@dataclass(slots=True)
class _Pending:
    """An accepted transfer waiting for its block."""

    posted_at: float
    new_coin: _Coin


class _Submission:
    """A signed transfer on its way to a node."""

    __slots__ = ("coin", "hex", "new_coin", "txid")

    def __init__(self, coin: _Coin, tx: Transaction, new_coin: _Coin) -> None:
        """`tx` spends `coin` and creates `new_coin`; kept encoded as hex for the RPC."""
        self.coin = coin
        self.hex = encode(tx).hex()
        self.txid = new_coin.outpoint.txid
        self.new_coin = new_coin


class LoadGenerator:
    """One run of the load: funding, sending, watching blocks, draining."""

    def __init__(
        self,
        targets: TestnetTargets,
        config: LoadgenConfig,
        log: Callable[[str], None] | None = None,
    ) -> None:
        """A run against `targets` as `config` says; `log` gets progress lines."""
        self.targets = targets
        self.params = targets.params
        self.config = config
        self.nodes = targets.nodes
        self._log = log or (lambda _line: None)
        self.report = LoadgenReport(
            target_tps=config.tps,
            duration_s=config.duration_s,
            nodes=len(self.nodes),
            coins=config.coin_count(len(self.nodes)),
        )
        self._lock = threading.Lock()
        self._free: collections.deque[_Coin] = collections.deque()
        self._pending: dict[bytes, _Pending] = {}
        self._maturing: list[tuple[int, _Coin]] = []
        """Coins of committed transfers, with the height every node must reach first."""
        self._queues: list[queue.Queue[_Submission | None]] = [queue.Queue() for _ in self.nodes]
        self._stop_polling = threading.Event()
        self._first_post: float | None = None
        self._last_commit: float | None = None
        self._seen_height = -1
        self._min_height = -1
        self._poll_error: str | None = None

    # ------------------------------------------------------------ funding

    def fund(self) -> None:
        """Fan each node's wallet coin out into the generator's coins; wait for the block."""
        count = self.report.coins
        keys = [SigningKey(os.urandom(32)) for _ in range(min(count, MAX_LOAD_KEYS))]
        per_node = [
            count // len(self.nodes) + (i < count % len(self.nodes)) for i in range(len(self.nodes))
        ]
        fanouts: dict[bytes, list[_Coin]] = {}
        for node, share in zip(self.nodes, per_node, strict=True):
            if share:
                txid, coins = fund_node(node, share, keys, self.config, self.params)
                fanouts[txid] = coins
        self._log(f"funding {count} coins with {len(fanouts)} fan-out transactions")
        height = self._wait_committed(set(fanouts), FUNDING_TIMEOUT_S)
        self._wait_all_nodes(height, FUNDING_TIMEOUT_S)
        self._seen_height = height
        self._min_height = height
        for coins in fanouts.values():
            self._free.extend(coins)

    def _wait_committed(self, txids: set[bytes], timeout_s: float) -> int:
        """Wait until every txid is in a block of node 0; the highest such height."""
        client = self.nodes[0].client()
        deadline = time.monotonic() + timeout_s
        left = set(txids)
        height = self._tip_height(client)
        scanned = height - 1
        found_height = height
        while left:
            if time.monotonic() > deadline:
                raise LoadgenError(
                    f"{len(left)} fan-out transactions not committed in {timeout_s} s"
                )
            tip = self._tip_height(client)
            for h in range(scanned + 1, tip + 1):
                for txid in self._block_txids(client, h):
                    if txid in left:
                        left.discard(txid)
                        found_height = h
            scanned = tip
            if left:
                time.sleep(self.config.poll_interval_s)
        return found_height

    def _wait_all_nodes(self, height: int, timeout_s: float) -> None:
        """Wait until every node's tip is at least `height`."""
        deadline = time.monotonic() + timeout_s
        while self._lowest_height() < height:
            if time.monotonic() > deadline:
                raise LoadgenError(f"not every node reached height {height} in {timeout_s} s")
            time.sleep(self.config.poll_interval_s)

    @staticmethod
    def _tip_height(client: RpcClient) -> int:
        """The tip height the node of `client` reports."""
        try:
            return int(client.call("getblockcount"))
        except RpcClientError as exc:
            raise LoadgenError(f"getblockcount: {exc}") from None

    @staticmethod
    def _block_txids(client: RpcClient, height: int) -> list[bytes]:
        """The txids of the block at `height` (coinbase first)."""
        try:
            block_hash = client.call("getblockhash", [height])
            block = client.call("getblock", [block_hash, 1])
        except RpcClientError as exc:
            raise LoadgenError(f"block {height}: {exc}") from None
        return [bytes.fromhex(t if isinstance(t, str) else t["txid"]) for t in block["tx"]]

    def _lowest_height(self) -> int:
        """The lowest tip height over the nodes (-1 when one does not answer)."""
        heights = []
        for node in self.nodes:
            try:
                heights.append(int(node.client(timeout_s=5.0).call("getblockcount")))
            except RpcClientError:
                return -1
        return min(heights)

    # ------------------------------------------------------------ sending

    def _sender(self, index: int) -> None:
        """Post node `index`'s queue in batches until it receives None (the
        cookie is read again for each batch: a restarted node has a new one)."""
        inbox = self._queues[index]
        done = False
        while not done:
            first = inbox.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.config.batch_max:
                try:
                    item = inbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    done = True
                    break
                batch.append(item)
            self._post(self.nodes[index], batch)

    def _post(self, node: LoadgenNode, batch: list[_Submission]) -> None:
        """Post `batch` as one JSON-RPC batch; count what was accepted and refused."""
        posted_at = time.monotonic()
        with self._lock:
            if self._first_post is None:
                self._first_post = posted_at
            self.report.submitted += len(batch)
            for item in batch:
                self._pending[item.txid] = _Pending(posted_at, item.new_coin)
        try:
            client = node.client()
            results: list[Any] = client.batch(
                [("sendrawtransaction", [item.hex]) for item in batch]
            )
        except (RpcClientError, OSError) as exc:  # down, or restarting without a cookie yet
            results = [exc] * len(batch)
        with self._lock:
            for item, result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    self._pending.pop(item.txid, None)
                    self.report.rejected += 1
                    reason = _reason(result)
                    self.report.rejections[reason] = self.report.rejections.get(reason, 0) + 1
                    if _coin_is_reusable(result):
                        self._free.append(item.coin)
                else:
                    self.report.accepted += 1
                    self.report.accept_times_s.append(posted_at - self._first_post)

    # ------------------------------------------------------------ watching blocks

    def _poller(self) -> None:
        """Watch the nodes' blocks until the run ends (errors are shown, not fatal)."""
        while not self._stop_polling.wait(self.config.poll_interval_s):
            try:
                self._poll_once()
                self._poll_error = None
            except (RpcClientError, OSError, LoadgenError, KeyError, TypeError, ValueError) as exc:
                self._poll_error = str(exc)

    def _poll_once(self) -> None:
        """Record the commits of the first answering node's new blocks; free
        the coins every answering node has (a node that is down, or restarting
        with a new cookie, is left out until it answers again)."""
        answering: list[tuple[int, RpcClient]] = []
        for node in self.nodes:
            try:
                client = node.client(timeout_s=10.0)
                answering.append((int(client.call("getblockcount")), client))
            except (RpcClientError, OSError):
                continue
        if not answering:
            raise LoadgenError("no node answers")
        heights = [height for height, _ in answering]
        tip, first = answering[0]
        for height in range(self._seen_height + 1, tip + 1):
            txids = self._block_txids(first, height)
            seen_at = time.monotonic()
            with self._lock:
                for txid in txids:
                    pending = self._pending.pop(txid, None)
                    if pending is None:
                        continue
                    self.report.committed += 1
                    self.report.latencies_s.append(seen_at - pending.posted_at)
                    self.report.commit_times_s.append(seen_at - (self._first_post or seen_at))
                    self._last_commit = seen_at
                    self._maturing.append((height, pending.new_coin))
            self._seen_height = height
        lowest = min(heights)
        with self._lock:
            self._min_height = lowest
            ready = [coin for h, coin in self._maturing if h <= lowest]
            if ready:
                self._maturing = [(h, coin) for h, coin in self._maturing if h > lowest]
                self._free.extend(ready)

    # ------------------------------------------------------------ the run

    def run(self) -> LoadgenReport:
        """Fund, send for `duration_s`, drain; the report."""
        self.fund()
        senders = [
            threading.Thread(target=self._sender, args=(i,), name=f"loadgen-send-{i}", daemon=True)
            for i in range(len(self.nodes))
        ]
        poller = threading.Thread(target=self._poller, name="loadgen-poll", daemon=True)
        for thread in (*senders, poller):
            thread.start()
        try:
            self._generate()
        finally:
            for inbox in self._queues:
                inbox.put(None)
            for thread in senders:
                thread.join()
            self._drain()
            self._stop_polling.set()
            poller.join()
        report = self.report
        first = self._first_post
        if first is not None and self._last_commit is not None:
            report.commit_elapsed_s = self._last_commit - first
        return report

    def _generate(self) -> None:
        """Sign and queue the transfers due at the target rate for `duration_s`."""
        config = self.config
        start = time.monotonic()
        due_total = 0
        turn = 0
        last_log = start
        while (elapsed := time.monotonic() - start) < config.duration_s:
            due = min(int(config.tps * elapsed) + 1, math.ceil(config.tps * config.duration_s))
            while due_total < due:
                due_total += 1
                with self._lock:
                    coin = self._free.popleft() if self._free else None
                if coin is None:
                    self.report.starved += 1
                    continue
                tx, new_coin = build_transfer(coin, self.params)
                self._queues[turn % len(self.nodes)].put(_Submission(coin, tx, new_coin))
                turn += 1
            now = time.monotonic()
            if now - last_log >= 1.0:
                last_log = now
                self._log_progress(now - start)
            time.sleep(TICK_S)
        self.report.send_elapsed_s = time.monotonic() - (self._first_post or start)

    def _log_progress(self, elapsed_s: float) -> None:
        with self._lock:
            r = self.report
            line = (
                f"{elapsed_s:5.1f} s  submitted {r.submitted}  accepted {r.accepted}  "
                f"committed {r.committed}  height {self._seen_height}"
            )
        if self._poll_error:
            line += f"  (poll: {self._poll_error})"
        self._log(line)

    def _drain(self) -> None:
        """Wait up to `drain_timeout_s` for the accepted transfers to commit."""
        deadline = time.monotonic() + self.config.drain_timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return
            time.sleep(self.config.poll_interval_s)


def _reason(error: Exception) -> str:
    """The rejection reason of a refused transfer: the reject code of the message."""
    if isinstance(error, RpcCallError):
        word = error.message.split(":", 1)[0].strip()
        return word or f"code {error.code}"
    return "rpc-failure"


def _coin_is_reusable(error: Exception) -> bool:
    """Whether the coin of a refused transfer is still unspent: not when the
    node saw it spent or the transfer may have been accepted after all."""
    if isinstance(error, RpcCallError):
        return error.code not in (-25, -27) and not error.message.startswith("txn-mempool-conflict")
    return False


def run_loadgen(
    testnet_dir: Path, config: LoadgenConfig, log: Callable[[str], None] | None = None
) -> LoadgenReport:
    """Run the load `config` describes against the testnet in `testnet_dir`.

    Raises LoadgenError when the testnet cannot be used.
    """
    targets = read_testnet(testnet_dir)
    return LoadGenerator(targets, config, log).run()
