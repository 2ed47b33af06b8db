"""SQL of disputes: recorded on the disputed payment's row."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_RECORD = text(
    """
    UPDATE payments SET provider_dispute_id = :dispute_id, dispute_status = CAST(:status AS varchar),
                        dispute_reason = COALESCE(CAST(:reason AS varchar), dispute_reason),
                        disputed_at = COALESCE(disputed_at, CAST(:now AS timestamptz)),
                        dispute_lost_at = CASE WHEN CAST(:status AS varchar) = 'lost'
                                          THEN COALESCE(dispute_lost_at, CAST(:now AS timestamptz)) END,
                        updated_at = now()
    WHERE id = :id
    """
)


async def record(session: AsyncSession, payment_id: uuid.UUID, *, dispute_id: str, status: str, reason: str | None,
                 now: datetime) -> None:
    await session.execute(_RECORD, {"id": payment_id, "dispute_id": dispute_id, "status": status,
                                    "reason": reason[:100] if reason else None, "now": now})
