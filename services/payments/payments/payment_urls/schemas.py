"""Payment URLs in the API (Lago's shapes): `InvoicePaymentUrl`, `WalletTransactionPaymentUrl` and
`CustomerCheckoutUrl`."""

from __future__ import annotations

import uuid

from pydantic import BaseModel


class InvoicePaymentDetails(BaseModel):
    lago_customer_id: uuid.UUID
    lago_invoice_id: uuid.UUID
    external_customer_id: str
    payment_provider: str
    payment_url: str


class InvoicePaymentUrlResponse(BaseModel):
    invoice_payment_details: InvoicePaymentDetails


class CustomerCheckoutUrl(BaseModel):
    lago_customer_id: uuid.UUID
    external_customer_id: str
    payment_provider: str
    payment_provider_code: str
    checkout_url: str


class CustomerCheckoutUrlResponse(BaseModel):
    customer: CustomerCheckoutUrl


class WalletTransactionPaymentDetails(BaseModel):
    lago_customer_id: uuid.UUID
    lago_wallet_transaction_id: uuid.UUID
    external_customer_id: str
    payment_provider: str
    payment_url: str


class WalletTransactionPaymentUrlResponse(BaseModel):
    wallet_transaction_payment_details: WalletTransactionPaymentDetails
