"""From `api_log.recorded` events to API log rows, in the fan-out's transaction (once per event id)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.api_logs import API_LOG_RECORDED, ApiLogRecorded
from invora.events.envelope import EventEnvelope
from invora.ids import uuid7
from invora.logging import get_logger
from notifications.api_logs import repository

log = get_logger()


def _clean(text: str) -> str:
    """NUL removed, a lone surrogate replaced: PostgreSQL stores neither, and one bad entry must not block the
    consumer's partition."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode()


async def record_api_logs(session: AsyncSession, events: Sequence[EventEnvelope], now) -> int:
    rows: list[dict] = []
    for event in events:
        if event.type != API_LOG_RECORDED:
            continue
        try:
            entry = ApiLogRecorded.model_validate(event.data)
        except ValidationError:
            log.warning("api_log_event_invalid", event_id=str(event.id))
            continue
        rows.append({
            "id": uuid7(), "organization_id": event.organization_id, "event_id": event.id,
            "request_id": _clean(entry.request_id), "service": _clean(entry.service),
            "api_version": _clean(entry.api_version), "client": _clean(entry.client),
            "principal": _clean(entry.principal) if entry.principal is not None else None,
            "http_method": _clean(entry.http_method), "http_status": entry.http_status,
            "request_path": _clean(entry.request_path), "request_origin": _clean(entry.request_origin),
            "request_body": _clean(entry.request_body), "logged_at": entry.logged_at, "created_at": now,
        })
    return await repository.insert_api_logs(session, rows)
