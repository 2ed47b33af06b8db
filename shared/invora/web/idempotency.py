"""`Idempotency-Key` on every POST, with Stripe's rules.

- The first response for (organization, principal, key) is stored for `idempotency_ttl_hours` (>= 24 h)
  and replayed, byte for byte, to a retry with the same body (`Idempotent-Replayed: true`).
- The same key with a different request gets 422; while the first request is still
  running a second one gets 409, so two requests with one key never both execute.
- The request's own transaction marks the key `executed` just before it commits (a
  before-commit hook of the session dependency), so "the work committed" and "the key
  was used" are one atomic fact: a crash after that commit can never lead to a second
  execution, only to a 409 telling the client its response was lost.
- Requests that fail before committing anything (4xx/5xx with nothing written) release
  the key, like Stripe, so a corrected retry can go through.
- Keys are scoped to the principal (`Principal.fingerprint`: the API key's subject, roles and
  customer), as Stripe scopes them to the account: another key of the organization sending the same
  Idempotency-Key and body runs the request itself, through the route's authorization, and never
  receives the stored response. A replay therefore only ever reaches the principal that passed the
  route's authorization the first time (with the same roles and customer, which is all the role
  checks look at; no route open to tenant keys takes a POST).
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from invora.errors import Conflict, FieldError, InvoraError

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
LOCK_SECONDS = 60

_THE_KEY = "organization_id = :org AND principal = :principal AND key = :key"
_CLAIM = text(
    """
    INSERT INTO idempotency_keys (organization_id, principal, key, request_hash, status, locked_until, expires_at)
    VALUES (:org, :principal, :key, :hash, 'processing', now() + make_interval(secs => :lock),
            now() + make_interval(secs => :ttl))
    ON CONFLICT (organization_id, principal, key) DO UPDATE
        SET request_hash = EXCLUDED.request_hash, status = 'processing', locked_until = EXCLUDED.locked_until,
            expires_at = EXCLUDED.expires_at, response_status = NULL, response_headers = NULL,
            response_body = NULL, created_at = now()
        WHERE idempotency_keys.expires_at < now()
           OR (idempotency_keys.status = 'processing' AND idempotency_keys.locked_until < now()
               AND idempotency_keys.request_hash = EXCLUDED.request_hash)
    RETURNING key
    """
)
_EXISTING = text(
    "SELECT request_hash, status, response_status, response_headers, response_body "
    f"FROM idempotency_keys WHERE {_THE_KEY}"
)
_MARK_EXECUTED = text(f"UPDATE idempotency_keys SET status = 'executed' WHERE {_THE_KEY}")
_COMPLETE = text(
    f"""
    UPDATE idempotency_keys SET status = 'completed', locked_until = NULL, response_status = :status,
        response_headers = CAST(:headers AS jsonb), response_body = :body
    WHERE {_THE_KEY} AND (status = 'executed' OR :store_unexecuted)
    RETURNING key
    """
)
_RELEASE = text(f"DELETE FROM idempotency_keys WHERE {_THE_KEY} AND status = 'processing'")
_PURGE = text("DELETE FROM idempotency_keys WHERE expires_at < now()")

# response headers that belong to the original exchange, not to a replay
_NOT_REPLAYED = {b"x-request-id", b"x-correlation-id", b"content-length", b"date", b"server"}


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"


class IdempotencyResponseLost(Conflict):
    code = "idempotency_key_response_lost"

    def __init__(self) -> None:
        super().__init__("the request with this Idempotency-Key was executed but its response was lost")


class IdempotencyKeyReused(FieldError):
    field, reason = "idempotency_key", "already_used_with_different_request"


class IdempotencyKeyInvalid(FieldError):
    field, reason = "idempotency_key", "value_is_invalid"


def _error_response(error: InvoraError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return error.status_code, [(b"content-type", b"application/json")], json.dumps(error.body()).encode()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, ttl_hours: float = 24.0) -> None:
        self.app = app
        self.ttl = timedelta(hours=ttl_hours)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        raw_key = next((v for k, v in scope.get("headers", ()) if k == HEADER), None)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            await self._send(send, *_error_response(IdempotencyKeyInvalid()))
            return

        body = await _read_body(receive)
        principal = self._principal(scope)
        if principal is None:
            # unauthenticated: the route will answer 401 and do nothing; no key to scope by
            await self.app(scope, _replay_receive(body, receive), send)
            return

        request_hash = hashlib.sha256(
            b"\n".join([scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        ids = {"org": principal.organization_id, "principal": principal.fingerprint, "key": key}
        database = scope["app"].state.database
        async with database.sessionmaker() as session:
            claimed = (await session.execute(_CLAIM, {
                **ids, "hash": request_hash, "lock": LOCK_SECONDS, "ttl": self.ttl.total_seconds(),
            })).scalar_one_or_none()
            existing = None if claimed else (await session.execute(_EXISTING, ids)).one_or_none()
            await session.commit()

        if not claimed:
            await self._answer_existing(send, existing, request_hash)
            return

        async def mark_executed(tx: AsyncSession) -> None:
            await tx.execute(_MARK_EXECUTED, ids)

        scope.setdefault("invora.before_commit", []).append(mark_executed)
        captured = _CapturedResponse()
        try:
            await self.app(scope, _replay_receive(body, receive), captured.send)
        except BaseException:
            await self._finish(database, ids, None)
            raise
        await self._finish(database, ids, captured)
        await self._send(send, captured.status, captured.headers, captured.body)

    def _principal(self, scope: Scope):
        auth = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), None)
        try:
            principal = scope["app"].state.verifier.verify_header(auth.decode("latin-1") if auth else None)
        except InvoraError:
            return None
        scope.setdefault("state", {})["principal"] = principal  # `authenticate` reuses it
        return principal

    async def _answer_existing(self, send: Send, existing, request_hash: str) -> None:
        if existing is None:  # released between our claim and our read: ask the client to retry
            error: InvoraError = IdempotencyKeyInUse("request with this Idempotency-Key is in progress, retry")
            await self._send(send, *_error_response(error))
            return
        stored_hash, status, response_status, response_headers, response_body = existing
        if stored_hash != request_hash:
            await self._send(send, *_error_response(
                IdempotencyKeyReused()))
        elif status == "completed":
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response_headers or []]
            headers.append((b"idempotent-replayed", b"true"))
            await self._send(send, response_status, headers, response_body or b"")
        elif status == "executed":
            await self._send(send, *_error_response(IdempotencyResponseLost()))
        else:
            await self._send(send, *_error_response(IdempotencyKeyInUse(
                "a request with this Idempotency-Key is in progress")))

    async def _finish(self, database, ids: dict, captured: _CapturedResponse | None) -> None:
        async with database.sessionmaker() as session:
            stored = None
            if captured is not None:
                headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in captured.headers
                           if k.lower() not in _NOT_REPLAYED]
                stored = (await session.execute(_COMPLETE, {
                    **ids, "status": captured.status, "headers": json.dumps(headers), "body": captured.body,
                    # a success that wrote nothing (no session commit) is still a result to replay
                    "store_unexecuted": captured.status < 400,
                })).scalar_one_or_none()
            if stored is None:
                await session.execute(_RELEASE, ids)
            if random.random() < 0.02:  # purge expired keys now and then
                await session.execute(_PURGE)
            await session.commit()

    @staticmethod
    async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        headers = [h for h in headers if h[0].lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _CapturedResponse:
    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay_receive(body: bytes, original: Receive) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive
