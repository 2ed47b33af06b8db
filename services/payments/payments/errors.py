"""Named domain errors of the payments service (Lago's codes where Lago has one)."""

from __future__ import annotations

from invora.customer_projection.service import CustomerNotFound as CustomerNotFound
from invora.errors import BadRequest, Conflict, MethodNotAllowed, NotFound, ServiceUnavailable, ValidationFailed


class WalletTransactionNotFound(NotFound):
    """No paid top-up payments was asked to collect has this id (in this organization)."""

    def __init__(self) -> None:
        super().__init__("wallet_transaction")


class InvoiceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("invoice")


class PaymentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("payment")


class PaymentReceiptNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("payment_receipt")


class PaymentRequestNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("payment_request")


class RefundNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("refund")


class PaymentProviderNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("payment_provider")


class PaymentMethodNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("payment_method")


class PaymentProviderCodeTaken(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(code=["value_already_exist"])


class PaymentProviderFieldsNotAccepted(ValidationFailed):
    """An update names a field the connection's provider does not take (Adyen's `hmac_key` on Stripe...)."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__({field: ["not_accepted_by_provider"] for field in fields})


class PaymentProviderInUse(MethodNotAllowed):
    code = "payment_provider_in_use"


class InvoiceNotPayable(MethodNotAllowed):
    """Lago answers a manual payment on a voided or draft invoice with 405 `invoice_not_payable`-like codes."""

    code = "invoice_not_payable"


class PaymentAmountExceedsDue(ValidationFailed):
    """Lago: `amount_cents: ["invalid_amount"]` for a payment above what the invoice still owes."""

    def __init__(self) -> None:
        super().__init__(amount_cents=["invalid_amount"])


class RefundExceedsPayment(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(amount_cents=["exceeds_refundable_amount"])


class PaymentNotRefundable(MethodNotAllowed):
    code = "payment_not_refundable"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class CustomerHasNoProvider(MethodNotAllowed):
    code = "missing_payment_provider"


class ProviderRefused(BadRequest):
    code = "payment_provider_error"


class ProviderUnavailable(ServiceUnavailable):
    code = "payment_provider_unavailable"


class NoLinkedPaymentProvider(ValidationFailed):
    """Lago: a payment or checkout URL for a customer without a payment provider."""

    def __init__(self) -> None:
        super().__init__(base=["no_linked_payment_provider"])


class InvoiceNotPayableByUrl(ValidationFailed):
    """A payment URL for an invoice that is not finalized or owes nothing."""

    def __init__(self) -> None:
        super().__init__(base=["invoice_not_payable"])


class InvoiceHasLiveCharge(ValidationFailed):
    """A payment URL while a charge of the invoice is under way (it could take the money twice)."""

    def __init__(self) -> None:
        super().__init__(base=["payment_in_progress"])


class WalletTransactionNotPayableByUrl(ValidationFailed):
    """A payment URL for a top-up that is paid, or failed, already."""

    def __init__(self) -> None:
        super().__init__(base=["wallet_transaction_not_payable"])


class WalletTransactionChargedOffSession(ValidationFailed):
    """A payment URL for a top-up payments charges off-session (only `payment_method_type: manual` top-ups have a
    page: a page beside an automatic charge could take the money twice)."""

    def __init__(self) -> None:
        super().__init__(base=["payment_in_progress"])


class PaymentRequestInvalidInvoices(ValidationFailed):
    """A payment request naming an invoice that is not the customer's, not finalized, already paid, or in another
    currency than the others."""

    def __init__(self, code: str) -> None:
        super().__init__(lago_invoice_ids=[code])
