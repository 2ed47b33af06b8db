"""Taxes: create, update, delete (hard, as Lago does), and lookups by code for the other domains."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.events import publish
from catalog.taxes import repository
from catalog.taxes.errors import TaxCodeTaken, TaxNotFound
from catalog.taxes.models import Tax
from catalog.taxes.repository import by_codes as by_codes
from catalog.taxes.repository import find as find
from catalog.taxes.schemas import TaxCreateInput, TaxUpdateInput
from invora.db.flush import flush_unique
from invora.events.contracts import catalog as contracts
from invora.web.pagination import PageParams, PaginationMeta


def to_object(tax: Tax) -> contracts.Tax:
    return contracts.Tax(
        lago_id=tax.id, name=tax.name, code=tax.code, description=tax.description, rate=tax.rate,
        applied_to_organization=tax.applied_to_organization, created_at=tax.created_at,
    )


async def get(session: AsyncSession, organization_id: uuid.UUID, code: str) -> Tax:
    tax = await find(session, organization_id, code)
    if tax is None:
        raise TaxNotFound()
    return tax


async def read(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.Tax:
    return to_object(await get(session, organization_id, code))


async def list_taxes(
    session: AsyncSession, organization_id: uuid.UUID, page: PageParams,
) -> tuple[list[contracts.Tax], PaginationMeta]:
    rows, meta = await repository.page(session, organization_id, page)
    return [to_object(t) for t in rows], meta


async def create(session: AsyncSession, organization_id: uuid.UUID, data: TaxCreateInput) -> contracts.Tax:
    if await find(session, organization_id, data.code) is not None:
        raise TaxCodeTaken()
    tax = Tax(organization_id=organization_id, code=data.code, name=data.name, rate=data.rate,
              description=data.description, applied_to_organization=bool(data.applied_to_organization))
    session.add(tax)
    await flush_unique(session, TaxCodeTaken)
    await session.refresh(tax)
    result = to_object(tax)
    await publish(session, organization_id, "tax.created", tax.id, contracts.TaxEvent(tax=result))
    return result


async def update(
    session: AsyncSession, organization_id: uuid.UUID, code: str, data: TaxUpdateInput,
) -> contracts.Tax:
    tax = await get(session, organization_id, code)
    if data.code is not None and data.code != tax.code:
        if await find(session, organization_id, data.code) is not None:
            raise TaxCodeTaken()
        tax.code = data.code
    for field in ("name", "rate", "applied_to_organization"):
        if getattr(data, field) is not None:
            setattr(tax, field, getattr(data, field))
    if data.given("description"):
        tax.description = data.description
    await flush_unique(session, TaxCodeTaken)
    await session.refresh(tax)
    result = to_object(tax)
    await publish(session, organization_id, "tax.updated", tax.id, contracts.TaxEvent(tax=result))
    return result


async def delete(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.Tax:
    """Delete a tax. Plans keep its code in their versions; consumers drop unknown codes (Lago's behaviour)."""
    tax = await get(session, organization_id, code)
    result = to_object(tax)
    await session.delete(tax)
    await session.flush()
    await publish(session, organization_id, "tax.deleted", tax.id, contracts.TaxEvent(tax=result))
    return result


async def check_codes(
    session: AsyncSession, organization_id: uuid.UUID, codes: list[str] | None, field: str = "tax_codes",
) -> dict[str, list[str]]:
    """Validation errors for tax codes that do not exist (or repeat) in the organization."""
    if not codes:
        return {}
    errors: list[str] = []
    if len(set(codes)) != len(codes):
        errors.append("duplicated_tax_codes")
    known = await by_codes(session, organization_id, codes)
    if any(code not in known for code in codes):
        errors.append("tax_not_found")
    return {field: errors} if errors else {}


def render(codes: Iterable[str], taxes: dict[str, Tax]) -> list[contracts.Tax]:
    """The live tax objects for a list of codes (codes of deleted taxes are skipped)."""
    return [to_object(taxes[code]) for code in codes if code in taxes]
