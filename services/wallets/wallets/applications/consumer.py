"""The prepaid-credits consumer: invoicing's requests on `invora.invoice`, a fetched batch per transaction.

The inbox makes a redelivered event a no-op; the invoice-id key in `credit_applications` makes a
*new* request for an invoice already handled (invoicing retrying) answer the same thing again.
Consecutive requests of a batch are applied together (`apply_many`: a handful of statements for the
whole run); a release ends the run, so requests and releases take effect in the order they were
published. A batch that fails is retried one event at a time by the platform consumer.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def prepaid_credits_consumer(runtime: WalletsRuntime) -> ConsumerSpec:
    async def handle(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        now = runtime.clock.now()
        run: list = []
        for envelope in envelopes:
            if envelope.type == PREPAID_CREDITS_REQUESTED:
                run.append((envelope.organization_id, PrepaidCreditsRequested.model_validate(envelope.data)))
                continue
            if run:
                await service.apply_many(session, run, now)
                run = []
            release = PrepaidCreditsReleaseRequested.model_validate(envelope.data)
            await service.release(session, envelope.organization_id, release, now)
        if run:
            await service.apply_many(session, run, now)

    return ConsumerSpec(name="prepaid_credits", topics=(topic_for("invoice"),), batch_handler=handle,
                        event_types=frozenset({PREPAID_CREDITS_REQUESTED, PREPAID_CREDITS_RELEASE_REQUESTED}))
