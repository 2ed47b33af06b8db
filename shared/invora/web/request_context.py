"""Pure-ASGI middleware: request id / correlation id, access log, and HTTP metrics."""

from __future__ import annotations

import json
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from invora.context import correlation_id_var, request_id_var
from invora.logging import get_logger
from invora.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS
from invora.web.error_handlers import INTERNAL_ERROR_BODY

log = get_logger("invora.access")

_QUIET_PATHS = frozenset({"/health", "/ready", "/metrics"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text = value.decode("latin-1").strip()
            # only accept ids that are safe to log and echo back
            if 0 < len(text) <= 128 and text.isprintable():
                return text
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        correlation_id = _header(scope, b"x-correlation-id") or request_id
        rid_token = request_id_var.set(request_id)
        cid_token = correlation_id_var.set(correlation_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_ids(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-correlation-id", correlation_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        except Exception:
            if not response_started:
                # Starlette's ServerErrorMiddleware, outside this one, would answer without our ids;
                # answer here (same body as the 500 handler), it then only logs and re-raises
                body = json.dumps(INTERNAL_ERROR_BODY, separators=(",", ":")).encode()
                await send_with_ids({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
                await send_with_ids({"type": "http.response.body", "body": body})
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, route_path, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, route_path).observe(elapsed)
            if scope["path"] not in _QUIET_PATHS:
                log.info("http_request", method=method, path=scope["path"], route=route_path,
                         status=status, duration_ms=round(elapsed * 1000, 2))
            request_id_var.reset(rid_token)
            correlation_id_var.reset(cid_token)
