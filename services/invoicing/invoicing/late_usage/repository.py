"""SQL of late usage: the latest revision per period, and what a period's final invoices billed per fee slot."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger

from invoicing.billing.late_usage import Billed, slot_key
from invoicing.invoices.models import Fee
from invoicing.late_usage.models import UsageRevision
from invora.db.memo import memo
from invora.events.contracts.subscriptions import BillingPeriodUsageRevised

# the periods whose lock this transaction holds and their latest revision as read after it (None: none yet);
# a revision kept in the transaction forgets its period's entry (`keep_if_newer`)
_LATEST = "late_usage.latest"


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
    if kept is not None:
        memo(session, _LATEST).pop((organization_id, data.lago_billing_period_id), None)
    return kept is not None


def _period_key(billing_period_id: uuid.UUID) -> int:
    """The period's advisory lock key: its id's two 64-bit halves folded (a uuid7's random half keeps periods
    closed in the same millisecond apart), as a signed bigint."""
    folded = (billing_period_id.int >> 64) ^ (billing_period_id.int & 0xFFFF_FFFF_FFFF_FFFF)
    return folded - (1 << 64) if folded >= 1 << 63 else folded


async def lock_period(session: AsyncSession, billing_period_id: uuid.UUID) -> None:
    """Serialise the period's invoice creation with its usage revisions, to commit (a transaction-level
    advisory lock): the revisions row may not exist yet, so a row lock alone cannot close the window in which
    a revision committing beside the invoice's creation finds no invoice and the invoice no revision."""
    await session.execute(select(func.pg_advisory_xact_lock(_period_key(billing_period_id))))


async def latest(session: AsyncSession, organization_id: uuid.UUID,
                 billing_period_id: uuid.UUID) -> UsageRevision | None:
    """The period's latest revision, read after `lock_period` (taken here: the caller creates the period's
    invoice from what it reads, and a revision handled meanwhile waits for that invoice's commit)."""
    remembered = memo(session, _LATEST)
    if (organization_id, billing_period_id) in remembered:  # locked and read by `prefetch_latest`
        return remembered[(organization_id, billing_period_id)]
    await lock_period(session, billing_period_id)
    return (await session.execute(select(UsageRevision).where(
        UsageRevision.organization_id == organization_id, UsageRevision.billing_period_id == billing_period_id,
    ).with_for_update(read=True))).scalar_one_or_none()


async def prefetch_latest(session: AsyncSession, organization_id: uuid.UUID,
                          billing_period_ids: Sequence[uuid.UUID]) -> None:
    """`latest` for a batch's closes in two statements: every period's lock (in key order, so two batches
    never wait on each other in a cycle), then, in a snapshot taken after them, their revisions."""
    if not billing_period_ids:
        return
    keys = sorted({_period_key(period_id) for period_id in billing_period_ids})
    await session.execute(text(
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT k FROM unnest(:keys) AS k ORDER BY k) AS ordered"
    ).bindparams(bindparam("keys", type_=ARRAY(BigInteger))), {"keys": keys})
    rows = (await session.execute(select(UsageRevision).where(
        UsageRevision.organization_id == organization_id,
        UsageRevision.billing_period_id.in_(list(billing_period_ids)),
    ).with_for_update(read=True))).scalars().all()
    found = {row.billing_period_id: row for row in rows}
    remembered = memo(session, _LATEST)
    for period_id in billing_period_ids:
        remembered[(organization_id, period_id)] = found.get(period_id)


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
