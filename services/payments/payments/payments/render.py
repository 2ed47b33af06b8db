"""A payment row (joined with its invoice's number) as Lago's `PaymentObject`."""

from __future__ import annotations

from sqlalchemy.engine import RowMapping

from invora.events.contracts.payments import Payment, PaymentDispute, PaymentFailure


def render(row: RowMapping) -> Payment:
    failure = None
    if row["payment_status"] == "failed":
        failure = PaymentFailure(category=row["failure_category"] or "soft", code=row["failure_code"],
                                 message=row["failure_message"])
    if row["invoice_id"] is not None:
        invoice_ids = [row["invoice_id"]]
        invoice_numbers = [row["invoice_number"]] if row.get("invoice_number") else []
    else:  # a payment request's payment pays each of its invoices
        invoice_ids = list(row.get("request_invoice_ids") or [])
        invoice_numbers = list(row.get("request_invoice_numbers") or [])
    dispute = None
    if row.get("provider_dispute_id"):
        dispute = PaymentDispute(provider_dispute_id=row["provider_dispute_id"], status=row["dispute_status"],
                                 reason=row["dispute_reason"], opened_at=row["disputed_at"],
                                 lost_at=row["dispute_lost_at"])
    return Payment(
        lago_id=row["id"], lago_customer_id=row["customer_id"], external_customer_id=row["external_customer_id"],
        invoice_ids=invoice_ids, invoice_numbers=invoice_numbers,
        lago_payable_id=row["invoice_id"] or row["payment_request_id"],
        payable_type="Invoice" if row["invoice_id"] else "PaymentRequest", amount_cents=row["amount_cents"],
        amount_currency=row["currency"], status=row["provider_status"], payment_status=row["payment_status"],
        type=row["type"], reference=row["reference"], payment_provider_code=row["payment_provider_code"],
        payment_provider_type=row["payment_provider_type"],
        external_payment_id=row["provider_payment_id"], provider_payment_id=row["provider_payment_id"],
        provider_customer_id=row["provider_customer_id"], payment_method_id=row["payment_method_id"],
        next_action=row["next_action"] or {}, failure=failure, dispute=dispute, paid_at=row["paid_at"],
        created_at=row["created_at"],
    )
