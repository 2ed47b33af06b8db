"""HTTP routes of documents: Lago's downloads (`POST /invoices/{id}/download`, `POST /credit_notes/{id}/download`)
and the public links they give (`GET /api/v1/documents/{invoices|credit_notes}/{token}`, no API key)."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from invoicing.credit_notes.schemas import CreditNoteResponse
from invoicing.documents import service
from invoicing.invoices.schemas import InvoiceResponse
from invora.auth.deps import ReaderOrTenant
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import READ_ERRORS, ApiError, response

router = APIRouter(prefix="/api/v1")
ResourceId = Annotated[uuid.UUID, Path(description="The resource's `lago_id`.")]
# base64url(24 bytes) "." base64url(32 bytes): 32 + 1 + 43 characters
Token = Annotated[str, Path(min_length=10, max_length=200, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
                            description="The signed token of a document link (`file_url`).")]
LINK_ERRORS = {403: response(ApiError, "The link has expired (`document_link_expired`): read the resource again "
                                       "for a fresh `file_url`."),
               404: response(ApiError, "No document behind this link (`document_not_found`): altered, made with "
                                       "another key, or of another kind.")}
PDF = {200: {"content": {"application/pdf": {}}, "description": "The document (PDF)."}}


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


def _pdf(content: bytes, file_name: str) -> Response:
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(file_name)}",
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


@router.get("/documents/invoices/{token}", response_class=Response, responses={**PDF, **LINK_ERRORS},
            tags=["invoices"], summary="An invoice's PDF by its public link",
            description="The `file_url` of an invoice: no API key (the signed, expiring token is the credential).")
async def invoice_file(token: Token, session: DbSession) -> Response:
    return _pdf(*await service.file(session, service.INVOICE_LINK, token))


@router.get("/documents/credit_notes/{token}", response_class=Response, responses={**PDF, **LINK_ERRORS},
            tags=["credit_notes"], summary="A credit note's PDF by its public link",
            description="The `file_url` of a credit note: no API key (the signed, expiring token is the credential).")
async def credit_note_file(token: Token, session: DbSession) -> Response:
    return _pdf(*await service.file(session, service.CREDIT_NOTE_LINK, token))
