"""Fees: reads for the API and the one change Lago allows (`payment_status`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.invoices import repository
from invoicing.invoices.errors import FeeAlreadyInvoiced, FeeNotFound
from invoicing.invoices.models import Fee
from invora.auth.deps import ensure_customer_access, is_staff
from invora.auth.principal import Principal


async def visible(session: AsyncSession, principal: Principal, fee_id: uuid.UUID, *, lock: bool = False) -> Fee:
    fee = await repository.get_fee(session, principal.organization_id, fee_id, lock=lock)
    if fee is None:
        raise FeeNotFound()
    ensure_customer_access(principal, fee.customer_id)
    return fee


async def list_fees(session: AsyncSession, principal: Principal, filters: repository.FeeFilters, *, limit: int,
                    offset: int) -> tuple[list[Fee], int]:
    if not is_staff(principal):  # a tenant key: its own customer's fees, by internal id
        filters.customer_id = principal.customer_id
    return await repository.list_fees(session, principal.organization_id, filters, limit=limit, offset=offset)


async def update(session: AsyncSession, principal: Principal, fee_id: uuid.UUID, payment_status: str,
                 now: datetime) -> Fee:
    fee = await visible(session, principal, fee_id, lock=True)
    fee.payment_status = payment_status
    fee.updated_at = now
    await session.flush()
    return fee


async def delete(session: AsyncSession, principal: Principal, fee_id: uuid.UUID) -> Fee:
    """Lago's `DELETE /fees/{id}`: a fee not yet invoiced (`invoice_id` null) is removed; else 405 `invoiced_fee`.
    The fee as it was is returned."""
    fee = await visible(session, principal, fee_id, lock=True)
    if fee.invoice_id is not None:
        raise FeeAlreadyInvoiced("only a fee that is not yet invoiced can be deleted")
    await repository.delete_fee(session, fee)
    return fee
