"""Who issues a customer's invoices, and under which settings: its billing entity, else the organization.

    customer's billing_entity_code → that entity's numbering, prefix, grace period, payment term,
                                     zero-amount rule (and its own taxes: `projections.organization_taxes`)
    no entity (or one not heard of yet) → the organization's settings (`organization.updated`)

A customer's own grace period and payment term win over either (callers apply them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.invoices import repository
from invoicing.projections import repository as projections
from invoicing.projections.models import CustomerProjection


@dataclass(frozen=True, slots=True)
class Issuer:
    document_numbering: str  # per_customer | per_organization | per_billing_entity
    document_number_prefix: str
    invoice_grace_period: int
    net_payment_term: int
    finalize_zero_amount_invoice: bool
    billing_entity_code: str | None = None
    billing_entity_id: uuid.UUID | None = None


async def issuer_of(session: AsyncSession, organization_id: uuid.UUID,
                    customer: CustomerProjection | None) -> Issuer:
    entity = await projections.billing_entity(session, organization_id,
                                              customer.billing_entity_code if customer else None)
    if entity is not None:
        return Issuer(entity.document_numbering, entity.document_number_prefix, entity.invoice_grace_period,
                      entity.net_payment_term, entity.finalize_zero_amount_invoice, entity.code, entity.id)
    settings = await repository.settings_of(session, organization_id)
    return Issuer(settings.document_numbering, settings.document_number_prefix, settings.invoice_grace_period,
                  settings.net_payment_term, settings.finalize_zero_amount_invoice)
