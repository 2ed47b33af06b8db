"""Charges, charge filters and fixed charges as sub-resources of a plan.

Each write edits the plan's current version as a draft and commits it: a changed price is a
new plan version (the others are untouched and keep selling the old one), and the plan publishes
`plan.updated` (plus `plan.cascade_requested` when `cascade_updates` is set).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.plans import assemble, render, repository, rules, versioning
from catalog.plans.drafts import ChargeDraft, new_filter
from catalog.plans.errors import ChargeFilterNotFound, ChargeNotFound, FilterValuesMissing, FixedChargeNotFound
from catalog.plans.models import Charge, FixedCharge, PlanVersion
from catalog.plans.rules import Errors, add
from catalog.plans.schemas import (
    ChargeFilterObject,
    ChargeFilterWriteInput,
    ChargeWriteInput,
    FixedChargeWriteInput,
)
from catalog.plans.service import Editing, edit, get_plan, publish_updated
from invora.errors import ValidationFailed
from invora.events.contracts import catalog as contracts
from invora.pricing import clean_properties


async def _current_rows(session: AsyncSession, organization_id: uuid.UUID, plan_code: str):
    plan = await get_plan(session, organization_id, plan_code)
    version = await repository.current_version(session, plan.id)
    return plan, version


async def _charge_row(session: AsyncSession, version: PlanVersion, code: str) -> Charge:
    rows = (await repository.version_charges(session, [version.id]))[version.id]
    row = next((c for c in rows if c.code == code), None)
    if row is None:
        raise ChargeNotFound()
    return row


async def _fixed_charge_row(session: AsyncSession, version: PlanVersion, code: str) -> FixedCharge:
    rows = (await repository.version_fixed_charges(session, [version.id]))[version.id]
    row = next((c for c in rows if c.code == code), None)
    if row is None:
        raise FixedChargeNotFound()
    return row


async def _save(session: AsyncSession, editing: Editing, cascade_updates: bool) -> PlanVersion:
    result = await versioning.commit(session, editing.plan, editing.draft, editing.version, editing.before)
    await publish_updated(session, editing.plan, result, cascade_updates=cascade_updates)
    return result.version


# -- charges ----------------------------------------------------------------------------------------------

async def list_charges(session: AsyncSession, organization_id: uuid.UUID, plan_code: str) -> list[contracts.Charge]:
    _plan, version = await _current_rows(session, organization_id, plan_code)
    rows = (await repository.version_charges(session, [version.id]))[version.id]
    return await render.charge_objects(session, organization_id, rows)


async def get_charge(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, code: str,
) -> contracts.Charge:
    _plan, version = await _current_rows(session, organization_id, plan_code)
    return (await render.charge_objects(session, organization_id, [await _charge_row(session, version, code)]))[0]


async def create_charge(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, data: ChargeWriteInput,
) -> contracts.Charge:
    editing = await edit(session, organization_id, plan_code)
    errors: Errors = {}
    if data.code is not None and editing.draft.charge(data.code) is not None:
        add(errors, "code", "value_already_exist")
    resolver = assemble.Resolver(session, organization_id)
    taken = {c.code for c in editing.draft.charges}
    charge = await assemble.charge_from_input(resolver, data, None, taken, "", errors)
    if errors or charge is None:
        raise ValidationFailed(errors)
    editing.draft.charges.append(charge)
    version = await _save(session, editing, bool(data.cascade_updates))
    return await get_charge_of(session, organization_id, version, charge.code)


async def update_charge(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, code: str, data: ChargeWriteInput,
) -> contracts.Charge:
    editing = await edit(session, organization_id, plan_code)
    existing = editing.draft.charge(code)
    if existing is None:
        raise ChargeNotFound()
    errors: Errors = {}
    if data.code is not None and data.code != code and editing.draft.charge(data.code) is not None:
        add(errors, "code", "value_already_exist")
    resolver = assemble.Resolver(session, organization_id)
    charge = await assemble.charge_from_input(resolver, data, existing, set(), "", errors)
    if errors or charge is None:
        raise ValidationFailed(errors)
    editing.draft.charges = [charge if c.code == code else c for c in editing.draft.charges]
    version = await _save(session, editing, bool(data.cascade_updates))
    return await get_charge_of(session, organization_id, version, charge.code)


async def delete_charge(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, code: str, cascade_updates: bool,
) -> contracts.Charge:
    editing = await edit(session, organization_id, plan_code)
    row = await _charge_row(session, editing.version, code)
    removed = (await render.charge_objects(session, organization_id, [row]))[0]
    editing.draft.charges = [c for c in editing.draft.charges if c.code != code]
    await _save(session, editing, cascade_updates)
    return removed


async def get_charge_of(
    session: AsyncSession, organization_id: uuid.UUID, version: PlanVersion, code: str,
) -> contracts.Charge:
    return (await render.charge_objects(session, organization_id, [await _charge_row(session, version, code)]))[0]


# -- charge filters -----------------------------------------------------------------------------------------

def _filter_object(charge_code: str, charge_filter: dict) -> ChargeFilterObject:
    return ChargeFilterObject(charge_code=charge_code, **charge_filter)


def _find_filter(charge: ChargeDraft | Charge, filter_id: uuid.UUID) -> dict | None:
    return next((f for f in charge.filters if f["lago_id"] == str(filter_id)), None)


async def list_filters(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, charge_code: str,
) -> list[ChargeFilterObject]:
    _plan, version = await _current_rows(session, organization_id, plan_code)
    row = await _charge_row(session, version, charge_code)
    return [_filter_object(row.code, f) for f in row.filters]


async def get_filter(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, charge_code: str, filter_id: uuid.UUID,
) -> ChargeFilterObject:
    _plan, version = await _current_rows(session, organization_id, plan_code)
    row = await _charge_row(session, version, charge_code)
    found = _find_filter(row, filter_id)
    if found is None:
        raise ChargeFilterNotFound()
    return _filter_object(row.code, found)


async def _edit_charge(session: AsyncSession, organization_id: uuid.UUID, plan_code: str, charge_code: str):
    editing = await edit(session, organization_id, plan_code)
    charge = editing.draft.charge(charge_code)
    if charge is None:
        raise ChargeNotFound()
    return editing, charge


async def _check_filters(
    session: AsyncSession, organization_id: uuid.UUID, charge: ChargeDraft, index: int,
) -> None:
    """Validate the charge with its changed filter; errors are reported relative to the filter."""
    metric = await assemble.Resolver(session, organization_id).metric(charge.billable_metric_id)
    assert metric is not None
    errors: Errors = {}
    for field, codes in rules.charge_errors(charge, metric).items():
        prefix = f"filters.{index}."
        if field.startswith(prefix):
            target = field.removeprefix(prefix)
        elif field == "filters":
            target = "values"
        elif field.startswith("filters."):
            continue  # another filter's problem predates this request
        else:
            target = field
        for code in codes:
            add(errors, target, code)
    if errors:
        raise ValidationFailed(errors)


async def create_filter(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, charge_code: str,
    data: ChargeFilterWriteInput,
) -> ChargeFilterObject:
    if data.values is None:
        raise FilterValuesMissing()
    editing, charge = await _edit_charge(session, organization_id, plan_code, charge_code)
    created = new_filter(data.invoice_display_name, clean_properties(charge.charge_model, data.properties or {}),
                         data.values)
    charge.filters = [*charge.filters, created]
    await _check_filters(session, organization_id, charge, len(charge.filters) - 1)
    await _save(session, editing, bool(data.cascade_updates))
    return _filter_object(charge.code, created)


async def update_filter(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, charge_code: str, filter_id: uuid.UUID,
    data: ChargeFilterWriteInput,
) -> ChargeFilterObject:
    editing, charge = await _edit_charge(session, organization_id, plan_code, charge_code)
    found = _find_filter(charge, filter_id)
    if found is None:
        raise ChargeFilterNotFound()
    updated = dict(found)
    if data.given("invoice_display_name"):
        updated["invoice_display_name"] = data.invoice_display_name
    if data.properties is not None:
        updated["properties"] = clean_properties(charge.charge_model, data.properties)
    if data.values is not None:
        updated["values"] = data.values
    index = charge.filters.index(found)
    charge.filters = [updated if f is found else f for f in charge.filters]
    await _check_filters(session, organization_id, charge, index)
    await _save(session, editing, bool(data.cascade_updates))
    return _filter_object(charge.code, updated)


async def delete_filter(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, charge_code: str, filter_id: uuid.UUID,
    cascade_updates: bool,
) -> ChargeFilterObject:
    editing, charge = await _edit_charge(session, organization_id, plan_code, charge_code)
    found = _find_filter(charge, filter_id)
    if found is None:
        raise ChargeFilterNotFound()
    charge.filters = [f for f in charge.filters if f is not found]
    await _save(session, editing, cascade_updates)
    return _filter_object(charge.code, found)


# -- fixed charges ------------------------------------------------------------------------------------------

async def list_fixed_charges(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str,
) -> list[contracts.FixedCharge]:
    _plan, version = await _current_rows(session, organization_id, plan_code)
    rows = (await repository.version_fixed_charges(session, [version.id]))[version.id]
    return await render.fixed_charge_objects(session, organization_id, rows)


async def get_fixed_charge(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, code: str,
) -> contracts.FixedCharge:
    _plan, version = await _current_rows(session, organization_id, plan_code)
    row = await _fixed_charge_row(session, version, code)
    return (await render.fixed_charge_objects(session, organization_id, [row]))[0]


async def _fixed_charge_of(session, organization_id, version: PlanVersion, code: str) -> contracts.FixedCharge:
    row = await _fixed_charge_row(session, version, code)
    return (await render.fixed_charge_objects(session, organization_id, [row]))[0]


async def create_fixed_charge(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, data: FixedChargeWriteInput,
) -> contracts.FixedCharge:
    editing = await edit(session, organization_id, plan_code)
    errors: Errors = {}
    if data.code is not None and editing.draft.fixed_charge(data.code) is not None:
        add(errors, "code", "value_already_exist")
    resolver = assemble.Resolver(session, organization_id)
    taken = {c.code for c in editing.draft.fixed_charges}
    fixed_charge = await assemble.fixed_charge_from_input(
        resolver, data, None, taken, editing.draft.amount_currency, "", errors,
    )
    if errors or fixed_charge is None:
        raise ValidationFailed(errors)
    editing.draft.fixed_charges.append(fixed_charge)
    version = await _save(session, editing, bool(data.cascade_updates))
    return await _fixed_charge_of(session, organization_id, version, fixed_charge.code)


async def update_fixed_charge(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, code: str, data: FixedChargeWriteInput,
) -> contracts.FixedCharge:
    editing = await edit(session, organization_id, plan_code)
    existing = editing.draft.fixed_charge(code)
    if existing is None:
        raise FixedChargeNotFound()
    errors: Errors = {}
    if data.code is not None and data.code != code and editing.draft.fixed_charge(data.code) is not None:
        add(errors, "code", "value_already_exist")
    resolver = assemble.Resolver(session, organization_id)
    fixed_charge = await assemble.fixed_charge_from_input(
        resolver, data, existing, set(), editing.draft.amount_currency, "", errors,
    )
    if errors or fixed_charge is None:
        raise ValidationFailed(errors)
    editing.draft.fixed_charges = [fixed_charge if c.code == code else c for c in editing.draft.fixed_charges]
    version = await _save(session, editing, bool(data.cascade_updates))
    return await _fixed_charge_of(session, organization_id, version, fixed_charge.code)


async def delete_fixed_charge(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, code: str, cascade_updates: bool,
) -> contracts.FixedCharge:
    editing = await edit(session, organization_id, plan_code)
    row = await _fixed_charge_row(session, editing.version, code)
    removed = (await render.fixed_charge_objects(session, organization_id, [row]))[0]
    editing.draft.fixed_charges = [c for c in editing.draft.fixed_charges if c.code != code]
    await _save(session, editing, cascade_updates)
    return removed
