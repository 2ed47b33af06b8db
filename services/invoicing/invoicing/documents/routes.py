"""HTTP routes of documents: Lago's downloads (`POST /invoices/{id}/download`, `POST /credit_notes/{id}/download`)
and the public links they give (`GET /api/v1/documents/{invoices|credit_notes}/{token}`, no API key)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from invoicing.credit_notes.schemas import CreditNoteResponse
from invoicing.documents import service
from invoicing.invoices.schemas import InvoiceResponse
from invora.auth.deps import ReaderOrTenant
from invora.documents.web import LINK_RESPONSES, Token, pdf_response
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import READ_ERRORS

router = APIRouter(prefix="/api/v1")
ResourceId = Annotated[uuid.UUID, Path(description="The resource's `lago_id`.")]


@router.post("/invoices/{lago_id}/download", response_model=InvoiceResponse, responses=READ_ERRORS,
             tags=["invoices"], summary="Download an invoice PDF",
             description="Lago's: the invoice with `file_url`, the public link of its PDF (no API key needed; it "
                         "expires, `DOCUMENTS_LINK_TTL_SECONDS`). The PDF is rendered once, in the background after "
                         "finalization (`invoice.generated` follows) or here when not done yet; later downloads "
                         "return the same file. Only a `finalized` invoice: a draft (or any other status) is 404, "
                         "as Lago. A tenant key downloads its own customer's invoices only.")
async def download_invoice(lago_id: ResourceId, session: DbSession, principal: ReaderOrTenant,
                           request: Request) -> InvoiceResponse:
    return InvoiceResponse(invoice=await service.download_invoice(session, principal, lago_id, now(request)))


@router.post("/credit_notes/{lago_id}/download", response_model=CreditNoteResponse, responses=READ_ERRORS,
             tags=["credit_notes"], summary="Download a credit note PDF",
             description="Lago's: the credit note with `file_url` (see the invoice's download); "
                         "`credit_note.generated` follows its first rendering.")
async def download_credit_note(lago_id: ResourceId, session: DbSession, principal: ReaderOrTenant,
                               request: Request) -> CreditNoteResponse:
    return CreditNoteResponse(credit_note=await service.download_credit_note(session, principal, lago_id,
                                                                            now(request)))


@router.get("/documents/invoices/{token}", response_class=Response, responses=LINK_RESPONSES,
            tags=["invoices"], summary="An invoice's PDF by its public link",
            description="The `file_url` of an invoice: no API key (the signed, expiring token is the credential).")
async def invoice_file(token: Token, session: DbSession) -> Response:
    return pdf_response(*await service.file(session, service.INVOICE_LINK, token))


@router.get("/documents/credit_notes/{token}", response_class=Response, responses=LINK_RESPONSES,
            tags=["credit_notes"], summary="A credit note's PDF by its public link",
            description="The `file_url` of a credit note: no API key (the signed, expiring token is the credential).")
async def credit_note_file(token: Token, session: DbSession) -> Response:
    return pdf_response(*await service.file(session, service.CREDIT_NOTE_LINK, token))
