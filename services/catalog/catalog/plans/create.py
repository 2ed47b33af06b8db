"""Creating a plan: its identity and version 1 of its prices, validated as a whole."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.events import publish
from catalog.plans import assemble, render, repository, versioning
from catalog.plans.drafts import PlanDraft
from catalog.plans.models import Plan
from catalog.plans.rules import Errors, add
from catalog.plans.schemas import PlanCreateInput
from invora.db.flush import flush_unique
from invora.errors import ValidationFailed
from invora.events.contracts import catalog as contracts


async def create_plan(session: AsyncSession, organization_id: uuid.UUID, data: PlanCreateInput) -> contracts.Plan:
    errors: Errors = {}
    if await repository.live_plan(session, organization_id, data.code) is not None:
        add(errors, "code", "value_already_exist")
    resolver = assemble.Resolver(session, organization_id)
    draft = PlanDraft(interval=data.interval, amount_cents=data.amount_cents, amount_currency=data.amount_currency)
    await assemble.apply_plan_prices(resolver, draft, data, errors)
    if data.charges:
        await assemble.replace_charges(resolver, draft, data.charges, None, errors)
    if data.fixed_charges:
        await assemble.replace_fixed_charges(resolver, draft, data.fixed_charges, None, errors)
    if errors:
        raise ValidationFailed(errors)

    plan = Plan(organization_id=organization_id, code=data.code, name=data.name,
                invoice_display_name=data.invoice_display_name, description=data.description,
                plan_metadata=data.metadata or None)
    session.add(plan)
    await flush_unique(session)
    await versioning.commit(session, plan, draft)
    await session.refresh(plan)
    result = await render.plan_object(session, plan)
    await publish(session, organization_id, "plan.created", plan.id, contracts.PlanEvent(plan=result))
    return result
