"""The REST API: Esplora's paths under `/api`, read-only but for `POST /tx`.

`RestServer` serves an `ExplorerSource` over aiohttp. No authentication;
CORS open to every origin (GET, POST, OPTIONS); each client (by remote
address) gets a token bucket of `requests_per_s` with `burst` (429 when
empty); at most `max_concurrent` requests run at once (503 beyond) and each
must finish within `request_timeout_s` (503). Every path parameter is
validated first: bad hex, a wrong length, an address of another network, a
height outside 0..2^31-1, a start index that is not a multiple of 25 get 400
with a one-line message; what does not exist gets 404. docs/rest.md lists
the paths and shapes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from aiohttp import web

from timecoin.crypto import AddressError, decode_address, merkle_proof
from timecoin.encoding import DecodeError, decode, encode
from timecoin.explorer import esplora
from timecoin.explorer.source import (
    ExplorerSource,
    FoundTransaction,
    Placement,
    SourceUnavailableError,
    SubmitRejectedError,
)
from timecoin.p2p.ratelimit import TokenBucket
from timecoin.types import OutPoint, Transaction, compute_txid

API_PREFIX: Final = "/api"
PAGE_TXS: Final = 25
"""Esplora's page: transactions per `block/:hash/txs` and `address/:a/txs/chain` call."""
MEMPOOL_TXS_SHOWN: Final = 50
RECENT_COUNT: Final = 10
BLOCKS_PER_PAGE: Final = 10
MAX_HEIGHT: Final = 2**31 - 1
MAX_VOUT: Final = 0xFFFF_FFFF
MAX_CLIENTS_TRACKED: Final = 10_000
SHUTDOWN_TIMEOUT_S: Final = 2.0
"""How long stopping waits for requests in flight before cancelling them."""
FEE_TARGETS: Final = (1, 2, 3, 4, 5, 6, 10, 20, 25, 144, 504, 1008)
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_ENCODER: Final = msgspec.json.Encoder()
_log = logging.getLogger("timecoin.explorer")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(Exception):
    """A request parameter that fails validation: 400 with this message."""


class NotFound(Exception):
    """Nothing at this path: 404 with this message."""


@dataclass(frozen=True, slots=True)
class RestConfig:
    """Where and how the REST API listens (`port` 0 picks a free port)."""

    host: str = "127.0.0.1"
    port: int = 0
    requests_per_s: float = 50.0
    burst: float = 100.0
    max_concurrent: int = 16
    request_timeout_s: float = 10.0
    max_body_bytes: int = 4_000_000


# ---------------------------------------------------------------- parameters


def parse_hash(text: str, what: str) -> bytes:
    """A 32-byte hash as 64 hex digits (else BadRequest)."""
    if len(text) != 64 or not set(text) <= _HEX:
        raise BadRequest(f"Invalid {what}: expected 64 hex digits")
    return bytes.fromhex(text)


def parse_int(text: str, what: str, high: int) -> int:
    """A decimal integer in 0..high (else BadRequest)."""
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise BadRequest(f"Invalid {what}: expected a number 0 to {high}")
    value = int(text)
    if value > high:
        raise BadRequest(f"Invalid {what}: expected a number 0 to {high}")
    return value


def json_response(value: object, *, status: int = 200) -> web.Response:
    """A JSON reply."""
    return web.Response(body=_ENCODER.encode(value), status=status, content_type="application/json")


def text_response(text: str, *, status: int = 200) -> web.Response:
    """A text/plain reply."""
    return web.Response(text=text, status=status, content_type="text/plain")


class ClientLimiter:
    """Token buckets per client address, the least recently seen evicted
    beyond MAX_CLIENTS_TRACKED."""

    def __init__(self, rate_per_s: float, burst: float) -> None:
        self._rate = rate_per_s
        self._burst = burst
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def allow(self, client: str, now: float) -> bool:
        """Charge one request to `client`; False when its bucket is empty."""
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = TokenBucket(self._rate, self._burst, now)
            self._buckets[client] = bucket
            if len(self._buckets) > MAX_CLIENTS_TRACKED:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
        if bucket.refill(now) < 1:
            return False
        bucket.charge(1)
        return True


# ---------------------------------------------------------------- the API


class RestApi:
    """The route handlers over one `ExplorerSource`."""

    def __init__(self, source: ExplorerSource) -> None:
        self.source = source
        self.params = source.params

    def parse_address(self, text: str) -> bytes:
        try:
            return decode_address(text, self.params.address_hrp)
        except AddressError as exc:
            raise BadRequest(f"Invalid address: {exc}") from None

    async def found_json(self, found: FoundTransaction, *, with_status: bool = True) -> Any:
        prevouts = await self.source.get_prevouts(found)
        return esplora.tx_json(found, prevouts, self.params, with_status=with_status)

    async def lookup_tx(self, request: web.Request) -> FoundTransaction:
        txid = parse_hash(request.match_info["txid"], "txid")
        found = await self.source.get_transaction(txid)
        if found is None:
            raise NotFound("Transaction not found")
        return found

    async def lookup_block(self, request: web.Request) -> tuple[bytes, Any]:
        block_hash = parse_hash(request.match_info["hash"], "block hash")
        block = await self.source.get_block(block_hash)
        if block is None:
            raise NotFound("Block not found")
        return block_hash, block

    # ------------------------------------------------------------ blocks

    async def tip_height(self, request: web.Request) -> web.StreamResponse:
        height, _ = await self.source.get_tip()
        return text_response(str(height))

    async def tip_hash(self, request: web.Request) -> web.StreamResponse:
        _, block_hash = await self.source.get_tip()
        return text_response(block_hash.hex())

    async def blocks(self, request: web.Request) -> web.StreamResponse:
        tip, _ = await self.source.get_tip()
        start_text = request.match_info.get("start", "")
        start = tip if not start_text else min(tip, parse_int(start_text, "height", MAX_HEIGHT))
        result = []
        for height in range(start, max(-1, start - BLOCKS_PER_PAGE), -1):
            block_hash = await self.source.get_block_hash(height)
            block = None if block_hash is None else await self.source.get_block(block_hash)
            if block is not None and block_hash is not None:
                result.append(esplora.block_json(block, block_hash, self.params))
        return json_response(result)

    async def block(self, request: web.Request) -> web.StreamResponse:
        block_hash, block = await self.lookup_block(request)
        return json_response(esplora.block_json(block, block_hash, self.params))

    async def block_status(self, request: web.Request) -> web.StreamResponse:
        block_hash, block = await self.lookup_block(request)
        height = block.header.height
        in_best = await self.source.get_block_hash(height) == block_hash
        result: dict[str, object] = {"in_best_chain": in_best, "height": height}
        next_hash = await self.source.get_block_hash(height + 1) if in_best else None
        if next_hash is not None:
            result["next_best"] = next_hash.hex()
        return json_response(result)

    async def block_txids(self, request: web.Request) -> web.StreamResponse:
        _, block = await self.lookup_block(request)
        return json_response([compute_txid(tx).hex() for tx in block.transactions])

    async def block_header(self, request: web.Request) -> web.StreamResponse:
        _, block = await self.lookup_block(request)
        return text_response(encode(block.header).hex())

    async def block_raw(self, request: web.Request) -> web.StreamResponse:
        _, block = await self.lookup_block(request)
        return web.Response(body=encode(block), content_type="application/octet-stream")

    async def block_txid(self, request: web.Request) -> web.StreamResponse:
        _, block = await self.lookup_block(request)
        index = parse_int(request.match_info["index"], "index", MAX_VOUT)
        if index >= len(block.transactions):
            raise NotFound("Transaction index out of range")
        return text_response(compute_txid(block.transactions[index]).hex())

    async def tx_raw(self, request: web.Request) -> web.StreamResponse:
        found = await self.lookup_tx(request)
        return web.Response(body=encode(found.tx), content_type="application/octet-stream")

    async def block_txs(self, request: web.Request) -> web.StreamResponse:
        block_hash, block = await self.lookup_block(request)
        start = parse_int(request.match_info.get("start", "0") or "0", "start index", MAX_HEIGHT)
        if start % PAGE_TXS:
            raise BadRequest(f"Invalid start index: must be a multiple of {PAGE_TXS}")
        if start >= len(block.transactions) and start > 0:
            raise NotFound("start index out of range")
        height, time_ms = block.header.height, block.header.timestamp_ms
        result = []
        for index, tx in enumerate(block.transactions[start : start + PAGE_TXS], start=start):
            placement = Placement(block_hash, height, index, time_ms, True)
            found = FoundTransaction(tx, compute_txid(tx), placement)
            result.append(await self.found_json(found, with_status=False))
        return json_response(result)

    async def block_height(self, request: web.Request) -> web.StreamResponse:
        height = parse_int(request.match_info["height"], "height", MAX_HEIGHT)
        block_hash = await self.source.get_block_hash(height)
        if block_hash is None:
            raise NotFound("Block not found")
        return text_response(block_hash.hex())

    # ------------------------------------------------------------ transactions

    async def tx(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.found_json(await self.lookup_tx(request)))

    async def tx_status(self, request: web.Request) -> web.StreamResponse:
        found = await self.lookup_tx(request)
        return json_response(esplora.status_json(found.placement))

    async def tx_hex(self, request: web.Request) -> web.StreamResponse:
        found = await self.lookup_tx(request)
        return text_response(encode(found.tx).hex())

    async def tx_merkle_proof(self, request: web.Request) -> web.StreamResponse:
        found = await self.lookup_tx(request)
        placement = found.placement
        if placement.block_hash is None or placement.index is None:
            raise NotFound("Transaction not yet in a block")
        block = await self.source.get_block(placement.block_hash)
        if block is None:
            raise NotFound("Block not found")
        txids = [compute_txid(tx) for tx in block.transactions]
        proof = merkle_proof(txids, placement.index)
        return json_response(
            {
                "block_height": placement.height,
                "merkle": [sibling.hex() for sibling in proof.siblings],
                "pos": placement.index,
                "tx_count": proof.leaf_count,
            }
        )

    async def outspend_json(self, txid: bytes, vout: int) -> object:
        spend = await self.source.get_spend(OutPoint(txid, vout))
        if spend is None:
            return {"spent": False}
        return {
            "spent": True,
            "txid": spend.txid.hex(),
            "vin": spend.vin,
            "status": esplora.status_json(spend.placement),
        }

    async def tx_outspend(self, request: web.Request) -> web.StreamResponse:
        found = await self.lookup_tx(request)
        vout = parse_int(request.match_info["vout"], "vout", MAX_VOUT)
        if vout >= len(found.tx.outputs):
            raise NotFound("Output not found")
        return json_response(await self.outspend_json(found.txid, vout))

    async def tx_outspends(self, request: web.Request) -> web.StreamResponse:
        found = await self.lookup_tx(request)
        result = [
            await self.outspend_json(found.txid, vout) for vout in range(len(found.tx.outputs))
        ]
        return json_response(result)

    async def tx_finality(self, request: web.Request) -> web.StreamResponse:
        txid = parse_hash(request.match_info["txid"], "txid")
        status = await self.source.get_finality(txid)
        return json_response(
            {
                "txid": txid.hex(),
                "status": status.status,
                "epoch": status.epoch,
                "vote_weight": status.vote_weight_units,
                "quorum_weight": status.quorum_weight_units,
                "total_weight": status.total_weight_units,
                "proof": None if status.proof is None else status.proof.hex(),
                "proof_epoch": status.proof_epoch,
                "voters": [key.hex() for key in status.proof_voters],
                "block_hash": None if status.block_hash is None else status.block_hash.hex(),
                "block_height": status.height,
            }
        )

    async def post_tx(self, request: web.Request) -> web.StreamResponse:
        max_bytes = self.params.sizes.max_tx_bytes
        body = await request.content.read(2 * max_bytes + 3)
        text = body.decode("ascii", "replace").strip()
        if len(text) > 2 * max_bytes:
            raise BadRequest(f"Transaction larger than {max_bytes} bytes")
        if not text or len(text) % 2 or not set(text) <= _HEX:
            raise BadRequest("Invalid transaction: expected hex")
        try:
            tx = decode(bytes.fromhex(text), Transaction, max_bytes)
        except DecodeError as exc:
            raise BadRequest(f"Invalid transaction: {exc}") from None
        try:
            txid = await self.source.submit(tx)
        except SubmitRejectedError as exc:
            raise BadRequest(f"Transaction rejected: {exc}") from None
        return text_response(txid.hex())

    # ------------------------------------------------------------ addresses

    async def address_history(
        self, request: web.Request
    ) -> tuple[bytes, str, list[FoundTransaction]]:
        text = request.match_info["address"]
        address = self.parse_address(text)
        return address, text, await self.source.get_address_transactions(address)

    async def address(self, request: web.Request) -> web.StreamResponse:
        address, text, history = await self.address_history(request)
        pairs = [(found, await self.source.get_prevouts(found)) for found in history]
        summary = esplora.summarize_address(address, pairs)
        return json_response(esplora.address_json(text, summary))

    async def address_utxo(self, request: web.Request) -> web.StreamResponse:
        address, _, history = await self.address_history(request)
        pairs = [(found, await self.source.get_prevouts(found)) for found in history]
        return json_response(esplora.utxo_json(esplora.summarize_address(address, pairs)))

    async def address_txs(self, request: web.Request) -> web.StreamResponse:
        _, _, history = await self.address_history(request)
        pooled = [f for f in history if not f.placement.is_confirmed][:MEMPOOL_TXS_SHOWN]
        confirmed = [f for f in history if f.placement.is_confirmed][:PAGE_TXS]
        return json_response([await self.found_json(f) for f in pooled + confirmed])

    async def address_txs_mempool(self, request: web.Request) -> web.StreamResponse:
        _, _, history = await self.address_history(request)
        pooled = [f for f in history if not f.placement.is_confirmed][:MEMPOOL_TXS_SHOWN]
        return json_response([await self.found_json(f) for f in pooled])

    async def address_txs_chain(self, request: web.Request) -> web.StreamResponse:
        last_seen_text = request.match_info.get("last_seen", "")
        last_seen = parse_hash(last_seen_text, "txid") if last_seen_text else None
        _, _, history = await self.address_history(request)
        confirmed = [f for f in history if f.placement.is_confirmed]
        if last_seen is not None:
            positions = [i for i, f in enumerate(confirmed) if f.txid == last_seen]
            if not positions:
                raise BadRequest("Invalid last_seen_txid: not in this address's history")
            confirmed = confirmed[positions[0] + 1 :]
        return json_response([await self.found_json(f) for f in confirmed[:PAGE_TXS]])

    # ------------------------------------------------------------ mempool and fees

    async def mempool(self, request: web.Request) -> web.StreamResponse:
        return json_response(esplora.mempool_json(await self.source.get_mempool()))

    async def mempool_txids(self, request: web.Request) -> web.StreamResponse:
        return json_response([p.txid.hex() for p in await self.source.get_mempool()])

    async def mempool_recent(self, request: web.Request) -> web.StreamResponse:
        pool = await self.source.get_mempool()
        return json_response(esplora.recent_json(pool, RECENT_COUNT))

    async def fee_estimates(self, request: web.Request) -> web.StreamResponse:
        rate = await self.source.get_min_fee_per_kb() / 1000
        return json_response({str(target): rate for target in FEE_TARGETS})

    async def stats(self, request: web.Request) -> web.StreamResponse:
        activity = await self.source.get_finality_activity()
        return json_response(
            {
                "finalized_total": activity.finalized_total,
                "finality_latency_ms": {
                    "p50": activity.latency_p50_ms,
                    "p99": activity.latency_p99_ms,
                    "samples": activity.samples,
                },
            }
        )

    async def masternodes(self, request: web.Request) -> web.StreamResponse:
        registry = await self.source.get_registry()
        return json_response(esplora.masternodes_json(registry, self.params))

    def routes(self) -> list[tuple[str, str, Handler]]:
        """(method, path, handler) of every route, paths relative to the prefix."""
        hash_ = "{hash:[^/]+}"
        txid = "{txid:[^/]+}"
        addr = "{address:[^/]+}"
        return [
            ("GET", "/blocks/tip/height", self.tip_height),
            ("GET", "/blocks/tip/hash", self.tip_hash),
            ("GET", "/blocks", self.blocks),
            ("GET", "/blocks/{start:[^/]+}", self.blocks),
            ("GET", f"/block/{hash_}", self.block),
            ("GET", f"/block/{hash_}/status", self.block_status),
            ("GET", f"/block/{hash_}/txids", self.block_txids),
            ("GET", f"/block/{hash_}/header", self.block_header),
            ("GET", f"/block/{hash_}/raw", self.block_raw),
            ("GET", f"/block/{hash_}/txid/{{index:[^/]+}}", self.block_txid),
            ("GET", f"/block/{hash_}/txs", self.block_txs),
            ("GET", f"/block/{hash_}/txs/{{start:[^/]+}}", self.block_txs),
            ("GET", "/block-height/{height:[^/]+}", self.block_height),
            ("GET", f"/tx/{txid}", self.tx),
            ("GET", f"/tx/{txid}/status", self.tx_status),
            ("GET", f"/tx/{txid}/hex", self.tx_hex),
            ("GET", f"/tx/{txid}/raw", self.tx_raw),
            ("GET", f"/tx/{txid}/merkle-proof", self.tx_merkle_proof),
            ("GET", f"/tx/{txid}/outspend/{{vout:[^/]+}}", self.tx_outspend),
            ("GET", f"/tx/{txid}/outspends", self.tx_outspends),
            ("GET", f"/tx/{txid}/finality", self.tx_finality),
            ("POST", "/tx", self.post_tx),
            ("GET", f"/address/{addr}", self.address),
            ("GET", f"/address/{addr}/utxo", self.address_utxo),
            ("GET", f"/address/{addr}/txs", self.address_txs),
            ("GET", f"/address/{addr}/txs/mempool", self.address_txs_mempool),
            ("GET", f"/address/{addr}/txs/chain", self.address_txs_chain),
            ("GET", f"/address/{addr}/txs/chain/{{last_seen:[^/]+}}", self.address_txs_chain),
            ("GET", "/mempool", self.mempool),
            ("GET", "/mempool/txids", self.mempool_txids),
            ("GET", "/mempool/recent", self.mempool_recent),
            ("GET", "/fee-estimates", self.fee_estimates),
            ("GET", "/masternodes", self.masternodes),
            ("GET", "/stats", self.stats),
        ]


_CORS_HEADERS: Final = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}


class RestServer:
    """The REST API (and, when given pages, the explorer) on one port."""

    def __init__(
        self,
        source: ExplorerSource,
        config: RestConfig,
        *,
        extra_routes: list[tuple[str, str, Handler]] | None = None,
        streaming_paths: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Serve `source` as `config` says; `extra_routes` (absolute paths)
        are served beside the API with the same limits, except that
        `streaming_paths` (event streams, bounded by their handler) run
        without the request timeout and outside the concurrency count."""
        self.api = RestApi(source)
        self.config = config
        self._clock = clock
        self._limiter = ClientLimiter(config.requests_per_s, config.burst)
        self._in_flight = 0
        self._extra_routes = extra_routes or []
        self._streaming_paths = streaming_paths
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.throttled_count = 0

    @property
    def url(self) -> str:
        """The API's base URL, e.g. http://127.0.0.1:PORT/api."""
        return f"http://{self.config.host}:{self.port}{API_PREFIX}"

    def build_app(self) -> web.Application:
        """The aiohttp application (routes, limits, CORS)."""
        app = web.Application(
            middlewares=[self._middleware], client_max_size=self.config.max_body_bytes
        )
        for method, path, handler in self.api.routes():
            app.router.add_route(method, API_PREFIX + path, handler)
        for method, path, handler in self._extra_routes:
            app.router.add_route(method, path, handler)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=204)  # CORS preflight
        else:
            response = await self._limited(request, handler)
        response.headers.update(_CORS_HEADERS)
        return response

    async def _limited(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        client = request.remote or "unknown"
        if not self._limiter.allow(client, self._clock()):
            self.throttled_count += 1
            return text_response("Too many requests", status=429)
        streaming = request.path in self._streaming_paths
        if not streaming and self._in_flight >= self.config.max_concurrent:
            return text_response("Server busy, retry", status=503)
        self._in_flight += 0 if streaming else 1
        try:
            async with asyncio.timeout(None if streaming else self.config.request_timeout_s):
                return await handler(request)
        except web.HTTPRedirection:
            raise
        except BadRequest as exc:
            return text_response(str(exc)[:300], status=400)
        except NotFound as exc:
            return text_response(str(exc), status=404)
        except web.HTTPException as exc:
            return text_response(exc.reason, status=exc.status)
        except (SourceUnavailableError, TimeoutError):
            return text_response("Node busy or starting, retry", status=503)
        except Exception:
            _log.exception("REST %s %s failed", request.method, request.path[:200])
            return text_response("Internal error", status=500)
        finally:
            self._in_flight -= 0 if streaming else 1

    async def start(self) -> None:
        """Listen on the configured address (port 0: a free one, see `port`)."""
        runner = web.AppRunner(
            self.build_app(), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.config.host, self.config.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = self.config.port
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break
        _log.info("REST API listening on %s", self.url)

    async def stop(self) -> None:
        """Stop listening and close connections (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
