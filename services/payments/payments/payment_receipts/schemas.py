"""Payment receipts in the API (Lago's `PaymentReceipt`, `PaymentReceiptsPaginated`)."""

from __future__ import annotations

from pydantic import BaseModel

from invora.events.contracts.payments import PaymentReceipt
from invora.web.pagination import PaginationMeta


class PaymentReceiptResponse(BaseModel):
    payment_receipt: PaymentReceipt


class PaymentReceiptsResponse(BaseModel):
    payment_receipts: list[PaymentReceipt]
    meta: PaginationMeta
