"""Request body size limits, enforced before anything reads or parses the body (pure ASGI).

Every route accepts at most `max_body_bytes` (the `max_body_bytes` setting, 1 MiB by default); a
service names the routes that take more (the event batch) in `ServiceDefinition.body_limits`.
A declared `Content-Length` above the limit is refused at once, without reading a byte; otherwise
bytes are counted as they arrive (chunked bodies and bodies without `Content-Length` included),
and the request is refused as soon as the count passes the limit, so an oversized body is never
held in memory whole. The answer is 413 with Lago's error body, and the connection is then closed.

Before answering, the rest of the body is read and dropped (up to `DRAIN_BYTES`, never kept): most
clients send the whole body before reading the answer, and a server that closes on unread bytes makes
the kernel reset the connection, so those clients would see a broken connection instead of the 413.
(It must happen before the answer: once a response is complete, the server reports the client gone.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from invora.errors import PayloadTooLarge

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DRAIN_BYTES = 64 * 1024 * 1024  # beyond this, the connection is simply closed


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the limit is passed. An `HTTPException`, so that FastAPI lets it through
    its body parsing (it turns other errors into 400) to the error handlers, which answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body larger than {limit} bytes")


def too_large_body(limit: int) -> bytes:
    error = PayloadTooLarge(f"request body larger than {limit} bytes")
    return json.dumps(error.body(), separators=(",", ":")).encode()


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limits = dict(limits or {})  # exact request path → bytes

    def limit_for(self, scope: Scope) -> int:
        return self.limits.get(scope["path"], self.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _drain(receive, more=True)
            await _send_too_large(send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    await _drain(receive, more=message.get("more_body", False))
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # raised where no error handler runs (a middleware reading the body first)
            if started:
                raise
            await _send_too_large(send, limit)


async def _drain(receive: Receive, more: bool) -> None:
    dropped = 0
    while more and dropped < DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        more = message.get("more_body", False)


async def _send_too_large(send: Send, limit: int) -> None:
    body = too_large_body(limit)
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of the body is not read
    ]})
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
