"""Stored documents: one row per resource in the service's own `documents` table (the resource's id is the
key, so a resource has one document whoever renders it first), the bytes in a `bytea` column.

Each service declares its table on its own declarative base (`declare_document_model`, as
`invora.db.platform` declares the outbox) with the kinds it stores, and reads and writes it through a
`DocumentRepository`; its migration creates the table (`0025_documents.py` in invoicing, `0016_documents.py`
in payments).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, LargeBinary, String, select, text
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column


def declare_document_model(base: Any, resource_types: Sequence[str]) -> Any:
    kinds = ", ".join(f"'{kind}'" for kind in resource_types)

    class Document(base):
        __tablename__ = "documents"
        __table_args__ = (
            CheckConstraint(f"resource_type IN ({kinds})", name="resource_type"),
            CheckConstraint("octet_length(content) > 0", name="content_not_empty"),
        )

        resource_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
        organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
        resource_type: Mapped[str] = mapped_column(String(20), nullable=False)
        file_name: Mapped[str] = mapped_column(String(300), nullable=False)
        content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
        created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                     server_default=text("now()"))

    return Document


class DocumentRepository:
    def __init__(self, model: Any) -> None:
        self.model = model

    async def insert_once(self, session: AsyncSession, organization_id: uuid.UUID, resource_type: str,
                          resource_id: uuid.UUID, content: bytes, file_name: str, now: datetime) -> bool:
        """True when this call stored the document; False when the resource had one (kept unchanged). A
        transaction racing another's uncommitted insert waits for it, then stores nothing."""
        model = self.model
        statement = insert(model).values(resource_id=resource_id, organization_id=organization_id,
                                         resource_type=resource_type, content=content, file_name=file_name,
                                         created_at=now)
        result = await session.execute(statement.on_conflict_do_nothing(index_elements=["resource_id"])
                                       .returning(model.resource_id))
        return result.scalar_one_or_none() is not None

    async def with_documents(self, session: AsyncSession, resource_type: str,
                             resource_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these resources have a document (the primary key's index; the content is not read)."""
        if not resource_ids:
            return set()
        model = self.model
        rows = await session.execute(select(model.resource_id).where(
            model.resource_id.in_(list(resource_ids)), model.resource_type == resource_type))
        return set(rows.scalars())

    async def exists(self, session: AsyncSession, resource_type: str, resource_id: uuid.UUID) -> bool:
        return bool(await self.with_documents(session, resource_type, [resource_id]))

    async def get(self, session: AsyncSession, resource_type: str, resource_id: uuid.UUID) -> Any | None:
        model = self.model
        return (await session.execute(select(model).where(
            model.resource_id == resource_id, model.resource_type == resource_type))).scalar_one_or_none()
