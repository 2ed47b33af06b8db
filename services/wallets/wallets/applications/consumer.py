"""The prepaid-credits consumer: invoicing's requests on `invora.invoice`, one transaction per event.

The inbox makes a redelivered event a no-op; the invoice-id key in `credit_applications` makes a
*new* request for an invoice already handled (invoicing retrying) answer the same thing again.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.invoicing import (
    PREPAID_CREDITS_RELEASE_REQUESTED,
    PREPAID_CREDITS_REQUESTED,
    PrepaidCreditsReleaseRequested,
    PrepaidCreditsRequested,
)
from invora.events.envelope import EventEnvelope, topic_for
from wallets.applications import service
from wallets.runtime import WalletsRuntime


def prepaid_credits_consumer(runtime: Callable[[], WalletsRuntime]) -> ConsumerSpec:
    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        now = runtime().clock.now()
        if envelope.type == PREPAID_CREDITS_REQUESTED:
            request = PrepaidCreditsRequested.model_validate(envelope.data)
            await service.apply(session, envelope.organization_id, request, now)
        else:
            release = PrepaidCreditsReleaseRequested.model_validate(envelope.data)
            await service.release(session, envelope.organization_id, release, now)

    return ConsumerSpec(name="prepaid_credits", topics=(topic_for("invoice"),), handler=handle,
                        event_types=frozenset({PREPAID_CREDITS_REQUESTED, PREPAID_CREDITS_RELEASE_REQUESTED}))
