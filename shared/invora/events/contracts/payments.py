"""Events the payments service publishes, and the objects they carry (Lago's `payment` and `refund` shapes).

- `payment.created`: a payment (a charge attempt at a provider, or a manual payment) was recorded;
- `payment.succeeded`: the provider took the money (or a manual payment was recorded);
- `payment.failed`: the provider refused it: `failure.category` says whether trying again later may
  work (`soft`: insufficient funds, a processing error) or not without a new payment method (`hard`:
  lost or stolen card, a generic decline the issuer asks not to retry);
- `payment.requires_action`: the customer must authenticate (3-D Secure): `next_action.redirect_to_url`;
  all `PaymentEvent` (`{"payment": Payment}`), topic `invora.payment`, key the payment's `lago_id`.
  Invoicing updates the invoice's `payment_status` from these (`lago_payable_id` is the invoice).
- `payment.dispute_opened`, `payment.dispute_won`, `payment.dispute_lost`: the cardholder disputed the
  charge at the provider (Stripe `charge.dispute.*`), and how the bank decided (`dispute`). Invoicing
  marks the invoice `payment_dispute_lost_at` on `payment.dispute_lost` (Lago's
  `invoice.payment_dispute_lost`).
- `payment_receipt.created`: `PaymentReceiptEvent` (Lago's `PaymentReceiptObject`): the receipt of a
  succeeded payment, numbered gaplessly per organization. Topic `invora.payment_receipt`, key the receipt's id.
- `payment_receipt.generated`: `PaymentReceiptEvent`: the receipt's PDF is ready (`file_url` set); once.
- `payment_request.created`, `payment_request.payment_status_updated`, `payment_request.payment_failure`:
  `PaymentRequestEvent` (Lago's `PaymentRequestObject`): a customer's unpaid invoices bundled into one
  amount; its payment's status; a failed charge of it. Topic `invora.payment_request`, key the request's id.
- `refund.created|succeeded|failed`: `RefundEvent`, topic `invora.refund`, key the refund's `lago_id`.
  `lago_invoice_id` and `idempotency_key` let the requester (an admin, a credit note) match the answer.
- `customer.payment_provider_created`: `CustomerPaymentProviderEvent`: the customer now exists at
  the provider (`provider_customer_id`); `customer.payment_provider_error`: creating it failed
  (`provider_error`). Topic `invora.customer`, key the customer's `lago_id`.
- `wallet_topup_payment.succeeded|failed` (internal, payments → wallets): `WalletTopUpPaymentEvent`, the
  answer to wallets' `wallet_transaction.payment_requested`; topic `invora.wallet_topup_payment`, key the
  charge's `lago_id`. Once per top-up.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PaymentStatus = Literal["pending", "processing", "succeeded", "failed", "requires_action", "canceled"]
ProviderType = Literal["stripe", "paystack", "flutterwave", "adyen", "gocardless", "cashfree", "tap", "moneyhash",
                       "manual"]
DeclineCategory = Literal["soft", "hard"]
RefundStatus = Literal["pending", "succeeded", "failed"]


class _Object(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PaymentFailure(_Object):
    category: DeclineCategory
    code: str | None = Field(None, description="The provider's decline or error code (`insufficient_funds`, ...).")
    message: str | None = None


class PaymentDispute(_Object):
    provider_dispute_id: str
    status: str = Field(description="The provider's dispute status (`needs_response`, `under_review`, `won`, "
                                    "`lost`...).")
    reason: str | None = Field(None, description="The provider's reason (`fraudulent`, `product_not_received`...).")
    opened_at: datetime | None = None
    lost_at: datetime | None = None


class Payment(_Object):
    """Lago's `PaymentObject`, plus `failure` when it failed."""

    lago_id: uuid.UUID
    lago_customer_id: uuid.UUID
    external_customer_id: str
    invoice_ids: list[uuid.UUID]
    invoice_numbers: list[str] = Field(default_factory=list)
    lago_payable_id: uuid.UUID
    payable_type: Literal["Invoice", "PaymentRequest"] = "Invoice"
    amount_cents: int
    amount_currency: str
    status: str = Field(description="The provider's own status word (`succeeded`, `requires_payment_method`...).")
    payment_status: PaymentStatus
    type: Literal["manual", "provider"]
    reference: str | None = None
    payment_provider_code: str | None = None
    payment_provider_type: ProviderType | None = Field(
        None, description="The provider's type; null for a manual payment, as in Lago (`manual`, which older "
                          "events carry, is still read).")
    external_payment_id: str | None = None
    provider_payment_id: str | None = None
    provider_customer_id: str | None = None
    payment_method_id: str | None = None
    next_action: dict[str, Any] = Field(default_factory=dict)
    failure: PaymentFailure | None = None
    dispute: PaymentDispute | None = Field(None, description="A dispute of the charge at the provider, if any.")
    paid_at: datetime | None = None
    created_at: datetime


class WalletTopUpPayment(_Object):
    """The charge of one wallet top-up (`TopUpPaymentRequested`), as payments settled it."""

    lago_id: uuid.UUID = Field(description="Payments' id of the charge (the provider reference).")
    lago_wallet_transaction_id: uuid.UUID
    lago_wallet_id: uuid.UUID
    lago_customer_id: uuid.UUID
    amount_cents: int
    currency: str
    payment_status: Literal["succeeded", "failed"]
    provider_payment_id: str | None = None
    payment_provider_code: str | None = None
    failure: PaymentFailure | None = None
    paid_at: datetime | None = None


class WalletTopUpPaymentEvent(_Object):
    wallet_topup_payment: WalletTopUpPayment


class PaymentEvent(_Object):
    payment: Payment


class PaymentReceipt(_Object):
    """Lago's `PaymentReceiptObject`."""

    lago_id: uuid.UUID
    number: str
    file_url: str | None = Field(None, description="The public link of the receipt's PDF once rendered "
                                                   "(lago-api's serializer; Lago's OpenAPI document omits it).")
    payment: Payment
    created_at: datetime


class PaymentReceiptEvent(_Object):
    payment_receipt: PaymentReceipt


class PaymentRequestCustomer(_Object):
    """Lago's `CustomerBaseObject`, as far as payments knows the customer."""

    lago_id: uuid.UUID
    external_id: str
    name: str | None = None
    email: str | None = None
    currency: str | None = None


class PaymentRequestInvoice(_Object):
    """Lago's `InvoiceBaseObject`, as far as payments knows the invoice, and what the request asks of it."""

    lago_id: uuid.UUID
    number: str | None = None
    status: str
    currency: str
    total_amount_cents: int
    requested_amount_cents: int


class PaymentRequest(_Object):
    """Lago's `PaymentRequestObject`."""

    lago_id: uuid.UUID
    email: str
    amount_cents: int
    amount_currency: str
    payment_status: Literal["pending", "succeeded", "failed"]
    created_at: datetime
    customer: PaymentRequestCustomer
    invoices: list[PaymentRequestInvoice]


class PaymentRequestEvent(_Object):
    payment_request: PaymentRequest


class Refund(_Object):
    lago_id: uuid.UUID
    lago_payment_id: uuid.UUID
    lago_invoice_id: uuid.UUID
    lago_customer_id: uuid.UUID
    external_customer_id: str
    amount_cents: int
    amount_currency: str
    reason: str
    status: RefundStatus
    idempotency_key: str
    provider_refund_id: str | None = None
    payment_provider_code: str | None = None
    failure_message: str | None = None
    requested_by: str | None = None
    created_at: datetime


class RefundEvent(_Object):
    refund: Refund


class ProviderError(_Object):
    message: str
    error_code: str | None = None


class ProviderBillingConfiguration(_Object):
    payment_provider: ProviderType
    payment_provider_code: str
    provider_customer_id: str | None = None


class ProviderCustomer(_Object):
    """The customer as payments knows it, with the fields of Lago's `CustomerObject` a receiver of
    `customer.payment_provider_*` reads (`lago_id`, `external_id`, `billing_configuration.provider_customer_id`)
    beside the link's own."""

    lago_id: uuid.UUID | None = None
    external_id: str | None = None
    name: str | None = None
    email: str | None = None
    billing_configuration: ProviderBillingConfiguration | None = None
    lago_customer_id: uuid.UUID
    external_customer_id: str
    payment_provider: ProviderType
    payment_provider_code: str
    provider_customer_id: str | None = None
    provider_error: ProviderError | None = Field(None, description="`customer.payment_provider_error` only.")


class CustomerPaymentProviderEvent(_Object):
    """`{"customer": ...}` alone, so a webhook carries the object under `customer` (Lago's object type)."""

    customer: ProviderCustomer


PAYMENT_EVENT_TYPES = ("created", "succeeded", "failed", "requires_action", "dispute_opened", "dispute_won",
                       "dispute_lost")
REFUND_EVENT_TYPES = ("created", "succeeded", "failed")

EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    **{f"payment.{verb}": PaymentEvent for verb in PAYMENT_EVENT_TYPES},
    **{f"refund.{verb}": RefundEvent for verb in REFUND_EVENT_TYPES},
    "payment_receipt.created": PaymentReceiptEvent,
    "payment_receipt.generated": PaymentReceiptEvent,
    **{f"payment_request.{verb}": PaymentRequestEvent
       for verb in ("created", "payment_status_updated", "payment_failure")},
    "customer.payment_provider_created": CustomerPaymentProviderEvent,
    "customer.payment_provider_error": CustomerPaymentProviderEvent,
    "wallet_topup_payment.succeeded": WalletTopUpPaymentEvent,
    "wallet_topup_payment.failed": WalletTopUpPaymentEvent,
}
