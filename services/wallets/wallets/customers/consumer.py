"""The `customer.*` consumer: one transaction per event with its inbox row (the platform consumer's rules).

A deleted customer's active wallets are terminated in the same transaction (Lago does the same): what
is left in them is voided through the ledger and each publishes `wallet.terminated`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.subscriptions import CustomerEvent
from invora.events.envelope import EventEnvelope, topic_for
from wallets.customers import service
from wallets.ledger import repository as ledger_repository
from wallets.runtime import WalletsRuntime
from wallets.wallets import service as wallets

CUSTOMER_EVENTS = frozenset({"customer.created", "customer.updated", "customer.deleted"})


def customers_consumer(runtime: WalletsRuntime) -> ConsumerSpec:
    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        changed = await service.apply_event(session, envelope)
        if changed and envelope.type == "customer.deleted":
            customer_id = CustomerEvent.model_validate(envelope.data).customer.lago_id
            now = runtime.clock.now()
            for wallet in await ledger_repository.lock_active_wallets_of(session, [customer_id]):
                await wallets.terminate(session, wallet, now=now, actor="customer_deleted")

    return ConsumerSpec(name="customers", topics=(topic_for("customer"),), handler=handle,
                        event_types=CUSTOMER_EVENTS)
