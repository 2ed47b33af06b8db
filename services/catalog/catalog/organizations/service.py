"""The organization's settings: read (defaults until first written) and update, publishing `organization.updated`.

Invoicing keeps what it needs (numbering, grace period, payment term, zero-amount invoices, timezone)
from the event, and notifications turns `webhook_url` into a webhook endpoint; neither reads this
database.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.events import publish
from catalog.organizations import repository
from catalog.organizations.models import Organization
from catalog.organizations.schemas import OrganizationUpdateInput
from catalog.taxes import repository as tax_repository
from catalog.taxes.service import to_object as tax_object
from invora.events.contracts import catalog as contracts

NULLABLE = ("legal_name", "legal_number", "tax_identification_number", "email", "address_line1", "address_line2",
            "city", "state", "zipcode", "country", "webhook_url")
VALUED = ("name", "default_currency", "document_numbering", "net_payment_term", "timezone",
          "finalize_zero_amount_invoice")


def _defaults(organization_id: uuid.UUID) -> Organization:
    return Organization(organization_id=organization_id, name=None, document_numbering="per_organization",
                        document_number_prefix="INV", default_currency="USD", timezone="UTC", net_payment_term=0,
                        invoice_grace_period=0, document_locale="en", finalize_zero_amount_invoice=True,
                        email_settings=[], created_at=None)


async def _applied_taxes(session: AsyncSession, organization_id: uuid.UUID) -> list[contracts.Tax]:
    rows = await tax_repository.applied_to_organization(session, organization_id)
    return [tax_object(t) for t in rows]


def to_object(row: Organization, taxes: list[contracts.Tax]) -> contracts.Organization:
    urls = [row.webhook_url] if row.webhook_url else []
    return contracts.Organization(
        lago_id=row.organization_id, name=row.name or str(row.organization_id), created_at=row.created_at,
        webhook_url=row.webhook_url, webhook_urls=urls, country=row.country, default_currency=row.default_currency,
        address_line1=row.address_line1, address_line2=row.address_line2, state=row.state, zipcode=row.zipcode,
        email=row.email, city=row.city, legal_name=row.legal_name, legal_number=row.legal_number,
        document_numbering=row.document_numbering, document_number_prefix=row.document_number_prefix,
        net_payment_term=row.net_payment_term, tax_identification_number=row.tax_identification_number,
        timezone=row.timezone, email_settings=list(row.email_settings),
        billing_configuration=contracts.OrganizationBillingConfiguration(
            invoice_footer=row.invoice_footer, invoice_grace_period=row.invoice_grace_period,
            document_locale=row.document_locale),
        finalize_zero_amount_invoice=row.finalize_zero_amount_invoice, taxes=taxes,
    )


async def read(session: AsyncSession, organization_id: uuid.UUID) -> contracts.Organization:
    row = await repository.find(session, organization_id) or _defaults(organization_id)
    return to_object(row, await _applied_taxes(session, organization_id))


def _changes(data: OrganizationUpdateInput) -> dict[str, Any]:
    values: dict[str, Any] = {field: getattr(data, field) for field in NULLABLE if data.given(field)}
    values |= {field: getattr(data, field) for field in VALUED if getattr(data, field) is not None}
    if data.document_number_prefix is not None:
        values["document_number_prefix"] = data.document_number_prefix.upper()  # Lago capitalises it
    if data.email_settings is not None:
        values["email_settings"] = list(dict.fromkeys(data.email_settings))
    config = data.billing_configuration
    if config is not None:
        values |= {field: getattr(config, field) for field in ("invoice_grace_period", "document_locale")
                   if getattr(config, field) is not None}
        if config.given("invoice_footer"):
            values["invoice_footer"] = config.invoice_footer
    return values


async def update(session: AsyncSession, organization_id: uuid.UUID,
                 data: OrganizationUpdateInput) -> contracts.Organization:
    """Every update publishes the whole object, so a consumer's projection needs nothing else."""
    row = await repository.save(session, organization_id, _changes(data))
    result = to_object(row, await _applied_taxes(session, organization_id))
    await publish(session, organization_id, "organization.updated", organization_id,
                  contracts.OrganizationEvent(organization=result))
    return result
