"""Tenant keys in invoicing: a key names its customer by `lago_id`, so a path's external id is resolved to the
live customer holding it (the customers projection) before the shared check compares internal ids."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.projections import repository
from invora.auth.deps import ensure_customer_access, is_staff
from invora.auth.principal import Principal


async def ensure_external_customer_access(session: AsyncSession, principal: Principal,
                                          external_customer_id: str) -> None:
    if is_staff(principal):
        return
    customer = await repository.customer_by_external_id(session, principal.organization_id, external_customer_id)
    live = customer is not None and customer.deleted_at is None
    ensure_customer_access(principal, customer.id if live else None)
