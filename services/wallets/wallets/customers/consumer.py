"""The `customer.*` consumer (`invora.customer_projection`): one transaction per event with its inbox row.

A deleted customer's active wallets are terminated in the same transaction (Lago does the same): what
is left in them is voided through the ledger and each publishes `wallet.terminated`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.customer_projection.service import customers_consumer as projection_consumer
from invora.events.contracts.subscriptions import CustomerEvent
from invora.events.envelope import EventEnvelope
from wallets.ledger import repository as ledger_repository
from wallets.runtime import WalletsRuntime
from wallets.wallets import service as wallets


def customers_consumer(runtime: WalletsRuntime) -> ConsumerSpec:
    async def after_change(session: AsyncSession, envelope: EventEnvelope) -> None:
        if envelope.type != "customer.deleted":
            return
        customer_id = CustomerEvent.model_validate(envelope.data).customer.lago_id
        now = runtime.clock.now()
        for wallet in await ledger_repository.lock_active_wallets_of(session, [customer_id]):
            await wallets.terminate(session, wallet, now=now, actor="customer_deleted")

    return projection_consumer(after_change=after_change)
