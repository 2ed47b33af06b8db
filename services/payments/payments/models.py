"""Every ORM model of the payments service, imported so Alembic sees the whole schema."""

from payments.customers.models import Customer, ProviderCustomer
from payments.db import PLATFORM_MODELS
from payments.documents.models import Document
from payments.invoices.models import Invoice
from payments.payment_providers.models import PaymentProvider
from payments.payment_receipts.models import PaymentReceipt, PaymentReceiptCounter
from payments.payment_requests.models import PaymentRequest, PaymentRequestInvoice
from payments.payments.models import Payment
from payments.refunds.models import AuditEntry, Refund
from payments.wallet_topups.models import WalletTopUpCharge

__all__ = ["PLATFORM_MODELS", "AuditEntry", "Customer", "Document", "Invoice", "Payment", "PaymentProvider",
           "PaymentReceipt",
           "PaymentReceiptCounter", "PaymentRequest", "PaymentRequestInvoice", "ProviderCustomer", "Refund",
           "WalletTopUpCharge"]
