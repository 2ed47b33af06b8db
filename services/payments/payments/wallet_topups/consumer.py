"""The `wallet_transaction.payment_requested` consumer: records the charge in the event's transaction (the
top-up charger's next pass sends it)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.envelope import EventEnvelope, topic_for
from payments.runtime import PaymentsRuntime
from payments.wallet_topups import service


def wallet_topups_consumer(get_runtime: Callable[[], PaymentsRuntime]) -> ConsumerSpec:
    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        await service.record_request(session, envelope, get_runtime().clock.now())

    return ConsumerSpec(name="wallet_topups", topics=(topic_for("wallet_transaction"),), handler=handle,
                        event_types=frozenset({"wallet_transaction.payment_requested"}))
