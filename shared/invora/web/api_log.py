"""The API log: every authenticated mutating request (POST, PUT, PATCH, DELETE under `/api/`) becomes an
`api_log.recorded` event, which notifications stores and serves at `/api/v1/api_logs` (Lago's shape).

Pure ASGI. It keeps the request body (at most `MAX_BODY` bytes) as the app reads it and the response
status, and once the app has sent the whole response it writes the event to the service's outbox in a
transaction of its own, so the event reaches notifications through Kafka like every other.

Delivery guarantee: at most once per request, then at least once to notifications. The row is written
after the response (the request's own transaction has committed or rolled back; a failed request is
logged too), so a process killed between the response and that commit loses the entry, and a database
error then is logged (`api_log_write_failed`) and not retried. A request without a verified API key
(401) has no organization and is not logged. Secret fields of the JSON body are redacted.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from invora.context import request_id_var
from invora.events.contracts.api_logs import API_LOG_RECORDED, ApiLogRecorded
from invora.logging import get_logger
from invora.outbox.writer import add_event

log = get_logger()

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_BODY = 64 * 1024
REDACTED = "[REDACTED]"
# a key containing one of these (lower case) has its value redacted, at any depth
SECRET_KEY_PARTS = ("secret", "password", "token", "api_key", "private_key", "authorization", "card_number",
                    "cvc", "iban", "signing_key")


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: REDACTED if isinstance(key, str) and any(part in key.lower() for part in SECRET_KEY_PARTS)
                else redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def body_text(raw: bytes, truncated: bool) -> str:
    """The body as logged: redacted JSON, or a note saying what was not kept."""
    if truncated:
        return json.dumps({"invora_note": f"body over {MAX_BODY} bytes not kept"})
    if not raw:
        return ""
    try:
        body = redact(json.loads(raw))
    except ValueError:  # not JSON (or not UTF-8): its content could hold anything
        return json.dumps({"invora_note": f"non-JSON body of {len(raw)} bytes not kept"})
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate (`"\\ud800"` in the JSON): kept escaped, storable
        return json.dumps(body, separators=(",", ":"))
    return text.replace("\x00", "\\u0000")


def _split_path(path: str) -> tuple[str, str]:
    """`/api/v1/billable_metrics` → (`v1`, `/billable_metrics`)."""
    rest = path[len("/api/"):]
    version, _, tail = rest.partition("/")
    return version[:10], "/" + tail


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


class ApiLogMiddleware:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        status = 500

        async def receive_and_keep() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                size += len(body)
                if size <= MAX_BODY:
                    chunks.append(body)
            return message

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive_and_keep, send_and_note)
        finally:
            await self._record(scope, status, b"".join(chunks), size > MAX_BODY)

    async def _record(self, scope: Scope, status: int, raw: bytes, truncated: bool) -> None:
        principal = (scope.get("state") or {}).get("principal")
        app = scope.get("app")
        database = getattr(getattr(app, "state", None), "database", None)
        if principal is None or database is None:
            return
        try:
            version, path = _split_path(scope["path"])
            scheme = scope.get("scheme", "http")
            entry = ApiLogRecorded(
                request_id=(request_id_var.get() or "")[:128], service=self.service, api_version=version,
                client=_header(scope, b"user-agent")[:500], principal=principal.subject,
                http_method=scope["method"].lower(), http_status=status, request_path=path,
                request_origin=f"{scheme}://{_header(scope, b'host')}"[:500], request_body=body_text(raw, truncated),
                logged_at=datetime.now(UTC),
            )
            async with database.sessionmaker() as session:
                await add_event(session, type=API_LOG_RECORDED, organization_id=principal.organization_id,
                                aggregate_type="api_log", aggregate_id=entry.request_id, data=entry)
                await session.commit()
        except Exception:  # noqa: BLE001 - the response is sent; the entry is lost, and said so
            log.exception("api_log_write_failed", path=scope.get("path"))
