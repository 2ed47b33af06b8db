"""Every ORM model of the invoicing service, imported so Alembic sees the whole schema."""

from invoicing.applied_coupons.models import AppliedCoupon
from invoicing.credit_notes.models import CreditNote, CreditNoteItem
from invoicing.credits.models import CustomerCredit, InvoiceCredit
from invoicing.db import PLATFORM_MODELS
from invoicing.documents.models import Document
from invoicing.invoices.models import (
    BillingCheckViolation,
    Fee,
    Invoice,
    InvoiceAppliedTax,
    InvoiceNumberCounter,
    InvoicingSettings,
)
from invoicing.late_usage.models import UsageRevision
from invoicing.prepaid_credits.models import WalletProjection
from invoicing.projections.models import (
    AddOnProjection,
    CouponProjection,
    CustomerProjection,
    PlanVersionProjection,
    TaxProjection,
)
from invoicing.unit_credits.models import UnitCreditGrantProjection

__all__ = [
    "PLATFORM_MODELS", "AddOnProjection", "AppliedCoupon", "BillingCheckViolation", "CouponProjection", "CreditNote",
    "CreditNoteItem", "Document",
    "CustomerCredit", "CustomerProjection", "Fee", "Invoice", "InvoiceAppliedTax", "InvoiceCredit",
    "InvoiceNumberCounter", "InvoicingSettings", "PlanVersionProjection", "TaxProjection", "UsageRevision",
    "UnitCreditGrantProjection", "WalletProjection",
]
