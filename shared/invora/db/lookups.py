"""Look-ups of an organization's live rows by code: soft-deleted rows (`deleted_at` set) are not live.

For tables with `organization_id`, `code` and `deleted_at` columns (the catalog's add-ons, metrics, features,
coupons). A code PostgreSQL could not store (NUL, a lone surrogate) names no row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.inputs import storable_key


def live(model: Any, organization_id: uuid.UUID) -> Select:
    return select(model).where(model.organization_id == organization_id, model.deleted_at.is_(None))


async def live_by_code(session: AsyncSession, model: Any, organization_id: uuid.UUID, code: str) -> Any | None:
    if not storable_key(code):
        return None
    return (await session.execute(live(model, organization_id).where(model.code == code))).scalar_one_or_none()


async def live_by_codes(session: AsyncSession, model: Any, organization_id: uuid.UUID,
                        codes: Iterable[str]) -> dict[str, Any]:
    wanted = {c for c in codes if storable_key(c)}
    if not wanted:
        return {}
    rows = (await session.execute(live(model, organization_id).where(model.code.in_(wanted)))).scalars().all()
    return {row.code: row for row in rows}
