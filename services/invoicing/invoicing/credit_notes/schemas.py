"""Request and response bodies of the credit notes API (Lago's shapes; the object is the event contract's)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from invora.events.contracts.invoicing import CreditNote, JsonNumber
from invora.web.fields import Metadata
from invora.web.inputs import StrictInt
from invora.web.pagination import PaginationMeta

Reason = Literal["duplicated_charge", "product_unsatisfactory", "order_change", "order_cancellation",
                 "fraudulent_charge", "other"]


class ItemInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fee_id: uuid.UUID
    amount_cents: StrictInt = Field(ge=1, le=10**15)


class EstimateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_id: uuid.UUID
    items: list[ItemInput] = Field(min_length=1, max_length=1_000)


class EstimateBody(BaseModel):
    credit_note: EstimateInput


class CreditNoteInput(EstimateInput):
    reason: Reason | None = None
    description: str | None = Field(None, max_length=2_000)
    credit_amount_cents: StrictInt | None = Field(None, ge=0, le=10**15)
    refund_amount_cents: StrictInt | None = Field(
        None, ge=0, le=10**15, description="Refunded to the payment method: at most what was paid less earlier "
                                           "refunds; `credit + refund + offset` = the total.")
    offset_amount_cents: StrictInt | None = Field(
        None, ge=0, le=10**15, description="Deducted from what the invoice still owes (at most that); the invoice "
                                           "is paid when nothing is left. `credit + refund + offset` = the total.")
    metadata: Metadata | None = Field(None, description="Lago's key-value metadata (at most 50 keys, keys up to "
                                                        "100 characters, values up to 255 or null).")


class CreditNoteBody(BaseModel):
    credit_note: CreditNoteInput


class CreditNoteUpdateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refund_status: Literal["pending", "succeeded", "failed"] | None = Field(
        None, description="Only on a note with a refund part.")
    metadata: Metadata | None = Field(None, description="Merged into the note's metadata (Lago's `PUT`: the given "
                                                        "keys added or overwritten, the others kept).")


class CreditNoteUpdateBody(BaseModel):
    credit_note: CreditNoteUpdateInput


class MetadataBody(BaseModel):
    """Lago's `CreditNoteMetadataResponse` as a request: `POST` replaces, `PATCH` merges."""

    model_config = ConfigDict(extra="forbid")

    metadata: Metadata | None


class MetadataResponse(BaseModel):
    metadata: dict[str, str | None] | None


class CreditNoteResponse(BaseModel):
    credit_note: CreditNote


class CreditNotesResponse(BaseModel):
    credit_notes: list[CreditNote]
    meta: PaginationMeta


class EstimatedItem(BaseModel):
    amount_cents: int
    lago_fee_id: uuid.UUID


class EstimatedTax(BaseModel):
    lago_tax_id: uuid.UUID | None = None
    tax_name: str
    tax_code: str
    tax_rate: JsonNumber
    tax_description: str | None = None
    base_amount_cents: int
    amount_cents: int
    amount_currency: str


class EstimatedCreditNote(BaseModel):
    lago_invoice_id: uuid.UUID
    invoice_number: str
    currency: str
    taxes_amount_cents: int
    precise_taxes_amount_cents: JsonNumber
    taxes_rate: JsonNumber
    sub_total_excluding_taxes_amount_cents: int
    max_creditable_amount_cents: int
    max_refundable_amount_cents: int
    max_offsettable_amount_cents: int
    coupons_adjustment_amount_cents: int
    precise_coupons_adjustment_amount_cents: JsonNumber
    items: list[EstimatedItem]
    applied_taxes: list[EstimatedTax]


class EstimateResponse(BaseModel):
    estimated_credit_note: EstimatedCreditNote


