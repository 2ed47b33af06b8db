"""The SQL of customers' billing-state audit trail."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.pagination import PageParams, PaginationMeta, paginate
from subscriptions.access.models import BillingStateAudit


async def billing_state_audits(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                               page: PageParams) -> tuple[list[BillingStateAudit], PaginationMeta]:
    """A customer's billing-state changes, the latest first."""
    statement = select(BillingStateAudit).where(
        BillingStateAudit.organization_id == organization_id, BillingStateAudit.customer_id == customer_id,
    ).order_by(BillingStateAudit.created_at.desc(), BillingStateAudit.id.desc())
    return await paginate(session, statement, page)
