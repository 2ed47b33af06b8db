"""Plans: reading plans and versions, archiving, metadata, and the steps every plan use case shares.

Use cases live beside this module: `create.py` (new plan, version 1), `update.py` (PUT, new
version when prices change, `cascade_updates`), `charges.py` (charges, filters and fixed charges
as sub-resources), `entitlements.py` (features a plan grants).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.events import publish
from catalog.plans import render, repository
from catalog.plans.drafts import PlanDraft
from catalog.plans.errors import PlanNotFound, PlanVersionNotFound
from catalog.plans.models import Plan, PlanVersion
from catalog.plans.versioning import Commit
from invora import metadata as item_metadata
from invora.events.contracts import catalog as contracts
from invora.web.pagination import PageParams, PaginationMeta


@dataclass
class Editing:
    """A live plan locked for a change, with its current version as a draft."""

    plan: Plan
    version: PlanVersion
    before: PlanDraft
    draft: PlanDraft


async def get_plan(session: AsyncSession, organization_id: uuid.UUID, code: str, *, for_update: bool = False) -> Plan:
    plan = await repository.live_plan(session, organization_id, code, for_update=for_update)
    if plan is None:
        raise PlanNotFound()
    return plan


async def edit(session: AsyncSession, organization_id: uuid.UUID, code: str) -> Editing:
    """Lock the plan (one writer at a time) and load its current version as a draft."""
    plan = await get_plan(session, organization_id, code, for_update=True)
    version = await repository.current_version(session, plan.id)
    charges = (await repository.version_charges(session, [version.id]))[version.id]
    fixed_charges = (await repository.version_fixed_charges(session, [version.id]))[version.id]
    before = PlanDraft.from_version(version, charges, fixed_charges)
    return Editing(plan, version, before, before.copy())


async def publish_updated(
    session: AsyncSession, plan: Plan, result: Commit | None = None, *, cascade_updates: bool = False,
) -> contracts.Plan:
    """`plan.updated` with the full plan; `plan.cascade_requested` too when asked for and prices changed."""
    plan.updated_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(plan)
    plan_object = await render.plan_object(session, plan)
    created = result is not None and result.created
    previous = result.previous if created and result is not None else None
    await publish(session, plan.organization_id, "plan.updated", plan.id, contracts.PlanUpdatedEvent(
        plan=plan_object, previous_plan_version_id=previous.id if previous else None, version_created=created,
        cascade_updates=cascade_updates,
    ))
    if cascade_updates and created and previous is not None and result is not None and result.changes is not None:
        await publish(session, plan.organization_id, "plan.cascade_requested", plan.id,
                      contracts.PlanCascadeRequestedEvent(
                          lago_plan_id=plan.id, plan_code=plan.code, from_plan_version_id=previous.id,
                          to_plan_version_id=result.version.id, changes=result.changes,
                      ))
    return plan_object


async def list_plans(
    session: AsyncSession, organization_id: uuid.UUID, page: PageParams,
) -> tuple[list[contracts.Plan], PaginationMeta]:
    rows, meta = await repository.page_live(session, organization_id, page)
    return await render.plan_objects(session, rows), meta


async def plan_object(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.Plan:
    return await render.plan_object(session, await get_plan(session, organization_id, code))


async def archive(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.Plan:
    """DELETE archives: existing subscriptions keep their version, new subscriptions are refused."""
    plan = await get_plan(session, organization_id, code, for_update=True)
    plan.deleted_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(plan)
    result = await render.plan_object(session, plan)
    await publish(session, organization_id, "plan.deleted", plan.id, contracts.PlanEvent(plan=result))
    return result


async def list_versions(
    session: AsyncSession, organization_id: uuid.UUID, code: str, page: PageParams,
) -> tuple[list[contracts.PlanVersion], PaginationMeta]:
    plan = await get_plan(session, organization_id, code)
    current = await repository.current_version(session, plan.id)
    rows, meta = await repository.page_versions(session, plan.id, page)
    return await render.version_objects(session, plan, rows, current.number), meta


async def get_version(
    session: AsyncSession, organization_id: uuid.UUID, version_id: uuid.UUID,
) -> contracts.PlanVersion:
    """Any version of any plan of the organization, archived plans included: exactly what was sold."""
    version = await repository.version_of_organization(session, organization_id, version_id)
    if version is None:
        raise PlanVersionNotFound()
    plan = await repository.plan_by_id(session, version.plan_id)
    latest = await repository.latest_version_number(session, plan.id)
    return (await render.version_objects(session, plan, [version], latest))[0]


# -- metadata ---------------------------------------------------------------------------------------------

async def get_metadata(session: AsyncSession, organization_id: uuid.UUID, code: str) -> dict[str, str | None] | None:
    return (await get_plan(session, organization_id, code)).plan_metadata


async def change_metadata(
    session: AsyncSession, organization_id: uuid.UUID, code: str, *, replace: dict[str, str | None] | None = None,
    merge: dict[str, str | None] | None = None, remove_key: str | None = None, clear: bool = False,
) -> dict[str, str | None] | None:
    """Lago's plan metadata routes; the rules (replace, merge, remove a key, 50 keys, 404 `metadata_not_found`
    for a key of a plan without metadata, a missing key changing nothing) are `invora.metadata`'s."""
    plan = await get_plan(session, organization_id, code, for_update=True)
    if clear:
        changed = item_metadata.replaced(None)
    elif remove_key is not None:
        changed = item_metadata.without_key(plan.plan_metadata, remove_key)
    elif merge is not None:
        changed = item_metadata.merged(plan.plan_metadata, merge)
    else:
        changed = item_metadata.replaced(replace)
    plan.plan_metadata = changed
    await publish_updated(session, plan)
    return plan.plan_metadata
