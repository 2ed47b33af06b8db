"""Queries over plans and their versions (SQL lives here, not in the use cases)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from catalog.plans.models import (
    Charge,
    FixedCharge,
    Plan,
    PlanEntitlement,
    PlanVersion,
    PlanVersionCharge,
    PlanVersionFixedCharge,
)
from invora.web.inputs import storable_key
from invora.web.pagination import PageParams, PaginationMeta, paginate


async def live_plan(
    session: AsyncSession, organization_id: uuid.UUID, code: str, *, for_update: bool = False,
) -> Plan | None:
    """The organization's live (not archived) plan with this code; `for_update` serialises writers of the plan."""
    if not storable_key(code):
        return None
    statement = select(Plan).where(Plan.organization_id == organization_id, Plan.code == code,
                                   Plan.deleted_at.is_(None))
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def current_versions(session: AsyncSession, plan_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, PlanVersion]:
    ids = list(plan_ids)
    if not ids:
        return {}
    rows = (await session.execute(
        select(PlanVersion).where(PlanVersion.plan_id.in_(ids))
        .order_by(PlanVersion.plan_id, PlanVersion.number.desc()).ext(distinct_on(PlanVersion.plan_id))
    )).scalars().all()
    return {v.plan_id: v for v in rows}


async def current_version(session: AsyncSession, plan_id: uuid.UUID) -> PlanVersion:
    return (await current_versions(session, [plan_id]))[plan_id]


async def version_charges(
    session: AsyncSession, version_ids: Iterable[uuid.UUID],
) -> dict[uuid.UUID, list[Charge]]:
    ids = list(version_ids)
    result: dict[uuid.UUID, list[Charge]] = defaultdict(list)
    if not ids:
        return result
    rows = (await session.execute(
        select(PlanVersionCharge.plan_version_id, Charge)
        .join(Charge, Charge.id == PlanVersionCharge.charge_id)
        .where(PlanVersionCharge.plan_version_id.in_(ids))
        .order_by(PlanVersionCharge.plan_version_id, PlanVersionCharge.position)
    )).all()
    for version_id, charge in rows:
        result[version_id].append(charge)
    return result


async def version_fixed_charges(
    session: AsyncSession, version_ids: Iterable[uuid.UUID],
) -> dict[uuid.UUID, list[FixedCharge]]:
    ids = list(version_ids)
    result: dict[uuid.UUID, list[FixedCharge]] = defaultdict(list)
    if not ids:
        return result
    rows = (await session.execute(
        select(PlanVersionFixedCharge.plan_version_id, FixedCharge)
        .join(FixedCharge, FixedCharge.id == PlanVersionFixedCharge.fixed_charge_id)
        .where(PlanVersionFixedCharge.plan_version_id.in_(ids))
        .order_by(PlanVersionFixedCharge.plan_version_id, PlanVersionFixedCharge.position)
    )).all()
    for version_id, fixed_charge in rows:
        result[version_id].append(fixed_charge)
    return result


async def entitlements(session: AsyncSession, plan_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID,
                                                                                   list[PlanEntitlement]]:
    ids = list(plan_ids)
    result: dict[uuid.UUID, list[PlanEntitlement]] = defaultdict(list)
    if not ids:
        return result
    rows = (await session.execute(
        select(PlanEntitlement).where(PlanEntitlement.plan_id.in_(ids))
        .order_by(PlanEntitlement.created_at, PlanEntitlement.id)
    )).scalars().all()
    for row in rows:
        result[row.plan_id].append(row)
    return result


async def charge_codes_by_id(session: AsyncSession, plan_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Every charge row the plan ever had (any version) → its code: lets clients update by a stale `id`."""
    rows = (await session.execute(select(Charge.id, Charge.code).where(Charge.plan_id == plan_id))).all()
    return {row.id: row.code for row in rows}


async def fixed_charge_codes_by_id(session: AsyncSession, plan_id: uuid.UUID) -> dict[uuid.UUID, str]:
    rows = (await session.execute(select(FixedCharge.id, FixedCharge.code).where(FixedCharge.plan_id == plan_id))).all()
    return {row.id: row.code for row in rows}


def _current_live_versions():
    """Ids of the versions that are their live plan's latest one."""
    newer = aliased(PlanVersion)
    latest = select(func.max(newer.number)).where(newer.plan_id == PlanVersion.plan_id).scalar_subquery()
    return (select(PlanVersion.id).join(Plan, Plan.id == PlanVersion.plan_id)
            .where(Plan.deleted_at.is_(None), PlanVersion.number == latest))


async def metric_is_charged(session: AsyncSession, metric_id: uuid.UUID) -> bool:
    """Whether any plan version (current or past, live or archived) charges this metric."""
    row = (await session.execute(select(Charge.id).where(Charge.billable_metric_id == metric_id).limit(1))).first()
    return row is not None


async def metric_in_live_plans(session: AsyncSession, metric_id: uuid.UUID) -> bool:
    """Whether the current version of a live plan charges this metric."""
    statement = (select(PlanVersionCharge.charge_id).join(Charge, Charge.id == PlanVersionCharge.charge_id)
                 .where(Charge.billable_metric_id == metric_id,
                        PlanVersionCharge.plan_version_id.in_(_current_live_versions())).limit(1))
    return (await session.execute(statement)).first() is not None


async def add_on_in_live_plans(session: AsyncSession, add_on_id: uuid.UUID) -> bool:
    statement = (select(PlanVersionFixedCharge.fixed_charge_id)
                 .join(FixedCharge, FixedCharge.id == PlanVersionFixedCharge.fixed_charge_id)
                 .where(FixedCharge.add_on_id == add_on_id,
                        PlanVersionFixedCharge.plan_version_id.in_(_current_live_versions())).limit(1))
    return (await session.execute(statement)).first() is not None


async def metric_ids_of_current_version(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str,
) -> list[uuid.UUID]:
    plan = await live_plan(session, organization_id, plan_code)
    if plan is None:
        return []
    version = await current_version(session, plan.id)
    charges = (await version_charges(session, [version.id]))[version.id]
    return [c.billable_metric_id for c in charges]


async def plans_with_feature(session: AsyncSession, feature_id: uuid.UUID) -> list[Plan]:
    return list((await session.execute(
        select(Plan).join(PlanEntitlement, PlanEntitlement.plan_id == Plan.id)
        .where(PlanEntitlement.feature_id == feature_id, Plan.deleted_at.is_(None))
    )).scalars().all())


async def live_plans_by_codes(session: AsyncSession, organization_id: uuid.UUID, codes: set[str]) -> dict[str, Plan]:
    codes = {c for c in codes if storable_key(c)}
    if not codes:
        return {}
    rows = (await session.execute(
        select(Plan).where(Plan.organization_id == organization_id, Plan.code.in_(codes), Plan.deleted_at.is_(None))
    )).scalars().all()
    return {p.code: p for p in rows}


async def plans_by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Plan]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = (await session.execute(select(Plan).where(Plan.id.in_(wanted)))).scalars().all()
    return {p.id: p for p in rows}


async def page_live(session: AsyncSession, organization_id: uuid.UUID,
                    params: PageParams) -> tuple[list[Plan], PaginationMeta]:
    """The organization's plans that are not archived, the newest first."""
    statement = (select(Plan).where(Plan.organization_id == organization_id, Plan.deleted_at.is_(None))
                 .order_by(Plan.created_at.desc(), Plan.id.desc()))
    return await paginate(session, statement, params)


async def page_versions(session: AsyncSession, plan_id: uuid.UUID,
                        params: PageParams) -> tuple[list[PlanVersion], PaginationMeta]:
    statement = select(PlanVersion).where(PlanVersion.plan_id == plan_id).order_by(PlanVersion.number.desc())
    return await paginate(session, statement, params)


async def version_of_organization(session: AsyncSession, organization_id: uuid.UUID,
                                  version_id: uuid.UUID) -> PlanVersion | None:
    return (await session.execute(
        select(PlanVersion).where(PlanVersion.id == version_id, PlanVersion.organization_id == organization_id)
    )).scalar_one_or_none()


async def plan_by_id(session: AsyncSession, plan_id: uuid.UUID) -> Plan:
    return (await session.execute(select(Plan).where(Plan.id == plan_id))).scalar_one()


async def latest_version_number(session: AsyncSession, plan_id: uuid.UUID) -> int:
    return (await session.execute(
        select(func.max(PlanVersion.number)).where(PlanVersion.plan_id == plan_id)
    )).scalar_one()


async def delete_entitlements(session: AsyncSession, plan_id: uuid.UUID) -> None:
    await session.execute(delete(PlanEntitlement).where(PlanEntitlement.plan_id == plan_id))
