"""Add-ons: one-time items with a price and tax codes; fixed charges of plans refer to them.

Deleting an add-on is a soft delete (plan versions keep referring to it) and is refused while
the current version of a live plan has a fixed charge on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.add_ons import repository
from catalog.add_ons.errors import AddOnAttachedToLivePlans, AddOnNotFound
from catalog.add_ons.models import AddOn
from catalog.add_ons.repository import live_by_code as live_by_code
from catalog.add_ons.repository import live_by_id as live_by_id
from catalog.add_ons.schemas import AddOnCreateInput, AddOnUpdateInput
from catalog.events import publish
from catalog.plans import repository as plan_repository
from catalog.taxes import service as taxes
from invora.db.flush import flush_unique
from invora.errors import ValidationFailed
from invora.events.contracts import catalog as contracts
from invora.web.pagination import PageParams, PaginationMeta


async def to_objects(session: AsyncSession, add_ons: Sequence[AddOn]) -> list[contracts.AddOn]:
    if not add_ons:
        return []
    known = await taxes.by_codes(session, add_ons[0].organization_id, {c for a in add_ons for c in a.tax_codes})
    return [
        contracts.AddOn(
            lago_id=a.id, name=a.name, invoice_display_name=a.invoice_display_name, code=a.code,
            amount_cents=a.amount_cents, amount_currency=a.amount_currency, description=a.description,
            created_at=a.created_at, taxes=taxes.render(a.tax_codes, known),
        )
        for a in add_ons
    ]


async def to_object(session: AsyncSession, add_on: AddOn) -> contracts.AddOn:
    return (await to_objects(session, [add_on]))[0]


async def get(session: AsyncSession, organization_id: uuid.UUID, code: str) -> AddOn:
    add_on = await live_by_code(session, organization_id, code)
    if add_on is None:
        raise AddOnNotFound()
    return add_on


async def read(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.AddOn:
    return await to_object(session, await get(session, organization_id, code))


async def list_add_ons(
    session: AsyncSession, organization_id: uuid.UUID, page: PageParams,
) -> tuple[list[contracts.AddOn], PaginationMeta]:
    rows, meta = await repository.page(session, organization_id, page)
    return await to_objects(session, rows), meta


async def create(session: AsyncSession, organization_id: uuid.UUID, data: AddOnCreateInput) -> contracts.AddOn:
    errors = await taxes.check_codes(session, organization_id, data.tax_codes)
    if await live_by_code(session, organization_id, data.code) is not None:
        errors["code"] = ["value_already_exist"]
    if errors:
        raise ValidationFailed(errors)
    add_on = AddOn(organization_id=organization_id, code=data.code, name=data.name,
                   invoice_display_name=data.invoice_display_name, description=data.description,
                   amount_cents=data.amount_cents, amount_currency=data.amount_currency,
                   tax_codes=list(data.tax_codes or []))
    session.add(add_on)
    await flush_unique(session)
    await session.refresh(add_on)
    result = await to_object(session, add_on)
    await publish(session, organization_id, "add_on.created", add_on.id, contracts.AddOnEvent(add_on=result))
    return result


async def update(
    session: AsyncSession, organization_id: uuid.UUID, code: str, data: AddOnUpdateInput,
) -> contracts.AddOn:
    add_on = await get(session, organization_id, code)
    errors = await taxes.check_codes(session, organization_id, data.tax_codes)
    if data.code is not None and data.code != add_on.code and await live_by_code(session, organization_id,
                                                                                  data.code) is not None:
        errors["code"] = ["value_already_exist"]
    if (data.amount_currency is not None and data.amount_currency != add_on.amount_currency
            and await plan_repository.add_on_in_live_plans(session, add_on.id)):
        errors["amount_currency"] = ["not_editable_when_attached_to_plans"]
    if errors:
        raise ValidationFailed(errors)
    for field in ("name", "code", "amount_cents", "amount_currency"):
        if getattr(data, field) is not None:
            setattr(add_on, field, getattr(data, field))
    for field in ("invoice_display_name", "description"):
        if data.given(field):
            setattr(add_on, field, getattr(data, field))
    if data.tax_codes is not None:
        add_on.tax_codes = list(data.tax_codes)
    await flush_unique(session)
    await session.refresh(add_on)
    result = await to_object(session, add_on)
    await publish(session, organization_id, "add_on.updated", add_on.id, contracts.AddOnEvent(add_on=result))
    return result


async def delete(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.AddOn:
    add_on = await get(session, organization_id, code)
    if await plan_repository.add_on_in_live_plans(session, add_on.id):
        raise AddOnAttachedToLivePlans()
    add_on.deleted_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(add_on)
    result = await to_object(session, add_on)
    await publish(session, organization_id, "add_on.deleted", add_on.id, contracts.AddOnEvent(add_on=result))
    return result
