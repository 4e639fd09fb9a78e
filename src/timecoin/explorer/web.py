"""The web explorer: pages at Esplora's explorer paths, served beside `/api`.

Each page is one small HTML shell (`static/page.html`) naming what it shows;
`static/app.js` fills it in from the REST API with DOM calls that set text,
never HTML, so no field of a block, transaction or address can inject
markup. `/events` is a server-sent event stream: one `change` event each
time a block commits or a transaction becomes final, and the open page
reloads its data (not itself). `/search?q=` sends a height, block hash,
txid or address to its page. No build step, no CDN: three files shipped in
the package.
"""

from __future__ import annotations

import asyncio
import html
import json
from importlib import resources
from typing import Final

from aiohttp import web

from timecoin.crypto import AddressError, decode_address
from timecoin.explorer.rest import MAX_HEIGHT, BadRequest, Handler, parse_hash, parse_int
from timecoin.explorer.source import ExplorerSource

STATIC_FILES: Final = {
    "app.js": "text/javascript",
    "style.css": "text/css",
}
EVENTS_PATH: Final = "/events"
EVENT_KEEPALIVE_S: Final = 15.0
EVENT_STREAM_MAX_S: Final = 600.0
"""A stream ends after this long; the browser's EventSource reconnects."""
MAX_EVENT_STREAMS: Final = 200
PAGES: Final = ("home", "block", "tx", "address", "masternodes")


def _static(name: str) -> bytes:
    return resources.files("timecoin.explorer").joinpath("static", name).read_bytes()


class ExplorerPages:
    """The page, search, static and event handlers over one source."""

    def __init__(self, source: ExplorerSource) -> None:
        self.source = source
        self._shell = _static("page.html").decode("utf-8")
        self._files = {name: _static(name) for name in STATIC_FILES}
        self._streams = 0

    def page(self, kind: str, subject: str = "") -> web.Response:
        """The shell of page `kind` about `subject` (already validated)."""
        assert kind in PAGES
        text = self._shell.replace("{{page}}", kind).replace("{{subject}}", html.escape(subject))
        return web.Response(
            text=text,
            content_type="text/html",
            headers={
                "Content-Security-Policy": "default-src 'self'; style-src 'self'; "
                "script-src 'self'; connect-src 'self'",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def home(self, request: web.Request) -> web.StreamResponse:
        return self.page("home")

    async def block(self, request: web.Request) -> web.StreamResponse:
        return self.page("block", parse_hash(request.match_info["hash"], "block hash").hex())

    async def tx(self, request: web.Request) -> web.StreamResponse:
        return self.page("tx", parse_hash(request.match_info["txid"], "txid").hex())

    async def address(self, request: web.Request) -> web.StreamResponse:
        text = request.match_info["address"]
        try:
            decode_address(text, self.source.params.address_hrp)
        except AddressError as exc:
            raise BadRequest(f"Invalid address: {exc}") from None
        return self.page("address", text)

    async def masternodes(self, request: web.Request) -> web.StreamResponse:
        return self.page("masternodes")

    async def search(self, request: web.Request) -> web.StreamResponse:
        query = request.query.get("q", "").strip()
        if query.isascii() and query.isdigit():
            height = parse_int(query, "height", MAX_HEIGHT)
            block_hash = await self.source.get_block_hash(height)
            if block_hash is None:
                raise BadRequest("No block at that height yet")
            raise web.HTTPFound(f"/block/{block_hash.hex()}")
        if len(query) == 64:
            digest = parse_hash(query, "hash")
            if await self.source.get_block(digest) is not None:
                raise web.HTTPFound(f"/block/{digest.hex()}")
            raise web.HTTPFound(f"/tx/{digest.hex()}")
        try:
            decode_address(query, self.source.params.address_hrp)
        except AddressError:
            raise BadRequest("Search for a height, a block hash, a txid or an address") from None
        raise web.HTTPFound(f"/address/{query}")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        content_type = STATIC_FILES.get(name)
        if content_type is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=self._files[name],
            content_type=content_type,
            headers={"Cache-Control": "max-age=60"},
        )

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: `change` with the tip height, until the stream's time is up."""
        if self._streams >= MAX_EVENT_STREAMS:
            raise web.HTTPServiceUnavailable()
        self._streams += 1
        try:
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)
            loop = asyncio.get_running_loop()
            ends_at = loop.time() + EVENT_STREAM_MAX_S
            seen = await self.source.wait_for_change(-1, 0.0)
            try:
                await response.write(b"retry: 1000\n\n")
                while loop.time() < ends_at:
                    version = await self.source.wait_for_change(seen, EVENT_KEEPALIVE_S)
                    if version == seen:
                        await response.write(b": keepalive\n\n")
                        continue
                    seen = version
                    height, _ = await self.source.get_tip()
                    data = json.dumps({"version": version, "height": height})
                    await response.write(f"event: change\ndata: {data}\n\n".encode())
            except ConnectionError:
                pass  # the browser left (closed the page or reconnects)
            return response
        finally:
            self._streams -= 1


def explorer_routes(source: ExplorerSource) -> list[tuple[str, str, Handler]]:
    """The explorer's routes, to pass to `RestServer(extra_routes=...)`."""
    pages = ExplorerPages(source)
    return [
        ("GET", "/", pages.home),
        ("GET", "/block/{hash:[^/]+}", pages.block),
        ("GET", "/tx/{txid:[^/]+}", pages.tx),
        ("GET", "/address/{address:[^/]+}", pages.address),
        ("GET", "/masternodes", pages.masternodes),
        ("GET", "/search", pages.search),
        ("GET", "/static/{name:[^/]+}", pages.static),
        ("GET", EVENTS_PATH, pages.events),
    ]
