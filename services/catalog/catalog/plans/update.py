"""Updating a plan (PUT): names change in place; any price change writes a new immutable version.

PUT is partial: absent fields keep their value. `charges` / `fixed_charges`, when present, are the
complete new list (an item naming an existing charge by `id` or `code` updates it; others are
new; the missing ones are removed). With `cascade_updates: true` and a new version, the catalog
publishes `plan.cascade_requested`, and the subscriptions service moves the subscriptions on the
previous version's untouched prices to the new one.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.plans import assemble, repository, versioning
from catalog.plans.rules import Errors, add
from catalog.plans.schemas import PlanUpdateInput
from catalog.plans.service import edit, publish_updated
from invora.db.flush import flush_unique
from invora.errors import ValidationFailed
from invora.events.contracts import catalog as contracts


async def update_plan(
    session: AsyncSession, organization_id: uuid.UUID, code: str, data: PlanUpdateInput,
) -> contracts.Plan:
    editing = await edit(session, organization_id, code)
    plan, draft = editing.plan, editing.draft
    errors: Errors = {}
    renamed = data.code is not None and data.code != plan.code
    if renamed and await repository.live_plan(session, organization_id, data.code or "") is not None:
        add(errors, "code", "value_already_exist")
    resolver = assemble.Resolver(session, organization_id)
    await assemble.apply_plan_prices(resolver, draft, data, errors)
    if data.charges is not None:
        codes = await repository.charge_codes_by_id(session, plan.id)
        await assemble.replace_charges(resolver, draft, data.charges, codes, errors)
    if data.fixed_charges is not None:
        codes = await repository.fixed_charge_codes_by_id(session, plan.id)
        await assemble.replace_fixed_charges(resolver, draft, data.fixed_charges, codes, errors)
    if draft.amount_currency != editing.before.amount_currency:
        await assemble.check_fixed_charge_currencies(resolver, draft, errors)
    if errors:
        raise ValidationFailed(errors)

    for name in ("name", "code"):
        if getattr(data, name) is not None:
            setattr(plan, name, getattr(data, name))
    for name in ("invoice_display_name", "description"):
        if data.given(name):
            setattr(plan, name, getattr(data, name))
    if data.given("metadata"):
        plan.plan_metadata = data.metadata or None
    await flush_unique(session)
    result = await versioning.commit(session, plan, draft, editing.version, editing.before)
    return await publish_updated(session, plan, result, cascade_updates=bool(data.cascade_updates))
