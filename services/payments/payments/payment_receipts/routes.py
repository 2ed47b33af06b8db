"""HTTP routes for payment receipts (Lago API v1): `GET /api/v1/payment_receipts`, `GET /api/v1/payment_receipts/{id}`.

Staff keys read every receipt of their organization; a tenant key its own customer's only.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from invora.auth.deps import ReaderOrTenant, ensure_customer_access, is_staff
from invora.ids import parse_uuid
from invora.web.deps import DbSession
from invora.web.error_docs import LIST_ERRORS, READ_ERRORS
from invora.web.pagination import Pagination
from payments.payment_receipts import service
from payments.payment_receipts.schemas import PaymentReceiptResponse, PaymentReceiptsResponse

router = APIRouter(prefix="/api/v1/payment_receipts", tags=["payment_receipts"])


@router.get("", response_model=PaymentReceiptsResponse, responses=LIST_ERRORS, summary="List all payment receipts",
            description="Newest number first; `invoice_id` filters by the paid invoice.")
async def list_payment_receipts(session: DbSession, principal: ReaderOrTenant, page: Pagination,
                                invoice_id: Annotated[uuid.UUID | None, Query()] = None) -> PaymentReceiptsResponse:
    receipts, meta = await service.list_receipts(
        session, principal.organization_id, invoice_id=invoice_id,
        customer_id=None if is_staff(principal) else principal.customer_id, params=page)
    return PaymentReceiptsResponse(payment_receipts=receipts, meta=meta)


@router.get("/{lago_id}", response_model=PaymentReceiptResponse, responses=READ_ERRORS,
            summary="Retrieve a payment receipt")
async def get_payment_receipt(session: DbSession, principal: ReaderOrTenant,
                              lago_id: Annotated[str, Path(description="The receipt's lago_id.")]
                              ) -> PaymentReceiptResponse:
    receipt = await service.get(session, principal.organization_id, parse_uuid(lago_id))
    ensure_customer_access(principal, receipt.payment.lago_customer_id)
    return PaymentReceiptResponse(payment_receipt=receipt)
