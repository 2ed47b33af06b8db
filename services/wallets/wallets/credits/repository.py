"""SQL of the manual-credit audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from wallets.credits.models import ManualCreditAudit

_AUDITS = ManualCreditAudit.__table__


async def insert_audit(session: AsyncSession, values: dict[str, Any]) -> RowMapping:
    return (await session.execute(_AUDITS.insert().values(**values).returning(*_AUDITS.c))).mappings().one()
