"""Usage that reaches a period after it closed: re-published, never dropped, never counted twice.

An event timestamped in a closed period is stored and counted in that period's rollups (and
answered `late: true`); the statement that stores it marks the period (`repository.WRITE_EVENTS`).
Each scheduler pass then re-publishes the usage of every marked period as `subscription.billing_period_usage_revised`:
the complete snapshot as it is now, beside the events count and amount published before, so
invoicing bills the difference once. Many late events between two passes make one revision.

An event whose transaction overlapped the close (it read the subscription's open period before
the closer moved it, and committed after the snapshot) is not seen as late by ingestion. So every
closed period is checked once more, `usage_revision_grace_seconds` after the close: when its
rollups hold more events than the snapshot counted, it is revised too.

Each period is handled in its own transaction; one that fails is parked (`invora.parking`, loop
`usage-revisions`) and retried with back-off while the others go on. Rows are locked `FOR UPDATE
SKIP LOCKED` and the revision, the new counts and the outbox event
commit together: each revision is published once, whatever the number of replicas.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.events.contracts.subscriptions import BillingPeriodUsageRevised
from invora.logging import get_logger
from invora.outbox import add_event
from invora.parking import Backoff, ParkingLot
from subscriptions.subscriptions import repository
from subscriptions.subscriptions.lifecycle import render, schedule_of
from subscriptions.subscriptions.models import BillingPeriod
from subscriptions.usage.snapshot import events_counted, period_usage

log = get_logger(__name__)


REVISION_PARKING = ParkingLot("subscriptions", "usage-revisions", Backoff(initial=30.0, maximum=3600.0))


async def revise_usage(sessionmaker: async_sessionmaker, grace_seconds: float, batch_size: int = 100,
                       parking: ParkingLot = REVISION_PARKING) -> int:
    """Publish the revisions due, each period in its own transaction (a failing one is parked); returns
    how many were published."""
    counts = await parking.each_due(
        sessionmaker,
        lambda session, after, limit: repository.revision_due_ids(session, grace_seconds, after, limit,
                                                                 parking.not_parked("billing_periods.id")),
        lambda session, period_id: _revise_locked(session, period_id, grace_seconds), batch_size=batch_size)
    return sum(counts)


async def _revise_locked(session: AsyncSession, period_id: uuid.UUID, grace_seconds: float) -> int:
    period = await repository.claim_revision_due(session, period_id, grace_seconds)
    return 0 if period is None else await _revise(session, period)


async def _revise(session: AsyncSession, period: BillingPeriod) -> int:
    subscription = await repository.get(session, period.subscription_id)
    full = schedule_of(subscription).period_at(period.period_start)
    counted = await events_counted(session, subscription.id, full.start)
    period.usage_revision_pending, period.usage_checked = False, True
    if period.usage_events_count is not None and counted == period.usage_events_count:
        return 0
    usage = await period_usage(session, subscription, period.period_start, period.period_end)
    if usage is None:
        return 0
    previous_count, previous_amount = period.usage_events_count, period.usage_amount_cents
    period.usage_events_count, period.usage_amount_cents = counted, usage.amount_cents
    period.usage_revisions += 1
    await add_event(session, type="subscription.billing_period_usage_revised",
                    organization_id=subscription.organization_id, aggregate_type="subscription",
                    aggregate_id=subscription.id, data=BillingPeriodUsageRevised(
                        lago_billing_period_id=period.id, revision=period.usage_revisions,
                        subscription=render(subscription), period_start=period.period_start,
                        period_end=period.period_end, previous_events_count=previous_count,
                        events_count=counted, previous_usage_amount_cents=previous_amount,
                        usage_amount_cents=usage.amount_cents, usage=usage))
    return 1
