"""What invoicing hears from the wallets service, one event per transaction (platform consumer + inbox):

- `wallet.created|updated|terminated` (`invora.wallet`): the wallets projection (who has a usable wallet);
  `wallet.unit_credit_created|voided|expired` (same topic): the unit-credit grants projection;
  `wallet.paid_credits_invoice_requested` (same topic): paid credits granted at once, invoiced
  (`invoices/credit_invoice.py`, dated when wallets granted them);
- `credits.applied` (`invora.credits`): the answer to a pending invoice's request: credits recorded, then
  the invoice is finalized (number, `invoice.finalized`) in this transaction;
- `credits.released`: the credits of a voided invoice went back to the wallets.

A crash before the commit leaves the event unacknowledged: it is delivered again and applied then.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.invoices import credit_invoice, lifecycle
from invoicing.invoices import repository as invoices
from invoicing.prepaid_credits import repository
from invoicing.unit_credits import repository as unit_credits
from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.wallets import (
    PAID_CREDITS_INVOICE_REQUESTED,
    UNIT_CREDIT_EVENTS,
    PaidCreditsInvoiceRequested,
    PrepaidCreditsApplied,
    PrepaidCreditsReleased,
    UnitCreditEvent,
    WalletEvent,
)
from invora.events.envelope import EventEnvelope, topic_for
from invora.logging import get_logger
from invora.runtime import ServiceRuntime

log = get_logger(__name__)


async def on_wallet(session: AsyncSession, event: EventEnvelope) -> None:
    if event.type == PAID_CREDITS_INVOICE_REQUESTED:
        request = PaidCreditsInvoiceRequested.model_validate(event.data)
        await credit_invoice.create(session, event.organization_id, request, event.occurred_at)
        return
    if event.type in UNIT_CREDIT_EVENTS:  # the unit-credit grants projection (`invoicing.unit_credits`)
        grant = UnitCreditEvent.model_validate(event.data).unit_credit
        await unit_credits.upsert_grant(session, event.organization_id, grant, event.sequence, event.occurred_at)
        return
    wallet = WalletEvent.model_validate(event.data).wallet
    await repository.upsert_wallet(session, event.organization_id, wallet, event.sequence, event.occurred_at)


def credits_consumer(runtime: ServiceRuntime) -> ConsumerSpec:
    async def on_credits(session: AsyncSession, event: EventEnvelope) -> None:
        if event.type == "credits.applied":
            answer = PrepaidCreditsApplied.model_validate(event.data)
            invoice = await invoices.lock_invoice(session, event.organization_id, answer.lago_invoice_id)
            if invoice is None:
                log.warning("prepaid_credits_answer_for_unknown_invoice", invoice_id=str(answer.lago_invoice_id))
                return
            applied = answer.applied_amount_cents if answer.status == "applied" else 0
            await lifecycle.settle_prepaid_credits(session, invoice, applied, runtime.clock.now())
            return
        released = PrepaidCreditsReleased.model_validate(event.data)
        invoice = await invoices.lock_invoice(session, event.organization_id, released.lago_invoice_id)
        if invoice is not None:
            lifecycle.prepaid_credits_released(invoice)

    return ConsumerSpec(name="prepaid-credits", topics=(topic_for("credits"),), handler=on_credits,
                        event_types=frozenset({"credits.applied", "credits.released"}))


WALLETS_CONSUMER = ConsumerSpec(name="wallets", topics=(topic_for("wallet"),), handler=on_wallet,
                                event_types=frozenset({"wallet.created", "wallet.updated", "wallet.terminated",
                                                       *UNIT_CREDIT_EVENTS, PAID_CREDITS_INVOICE_REQUESTED}))
