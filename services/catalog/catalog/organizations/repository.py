"""SQL of the organization's settings."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.organizations.models import Organization


async def find(session: AsyncSession, organization_id: uuid.UUID) -> Organization | None:
    return await session.get(Organization, organization_id)


async def save(session: AsyncSession, organization_id: uuid.UUID, values: dict[str, Any]) -> Organization:
    """Insert or change the row; concurrent updates serialise on it (the last one wins, each published)."""
    statement = insert(Organization).values(organization_id=organization_id, **values)
    await session.execute(statement.on_conflict_do_update(
        index_elements=["organization_id"], set_={**values, "updated_at": func.now()}))
    found = await session.get(Organization, organization_id, populate_existing=True, with_for_update=True)
    assert found is not None
    return found
