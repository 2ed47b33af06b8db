"""The SQL of features (live ones: not soft-deleted) and of their place in plans' entitlements."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import Select, or_, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.features.models import Feature
from catalog.plans.models import PlanEntitlement
from invora.db import lookups
from invora.web.inputs import storable_key
from invora.web.pagination import PageParams, PaginationMeta, paginate


def _live(organization_id: uuid.UUID) -> Select:
    return lookups.live(Feature, organization_id)


async def find(session: AsyncSession, organization_id: uuid.UUID, code: str) -> Feature | None:
    return await lookups.live_by_code(session, Feature, organization_id, code)


async def live_by_codes(session: AsyncSession, organization_id: uuid.UUID, codes: Iterable[str]) -> dict[str, Feature]:
    return await lookups.live_by_codes(session, Feature, organization_id, codes)


async def page(session: AsyncSession, organization_id: uuid.UUID, params: PageParams,
               search_term: str | None = None) -> tuple[list[Feature], PaginationMeta]:
    """Live features, the newest first; `search_term` in the code, name or description (case-insensitive)."""
    statement = _live(organization_id)
    if search_term and storable_key(search_term):
        pattern = "%" + search_term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(or_(Feature.code.ilike(pattern), Feature.name.ilike(pattern),
                                        Feature.description.ilike(pattern)))
    statement = statement.order_by(Feature.created_at.desc(), Feature.id.desc())
    return await paginate(session, statement, params)


async def remove_from_plans(session: AsyncSession, feature_id: uuid.UUID) -> None:
    await session.execute(sql_delete(PlanEntitlement).where(PlanEntitlement.feature_id == feature_id))


async def plan_entitlements(session: AsyncSession, feature_id: uuid.UUID) -> Sequence[PlanEntitlement]:
    return (await session.execute(
        select(PlanEntitlement).where(PlanEntitlement.feature_id == feature_id)
    )).scalars().all()


async def by_ids(session: AsyncSession, feature_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Feature]:
    """Features by id, deleted ones too."""
    if not feature_ids:
        return {}
    return {f.id: f for f in (await session.execute(select(Feature).where(Feature.id.in_(feature_ids)))).scalars()}
