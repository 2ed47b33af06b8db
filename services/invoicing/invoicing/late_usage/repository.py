"""SQL of late usage: the latest revision per period, and what a period's final invoices billed per fee slot."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.late_usage import Billed, slot_key
from invoicing.invoices.models import Fee
from invoicing.late_usage.models import UsageRevision
from invora.events.contracts.subscriptions import BillingPeriodUsageRevised


async def keep_if_newer(session: AsyncSession, organization_id: uuid.UUID, data: BillingPeriodUsageRevised,
                        sequence: int, now: datetime) -> bool:
    """Record the revision unless one with the same or a later `sequence` was kept for its period (True: kept).
    The row stays locked to commit, so two revisions of one period apply one after the other."""
    values = dict(subscription_id=data.subscription.lago_id, sequence=sequence, revision=data.revision,
                  usage=data.usage.model_dump(mode="json"), received_at=now)
    statement = insert(UsageRevision).values(organization_id=organization_id,
                                             billing_period_id=data.lago_billing_period_id, **values)
    kept = (await session.execute(statement.on_conflict_do_update(
        index_elements=["organization_id", "billing_period_id"], set_=values,
        where=UsageRevision.sequence < statement.excluded.sequence,
    ).returning(UsageRevision.sequence))).scalar_one_or_none()
    return kept is not None


async def latest(session: AsyncSession, organization_id: uuid.UUID,
                 billing_period_id: uuid.UUID) -> UsageRevision | None:
    return (await session.execute(select(UsageRevision).where(
        UsageRevision.organization_id == organization_id, UsageRevision.billing_period_id == billing_period_id,
    ).with_for_update(read=True))).scalar_one_or_none()


async def billed_slots(session: AsyncSession, invoice_ids: Sequence[uuid.UUID]) -> dict[str, Billed]:
    """What the given invoices billed per charge fee slot (charge, filter, group, true-up)."""
    billed: dict[str, Billed] = {}
    if not invoice_ids:
        return billed
    rows = (await session.execute(select(Fee.charge_id, Fee.charge_filter_id, Fee.grouped_by, Fee.item,
                                         Fee.amount_cents, Fee.units, Fee.events_count).where(
        Fee.invoice_id.in_(list(invoice_ids)), Fee.fee_type == "charge"))).all()
    for charge_id, filter_id, grouped_by, item, amount, units, events in rows:
        key = slot_key(charge_id, filter_id, grouped_by, (item or {}).get("true_up"))
        billed[key] = billed.get(key, Billed()).plus(amount, Decimal(units), events)
    return billed
