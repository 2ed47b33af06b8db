"""The invoicing side of the prepaid-credits saga with the wallets service (docs/invoicing.md, docs/wallets.md).

    finalize ─► amounts (coupons consumed) ─► amount due > 0 and an active wallet in the currency?
        no  ─► number, `invoice.finalized` (same transaction)
        yes ─► `pending` + `invoice.prepaid_credits_requested` (same transaction; nothing numbered)
    `credits.applied` ─► credits recorded, total due recomputed, number, `invoice.finalized` (one transaction)
    void ─► `invoice.prepaid_credits_release_requested` (same transaction as `voided`) ─► `credits.released`

- **Who pays the round trip**: only invoices whose customer holds an active wallet in the invoice's currency,
  as the wallets projection (`wallet.*` events) knows it. The projection lags the wallets service by the
  broker's delay: a wallet created in the same instant as the invoice is not seen, and the invoice
  finalizes without credits (as if the wallet had been created a moment later). A wallet whose balance is 0
  is still asked (the balance moves on every debit and is not projected): wallets answers 0.
- **Idempotency**: the invoice id is the key on both sides. A request sent again (the resend pass, after
  `prepaid_credits_resend_after_seconds` without an answer) is answered the same by wallets; an answer
  received twice finds the invoice no longer `pending` and changes nothing.
- Which invoices: subscription (and progressive-billing) invoices, as Lago; one-off invoices are not paid
  with prepaid credits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.prepaid import credit_lines
from invoicing.invoices.models import Fee, Invoice
from invoicing.prepaid_credits import repository
from invora.events.contracts.invoicing import (
    PREPAID_CREDITS_RELEASE_REQUESTED,
    PREPAID_CREDITS_REQUESTED,
    PrepaidCreditsLine,
    PrepaidCreditsReleaseRequested,
    PrepaidCreditsRequested,
)
from invora.outbox import add_event

CREDITED_INVOICE_TYPES = frozenset({"subscription", "progressive_billing"})


def amount_due(invoice: Invoice) -> int:
    """What prepaid credits may pay: taxes included, after coupons and credit notes."""
    return max(invoice.sub_total_including_taxes_amount_cents - invoice.credit_notes_amount_cents, 0)


def request_of(invoice: Invoice, fees: Sequence[Fee], now: datetime) -> PrepaidCreditsRequested:
    dues = [Decimal(f.amount_cents) - Decimal(f.precise_coupons_amount_cents) + Decimal(f.taxes_precise_amount_cents)
            for f in fees]
    shares = credit_lines(dues, amount_due(invoice))
    return PrepaidCreditsRequested(
        lago_invoice_id=invoice.id, invoice_number=invoice.number, lago_customer_id=invoice.customer_id,
        external_customer_id=invoice.external_customer_id, currency=invoice.currency, requested_at=now,
        lines=[PrepaidCreditsLine(lago_fee_id=fee.id, fee_type=fee.fee_type,
                                  billable_metric_code=fee.billable_metric_code, amount_cents=share)
               for fee, share in zip(fees, shares, strict=True) if share > 0])


async def wants_credits(session: AsyncSession, invoice: Invoice) -> bool:
    return (invoice.invoice_type in CREDITED_INVOICE_TYPES and invoice.prepaid_credits_status is None
            and amount_due(invoice) > 0
            and await repository.has_active_wallet(session, invoice.organization_id, invoice.customer_id,
                                                   invoice.currency))


async def send_request(session: AsyncSession, invoice: Invoice, fees: Sequence[Fee], now: datetime) -> None:
    """The request, in the caller's transaction (with the invoice's `pending` state)."""
    invoice.prepaid_credits_requested_at = now
    await add_event(session, type=PREPAID_CREDITS_REQUESTED, organization_id=invoice.organization_id,
                    aggregate_type="invoice", aggregate_id=invoice.id, data=request_of(invoice, fees, now))


async def send_release(session: AsyncSession, invoice: Invoice, *, abandoned: bool = False) -> None:
    await add_event(session, type=PREPAID_CREDITS_RELEASE_REQUESTED, organization_id=invoice.organization_id,
                    aggregate_type="invoice", aggregate_id=invoice.id, data=PrepaidCreditsReleaseRequested(
                        lago_invoice_id=invoice.id, external_customer_id=invoice.external_customer_id,
                        reason="invoice_abandoned" if abandoned else "invoice_voided"))
