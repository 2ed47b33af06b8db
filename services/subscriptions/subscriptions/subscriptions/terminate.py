"""Ending subscriptions on request: DELETE /subscriptions/{external_id}, and a deleted customer's."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from subscriptions.customers.models import Customer
from subscriptions.subscriptions import lifecycle, repository
from subscriptions.subscriptions.models import Subscription
from subscriptions.subscriptions.repository import find_by_external_id


async def terminate_customer_subscriptions(session: AsyncSession, customer: Customer, now: datetime) -> None:
    """A deleted customer's live subscriptions end now (Lago): active ones terminate, pending ones are canceled."""
    rows = await repository.live_of_customer(session, customer.id)  # pending first
    for subscription in rows:
        await lifecycle.terminate(session, subscription, now, reason="customer_deleted")


async def terminate_by_external_id(session: AsyncSession, organization_id: uuid.UUID, external_id: str,
                                   status: str, now: datetime, on_termination_invoice: str | None,
                                   on_termination_credit_note: str | None) -> Subscription:
    subscription = await find_by_external_id(session, organization_id, external_id, status=status, for_update=True)
    if on_termination_invoice is not None:
        subscription.on_termination_invoice = on_termination_invoice
    if on_termination_credit_note is not None:
        subscription.on_termination_credit_note = on_termination_credit_note
    if subscription.status == "active" and subscription.next_subscription_id is not None:
        pending = await repository.get_for_update(session, subscription.next_subscription_id)
        if pending is not None:
            await lifecycle.terminate(session, pending, now, reason="api")
    await lifecycle.terminate(session, subscription, now, reason="api")
    return subscription
