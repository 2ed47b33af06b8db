"""All SQL of documents."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.documents.models import Document


async def insert_once(session: AsyncSession, organization_id: uuid.UUID, resource_type: str,
                      resource_id: uuid.UUID, content: bytes, file_name: str, now: datetime) -> bool:
    """True when this call stored the document; False when the resource had one already (kept unchanged)."""
    statement = insert(Document).values(resource_id=resource_id, organization_id=organization_id,
                                        resource_type=resource_type, content=content, file_name=file_name,
                                        created_at=now)
    result = await session.execute(statement.on_conflict_do_nothing(index_elements=["resource_id"])
                                   .returning(Document.resource_id))
    return result.scalar_one_or_none() is not None


async def exists(session: AsyncSession, resource_type: str, resource_id: uuid.UUID) -> bool:
    return bool(await with_documents(session, resource_type, [resource_id]))


async def with_documents(session: AsyncSession, resource_type: str,
                         resource_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these resources have a document (the primary key's index; the content is not read)."""
    if not resource_ids:
        return set()
    rows = await session.execute(select(Document.resource_id).where(
        Document.resource_id.in_(list(resource_ids)), Document.resource_type == resource_type))
    return set(rows.scalars())


async def content(session: AsyncSession, resource_type: str, resource_id: uuid.UUID) -> Document | None:
    return (await session.execute(select(Document).where(
        Document.resource_id == resource_id, Document.resource_type == resource_type))).scalar_one_or_none()
