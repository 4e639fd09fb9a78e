"""The JSON-RPC HTTP server (aiohttp).

`RpcServer(api, config)` serves the methods of `timecoin.rpc.handlers` over
a `NodeApi`: `await server.start()` writes the cookie file, listens, and
writes its bound URL to `<datadir>/rpc.url` (so clients find a server
started with port 0); `await server.stop()` stops listening, lets in-flight
requests finish (up to `shutdown_timeout_s`) and removes both files.

Every request is authenticated (HTTP Basic: the cookie, or the configured
user and password); a failure waits `auth_failure_delay_s` and gets HTTP
401 with `WWW-Authenticate`. Only `POST /` is served. Bodies are capped at
`max_request_bytes` (HTTP 413 beyond), batches at `max_batch_requests`, and
at most `max_concurrent_requests` are processed at once: more get HTTP 503,
like bitcoind's full work queue. A body not received within
`read_timeout_s` (bitcoind's `-rpcservertimeout`, 30 s) gets HTTP 408 and
the connection is closed, so a client that declares a length and sends
less cannot hold a slot. A call to a long-waiting method
(`LONG_WAIT_METHODS`: `waittransactionfinality`) leaves the work queue once
its body is read and takes one of `max_concurrent_waits` wait slots
instead (503 when they are all taken), so waiting callers can never lock
the other callers out.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web

from timecoin.rpc.api import NodeApi
from timecoin.rpc.auth import (
    Credentials,
    compute_local_url,
    cookie_path_for,
    generate_cookie,
    parse_basic_authorization,
    remove_cookie,
    remove_rpc_url,
    rpc_url_path_for,
    write_cookie,
    write_rpc_url,
)
from timecoin.rpc.dispatch import DEFAULT_MAX_BATCH_REQUESTS, Dispatcher, parse_json

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_MAX_REQUEST_BYTES: Final = 4_000_000
DEFAULT_MAX_CONCURRENT_REQUESTS: Final = 64
DEFAULT_AUTH_FAILURE_DELAY_S: Final = 0.25
DEFAULT_SHUTDOWN_TIMEOUT_S: Final = 5.0
DEFAULT_READ_TIMEOUT_S: Final = 30.0
DEFAULT_MAX_CONCURRENT_WAITS: Final = 16
LONG_WAIT_METHODS: Final = frozenset({"waittransactionfinality"})
"""Methods that may wait for minutes: served outside the work queue."""
AUTH_REALM: Final = 'Basic realm="jsonrpc"'

_log = logging.getLogger("timecoin.rpc")


@dataclass(frozen=True, slots=True)
class RpcConfig:
    """Where and how the RPC server listens.

    - `host`, `port`: the listening address; loopback by default. `port`
      None means the network's `default_rpc_port`, 0 any free port.
    - `datadir`: where `.cookie` is written; None for no cookie.
    - `user`, `password`: accepted Basic credentials besides the cookie
      (both or neither; the user may not contain ':').
    At least one of the cookie and the user/password must be configured.
    """

    host: str = DEFAULT_HOST
    port: int | None = None
    datadir: Path | None = None
    user: str | None = None
    password: str | None = None
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_batch_requests: int = DEFAULT_MAX_BATCH_REQUESTS
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS
    auth_failure_delay_s: float = DEFAULT_AUTH_FAILURE_DELAY_S
    shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    max_concurrent_waits: int = DEFAULT_MAX_CONCURRENT_WAITS

    def check(self) -> None:
        """Raise ValueError naming the first invalid field."""
        if (self.user is None) != (self.password is None):
            raise ValueError("rpc user and password must be given together")
        if self.user is not None and (not self.user or ":" in self.user):
            raise ValueError("rpc user must be non-empty and may not contain ':'")
        if self.password is not None and not self.password:
            raise ValueError("rpc password must not be empty")
        if self.datadir is None and self.user is None:
            raise ValueError("no RPC credentials: give a datadir for the cookie or a user/password")
        if self.port is not None and not 0 <= self.port <= 65_535:
            raise ValueError(f"rpc port {self.port} outside 0..65535")
        if not self.read_timeout_s > 0:
            raise ValueError("read_timeout_s must be positive")
        for name in (
            "max_request_bytes",
            "max_batch_requests",
            "max_concurrent_requests",
            "max_concurrent_waits",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.auth_failure_delay_s < 0 or self.shutdown_timeout_s < 0:
            raise ValueError("delays must not be negative")


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback IP addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RpcServer:
    """The JSON-RPC server of one node."""

    def __init__(self, api: NodeApi, config: RpcConfig) -> None:
        """Serve `api` as `config` says; raises ValueError for an invalid config."""
        config.check()
        self._api = api
        self._config = config
        self._dispatcher = Dispatcher(api, max_batch_requests=config.max_batch_requests)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._cookie: str | None = None
        self._url_file: str | None = None
        self._credentials: Credentials | None = None
        self._in_flight = 0
        self._waiting = 0

    @property
    def cookie_path(self) -> Path | None:
        """`<datadir>/.cookie`, or None when no datadir is configured."""
        datadir = self._config.datadir
        return None if datadir is None else cookie_path_for(datadir)

    @property
    def port(self) -> int:
        """The bound TCP port (after `start`)."""
        if self._port is None:
            raise RuntimeError("the RPC server is not started")
        return self._port

    @property
    def url(self) -> str:
        """`http://host:port/` of the running server."""
        host = self._config.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/"

    @property
    def waiting(self) -> int:
        """Calls of `LONG_WAIT_METHODS` in progress (wait slots taken)."""
        return self._waiting

    def make_app(self) -> web.Application:
        """The aiohttp application (one route: POST /)."""
        app = web.Application(client_max_size=self._config.max_request_bytes)
        app.router.add_route("*", "/", self._handle)
        return app

    async def start(self) -> None:
        """Write the cookie (if a datadir is set) and start listening.

        Raises OSError when the cookie cannot be written or the port is taken.
        """
        if self._runner is not None:
            raise RuntimeError("the RPC server is already started")
        config = self._config
        accepted: list[str] = []
        cookie_path = self.cookie_path
        if cookie_path is not None:
            cookie = generate_cookie()
            write_cookie(cookie_path, cookie)
            self._cookie = cookie
            accepted.append(cookie)
        if config.user is not None and config.password is not None:
            accepted.append(f"{config.user}:{config.password}")
        self._credentials = Credentials(accepted)
        if not is_loopback_host(config.host):
            _log.warning("RPC listens on %s, reachable from other machines", config.host)
        port = self._api.params.default_rpc_port if config.port is None else config.port
        runner = web.AppRunner(
            self.make_app(), access_log=None, shutdown_timeout=config.shutdown_timeout_s
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, config.host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            self._remove_cookie()
            raise
        self._runner = runner
        self._port = _bound_port(runner, port)
        datadir = config.datadir
        if datadir is not None:
            self._url_file = compute_local_url(config.host, self._port)
            write_rpc_url(rpc_url_path_for(datadir), self._url_file)
        _log.info("RPC server listening on %s", self.url)

    async def stop(self) -> None:
        """Stop listening, finish in-flight requests, remove the cookie (idempotent)."""
        runner = self._runner
        self._runner = None
        if runner is not None:
            await runner.cleanup()
        self._remove_cookie()
        datadir = self._config.datadir
        if datadir is not None and self._url_file is not None:
            remove_rpc_url(rpc_url_path_for(datadir), self._url_file)
            self._url_file = None

    def _remove_cookie(self) -> None:
        cookie_path = self.cookie_path
        if cookie_path is not None and self._cookie is not None:
            remove_cookie(cookie_path, self._cookie)
            self._cookie = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        credentials = self._credentials
        presented = parse_basic_authorization(request.headers.get("Authorization"))
        if credentials is None or not credentials.check(presented):
            _log.warning("RPC authorization failed from %s", request.remote)
            await asyncio.sleep(self._config.auth_failure_delay_s)
            return web.Response(status=401, headers={"WWW-Authenticate": AUTH_REALM})
        if request.method != "POST":
            return web.Response(
                status=405,
                text="JSONRPC server handles only POST requests",
                headers={"Allow": "POST"},
            )
        if self._in_flight >= self._config.max_concurrent_requests:
            return web.Response(status=503, text="Work queue depth exceeded")
        self._in_flight += 1
        waiting = False
        try:
            try:
                body = await asyncio.wait_for(request.read(), self._config.read_timeout_s)
            except TimeoutError:
                _log.info("RPC request body from %s not received in time", request.remote)
                response = web.Response(status=408, text="Request body not received in time")
                response.force_close()
                return response
            if _is_long_wait(body):
                if self._waiting >= self._config.max_concurrent_waits:
                    return web.Response(status=503, text="Too many waiting requests")
                self._in_flight -= 1
                self._waiting += 1
                waiting = True
            reply = await self._dispatcher.handle(body)
        finally:
            if waiting:
                self._waiting -= 1
            else:
                self._in_flight -= 1
        if reply.body is None:
            return web.Response(status=reply.status)
        return web.Response(status=reply.status, body=reply.body, content_type="application/json")


def _is_long_wait(body: bytes) -> bool:
    """Whether `body` is one call (not a batch) of a `LONG_WAIT_METHODS` method."""
    if not any(name.encode() in body for name in LONG_WAIT_METHODS):
        return False  # the usual case, without parsing twice
    try:
        request = parse_json(body)
    except ValueError:
        return False
    return isinstance(request, dict) and request.get("method") in LONG_WAIT_METHODS


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return requested
