"""Documents (PDF) of invoices and credit notes: rendered once per resource, kept, served by a public link.

When a document is made (docs/invoicing.md, "Documents"):

- **in the background** (`consumer.py`, consumer `documents`, when `DOCUMENTS_GENERATE` is on): after
  `invoice.finalized` and `credit_note.created`, in its own consumer group, one event per transaction; a
  failure is retried and parked by the platform consumer like any event, and never touches the finalization,
  which committed before. Then `invoice.generated` / `credit_note.generated` (Lago's webhooks), with `file_url`.
- **on download** (`POST /invoices/{id}/download`, `POST /credit_notes/{id}/download`) when the background has
  not made it yet: rendered in the request (Lago answers an empty 200 and renders later; Invora answers the
  resource with its `file_url` at once).

Whoever comes first stores it (`repository.insert_once`: the resource's id is the key) and publishes
`*.generated`; the other finds it there, so a document is never rendered into the table twice and the event
goes out once. Rendering is CPU work: it runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.credit_notes import repository as credit_notes
from invoicing.credit_notes import service as credit_note_service
from invoicing.credit_notes.errors import CreditNoteNotFound
from invoicing.documents import repository
from invoicing.documents.credit_note_pdf import render_credit_note_pdf
from invoicing.documents.invoice_pdf import render_invoice_pdf
from invoicing.invoices import repository as invoices
from invoicing.invoices import service as invoice_service
from invoicing.invoices.errors import InvoiceNotFound
from invoicing.invoices.models import Invoice
from invoicing.projections import repository as projections
from invora.auth.deps import ensure_customer_access
from invora.auth.principal import Principal
from invora.documents.layout import Party, address_party
from invora.documents.web import open_link
from invora.events.contracts.catalog import BillingEntity
from invora.events.contracts.invoicing import CreditNote as CreditNoteObject
from invora.events.contracts.invoicing import Invoice as InvoiceObject

# the path segment of each kind's public link (`/api/v1/documents/{kind}/{token}`)
INVOICE_LINK, CREDIT_NOTE_LINK = "invoices", "credit_notes"
# statuses whose invoice has a document: a number was given (Lago downloads `finalized` ones only)
DOCUMENTED_STATUSES = ("finalized", "voided")


async def issuer_party(session: AsyncSession, organization_id: uuid.UUID,
                       billing_entity_code: str | None) -> tuple[Party, str | None]:
    """Who issues the document, and its invoice footer: the customer's billing entity, else the organization
    (`organization.updated`: name, legal name, address, tax id, e-mail, `billing_configuration.invoice_footer`)."""
    entity = await projections.billing_entity(session, organization_id, billing_entity_code)
    if entity is not None:
        body = BillingEntity.model_validate(entity.body)
        return address_party("From", name=body.name, legal_name=body.legal_name, address_line1=body.address_line1,
                             address_line2=body.address_line2, zipcode=body.zipcode, city=body.city,
                             state=body.state, country=body.country,
                             tax_identification_number=body.tax_identification_number,
                             legal_number=body.legal_number, email=body.email), body.invoice_footer
    issuer = (await invoices.settings_of(session, organization_id)).issuer or {}
    return address_party("From", name=issuer.get("name"), legal_name=issuer.get("legal_name"),
                         address_line1=issuer.get("address_line1"), address_line2=issuer.get("address_line2"),
                         zipcode=issuer.get("zipcode"), city=issuer.get("city"), state=issuer.get("state"),
                         country=issuer.get("country"),
                         tax_identification_number=issuer.get("tax_identification_number"),
                         legal_number=issuer.get("legal_number"), email=issuer.get("email")), \
        issuer.get("invoice_footer")


async def generate_invoice_document(session: AsyncSession, invoice: Invoice, now: datetime) -> bool:
    """The invoice's document, unless it has one; True when this call stored it (and published
    `invoice.generated`). An invoice without a number (draft, pending, failed, closed) gets none."""
    if invoice.status not in DOCUMENTED_STATUSES or await repository.exists(session, "invoice", invoice.id):
        return False
    rendered = await invoice_service.full(session, invoice)
    issuer, footer = await issuer_party(session, invoice.organization_id, rendered.billing_entity_code)
    content = await asyncio.to_thread(render_invoice_pdf, rendered, issuer, invoice_footer=footer)
    if not await repository.insert_once(session, invoice.organization_id, "invoice", invoice.id, content,
                                        f"{rendered.number}.pdf", now):
        return False  # rendered meanwhile by another transaction: its document stays
    await invoice_service.publish(session, invoice, "invoice.generated")
    return True


async def generate_credit_note_document(session: AsyncSession, organization_id: uuid.UUID, note_id: uuid.UUID,
                                        now: datetime) -> bool:
    if await repository.exists(session, "credit_note", note_id):
        return False
    note = await credit_notes.get(session, organization_id, note_id)
    if note is None:
        return False
    rendered = (await credit_note_service.render_many(session, [note]))[0]
    customer = await projections.customer(session, organization_id, note.customer_id)
    issuer, _ = await issuer_party(session, organization_id, customer.billing_entity_code if customer else None)
    content = await asyncio.to_thread(render_credit_note_pdf, rendered, issuer)
    if not await repository.insert_once(session, organization_id, "credit_note", note.id, content,
                                        f"{rendered.number}.pdf", now):
        return False
    await credit_note_service.publish(session, note, "credit_note.generated")
    return True


async def download_invoice(session: AsyncSession, principal: Principal, invoice_id: uuid.UUID,
                           now: datetime) -> InvoiceObject:
    """Lago's `POST /invoices/{id}/download`: a finalized invoice (a draft or any other status: 404, as Lago's
    `invoices.finalized` scope), with `file_url`; rendered now when the background has not done it yet."""
    invoice = await invoice_service.load(session, principal.organization_id, invoice_id)
    ensure_customer_access(principal, invoice.customer_id)
    if invoice.status != "finalized":
        raise InvoiceNotFound()
    await generate_invoice_document(session, invoice, now)
    return await invoice_service.full(session, invoice)


async def download_credit_note(session: AsyncSession, principal: Principal, note_id: uuid.UUID,
                               now: datetime) -> CreditNoteObject:
    note = await credit_notes.get(session, principal.organization_id, note_id)
    if note is None:
        raise CreditNoteNotFound()
    ensure_customer_access(principal, note.customer_id)
    await generate_credit_note_document(session, principal.organization_id, note.id, now)
    return (await credit_note_service.render_many(session, [note]))[0]


async def file(session: AsyncSession, kind: str, token: str) -> tuple[bytes, str]:
    """The document behind a public link (`invora.documents.web.open_link`)."""
    return await open_link(session, repository.DOCUMENTS, kind, "invoice" if kind == INVOICE_LINK else "credit_note",
                           token)
