"""What payments reads of invoicing's `invoice.*` events: the `invoice` object's payable facts.

Invoicing publishes `{"invoice": Invoice}` (Lago's invoice object, with the customer embedded). Until
its contract module lands on main this reader names the fields payments relies on, with the same
names and types, and ignores the rest; once it lands, `InvoiceEvent` there replaces this module.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from invora.events.contracts.subscriptions import Customer

INVOICE_EVENTS = frozenset({"invoice.finalized", "invoice.voided", "invoice.payment_status_updated"})


class PayableInvoice(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lago_id: uuid.UUID
    number: str = ""
    status: Literal["draft", "finalized", "voided", "failed", "pending"]
    payment_status: Literal["pending", "succeeded", "failed"] = "pending"
    currency: str = Field(min_length=3, max_length=3)
    total_amount_cents: int = Field(ge=0, le=2**62)
    customer: Customer


class PayableInvoiceEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    invoice: PayableInvoice
