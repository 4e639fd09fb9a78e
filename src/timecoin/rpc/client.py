"""A small synchronous JSON-RPC client, as `timecoin rpc` (bitcoin-cli) uses.

It authenticates with the node's cookie file (`RpcClient.from_cookie`) or a
user and password, posts JSON-RPC 2.0 requests with the standard library
(no event loop needed), and raises `RpcCallError` with the server's code
and message for an error reply. Non-integer numbers in results are returned
as `decimal.Decimal`, so amounts stay exact; `call_json` returns a result's
JSON text untouched.
"""

from __future__ import annotations

import base64
import itertools
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import msgspec

from timecoin.params import ChainParams
from timecoin.rpc.auth import cookie_path_for, read_cookie

DEFAULT_TIMEOUT_S: Final = 900.0
"""How long a call may take (bitcoin-cli's default)."""
MAX_REPLY_BYTES: Final = 256_000_000

Params = Sequence[object] | Mapping[str, object] | None
_ENCODER: Final = msgspec.json.Encoder(decimal_format="number")


class RpcClientError(Exception):
    """Base of the client's errors; the message is meant for the user."""


class RpcConnectionError(RpcClientError):
    """The server could not be reached or did not answer with JSON-RPC."""


class RpcAuthError(RpcClientError):
    """The server refused the credentials (HTTP 401), or none could be read."""


class RpcCallError(RpcClientError):
    """An error reply: the server's code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"error code: {code}: {message}")
        self.code = code
        self.message = message


def default_rpc_url(params: ChainParams, host: str = "127.0.0.1") -> str:
    """`http://127.0.0.1:<the network's default RPC port>/`."""
    return f"http://{host}:{params.default_rpc_port}/"


class RpcClient:
    """Calls one node's JSON-RPC server."""

    def __init__(
        self, url: str, user: str, password: str, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        """Call the server at `url` (http or https) as `user`.

        Raises ValueError for another URL scheme.
        """
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"RPC URL must be http:// or https://, got {url!r}")
        self._url = url
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._authorization = f"Basic {token}"
        self._timeout_s = timeout_s
        self._ids = itertools.count(1)

    @classmethod
    def from_cookie(
        cls, datadir: Path, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> RpcClient:
        """A client using the cookie the node wrote in `datadir`.

        Raises RpcAuthError when the cookie cannot be read.
        """
        path = cookie_path_for(datadir)
        try:
            user, password = read_cookie(path)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise RpcAuthError(
                f"could not read the RPC cookie {path}: {reason}. "
                "Is the node running with this data directory?"
            ) from None
        return cls(url, user, password, timeout_s=timeout_s)

    @property
    def url(self) -> str:
        """The server's URL."""
        return self._url

    def call(self, method: str, params: Params = None) -> Any:
        """Call `method`; its result (fractions as Decimal).

        Raises RpcCallError, RpcAuthError, RpcConnectionError.
        """
        return _parse_json(self.call_json(method, params))

    def call_json(self, method: str, params: Params = None) -> bytes:
        """Call `method`; the JSON text of its result, as the server sent it."""
        request_id = next(self._ids)
        request: dict[str, object] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        request["params"] = [] if params is None else params
        reply = _decode_reply(self._post(_ENCODER.encode(request)))
        if not isinstance(reply, dict):
            raise RpcConnectionError("malformed reply: expected a JSON object")
        return _result_or_raise(reply, request_id)

    def batch(self, calls: Sequence[tuple[str, Params]]) -> list[Any]:
        """Call several methods in one request; per call its result or its RpcCallError."""
        ids = [next(self._ids) for _ in calls]
        payload = [
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or []}
            for request_id, (method, params) in zip(ids, calls, strict=True)
        ]
        replies = _decode_reply(self._post(_ENCODER.encode(payload)))
        if not isinstance(replies, list):
            raise RpcConnectionError("malformed reply: expected a JSON array")
        by_id: dict[object, dict[str, msgspec.Raw]] = {}
        for reply in replies:
            if not isinstance(reply, dict) or "id" not in reply:
                raise RpcConnectionError("malformed batch reply")
            by_id[_parse_json(bytes(reply["id"]))] = reply
        results: list[Any] = []
        for request_id in ids:
            reply = by_id.get(request_id)
            if reply is None:
                raise RpcConnectionError(f"batch reply lacks id {request_id}")
            try:
                results.append(_parse_json(_result_or_raise(reply, request_id)))
            except RpcCallError as exc:
                results.append(exc)
        return results

    def _post(self, body: bytes) -> bytes:
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            self._url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": self._authorization},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:  # noqa: S310
                data: bytes = response.read(MAX_REPLY_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise RpcAuthError(
                    "authorization failed: incorrect rpc user or password (or a stale cookie)"
                ) from None
            data = exc.read(MAX_REPLY_BYTES + 1)
            if not data:
                raise RpcConnectionError(f"server returned HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RpcConnectionError(
                f"could not connect to the server {self._url}: {reason}\n\n"
                "Make sure the node is running and that you are connecting to the "
                "correct RPC port."
            ) from None
        if len(data) > MAX_REPLY_BYTES:
            raise RpcConnectionError(f"reply larger than {MAX_REPLY_BYTES} bytes")
        return data


def _parse_json(data: bytes) -> Any:
    return json.loads(data, parse_float=Decimal)


def _decode_reply(data: bytes) -> object:
    """The reply as a dict (or list of dicts) of raw JSON members."""
    try:
        return msgspec.json.decode(data, type=dict[str, msgspec.Raw] | list[dict[str, msgspec.Raw]])
    except msgspec.DecodeError as exc:
        raise RpcConnectionError(f"malformed reply from the server: {exc}") from None


def _result_or_raise(reply: Mapping[str, msgspec.Raw], request_id: int) -> bytes:
    raw_id = reply.get("id")
    if raw_id is not None and _parse_json(bytes(raw_id)) not in (request_id, None):
        raise RpcConnectionError("reply id does not match the request")
    error = reply.get("error")
    if error is not None and bytes(error) != b"null":
        value = _parse_json(bytes(error))
        if not isinstance(value, dict):
            raise RpcConnectionError("malformed error in the reply")
        code = value.get("code")
        message = value.get("message")
        raise RpcCallError(
            code if isinstance(code, int) else 0, message if isinstance(message, str) else ""
        )
    result = reply.get("result")
    return b"null" if result is None else bytes(result)
