"""SQL of wallets."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.pagination import PageParams, PaginationMeta
from wallets.wallets.models import Wallet

_WALLETS = Wallet.__table__

_CODE_TAKEN = text(
    "SELECT 1 FROM wallets WHERE organization_id = :org AND customer_id = :customer AND code = :code AND id <> :id"
)


async def insert(session: AsyncSession, values: dict[str, Any]) -> RowMapping:
    return (await session.execute(_WALLETS.insert().values(**values).returning(*_WALLETS.c))).mappings().one()


async def update_fields(session: AsyncSession, wallet_id: uuid.UUID, values: dict[str, Any]) -> RowMapping:
    statement = update(_WALLETS).where(_WALLETS.c.id == wallet_id).values(**values, updated_at=func.now())
    return (await session.execute(statement.returning(*_WALLETS.c))).mappings().one()


async def by_id(session: AsyncSession, organization_id: uuid.UUID, wallet_id: uuid.UUID, *,
                lock: bool = False) -> RowMapping | None:
    statement = select(_WALLETS).where(_WALLETS.c.organization_id == organization_id, _WALLETS.c.id == wallet_id)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).mappings().first()


async def by_code(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                  code: str) -> RowMapping | None:
    statement = select(_WALLETS).where(_WALLETS.c.organization_id == organization_id,
                                       _WALLETS.c.customer_id == customer_id, _WALLETS.c.code == code)
    return (await session.execute(statement)).mappings().first()


async def code_taken(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID, code: str,
                     wallet_id: uuid.UUID) -> bool:
    return (await session.execute(_CODE_TAKEN, {"org": organization_id, "customer": customer_id, "code": code,
                                                "id": wallet_id})).first() is not None


async def active_of_customer(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                             currency: str | None = None) -> list[RowMapping]:
    statement = select(_WALLETS.c.id).where(
        _WALLETS.c.organization_id == organization_id, _WALLETS.c.customer_id == customer_id,
        _WALLETS.c.status == "active")
    if currency is not None:
        statement = statement.where(_WALLETS.c.currency == currency)
    return list((await session.execute(statement.order_by(_WALLETS.c.priority, _WALLETS.c.created_at, _WALLETS.c.id))
                 ).mappings().all())


async def page_of_customer(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                           currency: str | None, page: PageParams) -> tuple[list[RowMapping], PaginationMeta]:
    condition = [_WALLETS.c.organization_id == organization_id, _WALLETS.c.customer_id == customer_id]
    if currency is not None:
        condition.append(_WALLETS.c.currency == currency)
    total = (await session.execute(select(func.count()).select_from(_WALLETS).where(*condition))).scalar_one()
    rows = (await session.execute(
        select(_WALLETS).where(*condition).order_by(_WALLETS.c.created_at.desc(), _WALLETS.c.id.desc())
        .limit(page.per_page).offset(page.offset))).mappings().all()
    return list(rows), page.meta(total)


async def due_for_expiry(session: AsyncSession, now, limit: int) -> list[RowMapping]:
    """Active wallets past their expiration, claimed with SKIP LOCKED (another process takes the others)."""
    statement = (select(_WALLETS).where(_WALLETS.c.status == "active", _WALLETS.c.expiration_at <= now)
                 .order_by(_WALLETS.c.expiration_at).limit(limit).with_for_update(skip_locked=True))
    return list((await session.execute(statement)).mappings().all())
