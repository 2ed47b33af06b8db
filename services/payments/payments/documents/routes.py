"""The public link of a payment receipt's PDF (`file_url`): `GET /api/v1/documents/payment_receipts/{token}`,
no API key (the signed, expiring token is the credential)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from invora.documents.web import LINK_RESPONSES, Token, pdf_response
from invora.web.deps import DbSession
from payments.documents import service

router = APIRouter(prefix="/api/v1/documents", tags=["payment_receipts"])


@router.get("/payment_receipts/{token}", response_class=Response, responses=LINK_RESPONSES,
            summary="A payment receipt's PDF by its public link",
            description="The `file_url` of a payment receipt: no API key (the signed, expiring token is the "
                        "credential). 404 `document_not_found` for an altered token, 403 `document_link_expired` "
                        "after its expiry.")
async def receipt_file(token: Token, session: DbSession) -> Response:
    return pdf_response(*await service.file(session, token))
