"""The `invoice.*` consumer: the projection and charge attempts, one transaction per fetched batch with its
inbox rows (`invoices.service.apply_events`; a batch that fails is handled again one event at a time).

The charger is woken after the handler returns (its commit follows immediately); if it looks too
early it finds nothing and comes back on its interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.envelope import EventEnvelope, topic_for
from payments.invoices import service
from payments.runtime import PaymentsRuntime

INVOICE_EVENTS = frozenset({"invoice.finalized", "invoice.voided"})


def invoices_consumer(runtime: Callable[[], PaymentsRuntime]) -> ConsumerSpec:
    async def handle(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        if await service.apply_events(session, envelopes):
            runtime().wake_charger()

    return ConsumerSpec(name="invoices", topics=(topic_for("invoice"),), batch_handler=handle,
                        event_types=INVOICE_EVENTS)
