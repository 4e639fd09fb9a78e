"""JSON-RPC 1.0 and 2.0 dispatch, as bitcoind (v28 and later) answers.

Given the body of an HTTP POST, `Dispatcher.handle` returns the HTTP status
and body of the reply. The rules, all bitcoind's:

- A request with `"jsonrpc": "2.0"` gets a 2.0 reply: `jsonrpc`, then
  `result` or `error` (never both), and `id`; HTTP 200 even for errors. A
  2.0 request without `id` is a notification: it runs, and gets no reply
  (HTTP 204 when alone).
- A request without `jsonrpc` (or with "1.0") gets a legacy reply with both
  `result` and `error`, one of them null, and `id` (null when absent). A
  legacy error sets the HTTP status: 400 for an invalid request, 404 for an
  unknown method, 500 otherwise.
- A JSON array is a batch: each element is answered in order in an array
  (HTTP 200), notifications leave no entry; a batch of notifications only
  gets HTTP 204, an empty batch `[]`. Batches are capped at
  `max_batch_requests`.
- A body that is not JSON gets -32700 "Parse error" (HTTP 500); JSON that
  is neither an object nor an array gets -32700 "Top-level object parse
  error".

`id` may be a number, a string or null and is echoed unchanged.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, NoReturn

import msgspec

from timecoin.rpc.api import NodeApi
from timecoin.rpc.errors import (
    RPC_INTERNAL_ERROR,
    RPC_INVALID_REQUEST,
    RPC_METHOD_NOT_FOUND,
    RPC_PARSE_ERROR,
    RpcError,
)
from timecoin.rpc.handlers import invoke

HTTP_OK: Final = 200
HTTP_NO_CONTENT: Final = 204
HTTP_BAD_REQUEST: Final = 400
HTTP_NOT_FOUND: Final = 404
HTTP_INTERNAL_SERVER_ERROR: Final = 500

DEFAULT_MAX_BATCH_REQUESTS: Final = 1_000

_log = logging.getLogger("timecoin.rpc")
_ENCODER: Final = msgspec.json.Encoder(decimal_format="number")


class JsonRpcVersion(enum.Enum):
    """The reply style a request asked for."""

    LEGACY = "1.0"
    V2 = "2.0"


@dataclass(frozen=True, slots=True)
class HttpReply:
    """An HTTP status and JSON body; `body` is None for 204 No Content."""

    status: int
    body: bytes | None


@dataclass(frozen=True, slots=True)
class _Outcome:
    reply: dict[str, object] | None
    status: int


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> object:
    """Parse a request body: UTF-8 JSON, fractions as Decimal, no NaN or Infinity.

    Raises ValueError (also for nesting too deep to parse).
    """
    try:
        text = body.decode("utf-8")
        value: object = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    return value


def make_reply(
    result: object, error: dict[str, object] | None, id_: object, version: JsonRpcVersion
) -> dict[str, object]:
    """A reply object in the style of `version` (see the module docstring)."""
    reply: dict[str, object] = {}
    if version is JsonRpcVersion.V2:
        reply["jsonrpc"] = "2.0"
        if error is None:
            reply["result"] = result
        else:
            reply["error"] = error
    else:
        reply["result"] = None if error is not None else result
        reply["error"] = error
    reply["id"] = id_
    return reply


def _legacy_status(error: dict[str, object]) -> int:
    code = error.get("code")
    if code == RPC_INVALID_REQUEST:
        return HTTP_BAD_REQUEST
    if code == RPC_METHOD_NOT_FOUND:
        return HTTP_NOT_FOUND
    return HTTP_INTERNAL_SERVER_ERROR


def _parse_version(request: Mapping[str, object]) -> JsonRpcVersion:
    value = request.get("jsonrpc")
    if value is None:
        return JsonRpcVersion.LEGACY
    if not isinstance(value, str):
        raise RpcError(RPC_INVALID_REQUEST, "jsonrpc field must be a string")
    if value == "1.0":
        return JsonRpcVersion.LEGACY
    if value == "2.0":
        return JsonRpcVersion.V2
    raise RpcError(RPC_INVALID_REQUEST, "JSON-RPC version not supported")


def _parse_call(
    request: Mapping[str, object],
) -> tuple[str, Sequence[object] | Mapping[str, object]]:
    method = request.get("method")
    if method is None:
        raise RpcError(RPC_INVALID_REQUEST, "Missing method")
    if not isinstance(method, str):
        raise RpcError(RPC_INVALID_REQUEST, "Method must be a string")
    params = request.get("params")
    if params is None:
        return method, []
    if isinstance(params, list):
        return method, params
    if isinstance(params, dict):
        return method, params
    raise RpcError(RPC_INVALID_REQUEST, "Params must be an array or object")


class Dispatcher:
    """Parses request bodies, runs the methods on a `NodeApi`, builds replies."""

    def __init__(
        self, api: NodeApi, *, max_batch_requests: int = DEFAULT_MAX_BATCH_REQUESTS
    ) -> None:
        """Serve `api`; batches above `max_batch_requests` are refused."""
        if max_batch_requests < 1:
            raise ValueError(f"max_batch_requests must be at least 1, got {max_batch_requests}")
        self._api = api
        self._max_batch_requests = max_batch_requests

    async def handle(self, body: bytes) -> HttpReply:
        """The HTTP reply to one POST body."""
        try:
            request = parse_json(body)
        except ValueError:
            return self._error_reply(RpcError(RPC_PARSE_ERROR, "Parse error"))
        if isinstance(request, dict):
            outcome = await self._handle_one(request)
            if outcome.reply is None:
                return HttpReply(HTTP_NO_CONTENT, None)
            return HttpReply(outcome.status, _ENCODER.encode(outcome.reply))
        if isinstance(request, list):
            return await self._handle_batch(request)
        return self._error_reply(RpcError(RPC_PARSE_ERROR, "Top-level object parse error"))

    async def _handle_batch(self, requests: list[object]) -> HttpReply:
        if len(requests) > self._max_batch_requests:
            return self._error_reply(
                RpcError(
                    RPC_INVALID_REQUEST,
                    f"Batch of {len(requests)} requests, limit {self._max_batch_requests}",
                )
            )
        replies: list[dict[str, object]] = []
        for request in requests:
            outcome = await self._handle_one(request)
            if outcome.reply is not None:
                replies.append(outcome.reply)
        if requests and not replies:
            return HttpReply(HTTP_NO_CONTENT, None)
        return HttpReply(HTTP_OK, _ENCODER.encode(replies))

    async def _handle_one(self, request: object) -> _Outcome:
        """Run one request object; its reply (None for a notification) and the
        HTTP status it would set alone."""
        version = JsonRpcVersion.LEGACY
        id_: object = None
        has_id = False
        result: object = None
        error: dict[str, object] | None = None
        method = ""
        try:
            if not isinstance(request, dict):
                raise RpcError(RPC_INVALID_REQUEST, "Invalid Request object")
            has_id = "id" in request
            id_ = request.get("id")
            version = _parse_version(request)
            method, params = _parse_call(request)
            result = await invoke(self._api, method, params)
        except RpcError as exc:
            error = exc.to_json()
        except Exception:
            _log.exception("RPC method %r failed", method[:100])
            error = RpcError(RPC_INTERNAL_ERROR, "Internal error").to_json()
        if version is JsonRpcVersion.V2 and not has_id:
            return _Outcome(None, HTTP_NO_CONTENT)
        reply = make_reply(result, error, id_, version)
        if version is JsonRpcVersion.V2 or error is None:
            return _Outcome(reply, HTTP_OK)
        return _Outcome(reply, _legacy_status(error))

    @staticmethod
    def _error_reply(error: RpcError) -> HttpReply:
        body = make_reply(None, error.to_json(), None, JsonRpcVersion.LEGACY)
        return HttpReply(_legacy_status(error.to_json()), _ENCODER.encode(body))
