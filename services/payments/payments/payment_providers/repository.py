"""SQL of provider connections (through the ORM: the credential columns are encrypted by their type)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.pagination import PageParams, PaginationMeta, paginate
from payments.payment_providers.models import PaymentProvider


async def by_code(session: AsyncSession, organization_id: uuid.UUID, code: str, *,
                  lock: bool = False) -> PaymentProvider | None:
    statement = select(PaymentProvider).where(PaymentProvider.organization_id == organization_id,
                                              PaymentProvider.code == code, PaymentProvider.deleted_at.is_(None))
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def by_id(session: AsyncSession, organization_id: uuid.UUID, provider_id: uuid.UUID) -> PaymentProvider | None:
    statement = select(PaymentProvider).where(PaymentProvider.organization_id == organization_id,
                                              PaymentProvider.id == provider_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def add(session: AsyncSession, provider: PaymentProvider) -> PaymentProvider:
    session.add(provider)
    await session.flush()
    return provider


async def list_page(session: AsyncSession, organization_id: uuid.UUID,
                    params: PageParams) -> tuple[list[PaymentProvider], PaginationMeta]:
    statement = (select(PaymentProvider)
                 .where(PaymentProvider.organization_id == organization_id, PaymentProvider.deleted_at.is_(None))
                 .order_by(PaymentProvider.created_at, PaymentProvider.id))
    return await paginate(session, statement, params)


async def soft_delete(session: AsyncSession, provider: PaymentProvider) -> None:
    await session.execute(update(PaymentProvider).where(PaymentProvider.id == provider.id)
                          .values(deleted_at=func.now(), updated_at=func.now()))
