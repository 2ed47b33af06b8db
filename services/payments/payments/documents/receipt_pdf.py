"""A payment receipt's PDF, from the receipt as the API renders it (pure).

What it shows: the customer who paid (name, e-mail, external id: what payments knows of it), the receipt's
number, the payment's date, amount and currency, how it was paid (the provider and its payment method or
payment id, or a manual payment and its reference), and the invoices it paid. Payments keeps no copy of the
organization's name and address, so a receipt names no issuer (docs/payments.md).
"""

from __future__ import annotations

from invora.documents.layout import Column, DocumentWriter, Party, address_party, render_document
from invora.documents.money import format_money
from invora.events.contracts.payments import Payment, PaymentReceipt

PROVIDERS = {"stripe": "Stripe", "paystack": "Paystack", "flutterwave": "Flutterwave", "adyen": "Adyen",
             "gocardless": "GoCardless", "cashfree": "Cashfree", "tap": "Tap", "moneyhash": "MoneyHash"}


def method(payment: Payment) -> str:
    if payment.type == "manual" or payment.payment_provider_type in (None, "manual"):
        return "Manual payment" + (f" (reference {payment.reference})" if payment.reference else "")
    provider = PROVIDERS.get(payment.payment_provider_type or "", payment.payment_provider_type or "")
    detail = payment.payment_method_id or payment.provider_payment_id
    return f"{provider} ({detail})" if detail else provider


def render_receipt_pdf(receipt: PaymentReceipt, customer: Party) -> bytes:
    payment = receipt.payment
    paid_at = payment.paid_at or receipt.created_at
    amount = format_money(payment.amount_cents, payment.amount_currency)

    def write(writer: DocumentWriter) -> None:
        writer.heading("Payment receipt", receipt.number, f"Received {amount}")
        writer.parties(customer)
        writer.facts([
            ("Receipt number", receipt.number), ("Payment date", paid_at.date().isoformat()),
            ("Amount paid", amount), ("Currency", payment.amount_currency), ("Payment method", method(payment)),
            ("Customer ID", payment.external_customer_id),
        ], columns=1)
        numbers = payment.invoice_numbers or [""] * len(payment.invoice_ids)
        writer.table((Column("Invoice paid", 40), Column("Invoice ID", 60)),
                     [[number or "—", str(invoice_id)] for number, invoice_id in zip(numbers, payment.invoice_ids,
                                                                                      strict=False)])
        writer.totals([("Amount paid", amount, True)])

    return render_document(write, title=f"Payment receipt {receipt.number}", created_at=receipt.created_at,
                           footer=f"Payment receipt {receipt.number}")


def customer_party(row) -> Party:
    if row is None:
        return Party("Received from", ())
    return address_party("Received from", name=row["name"], email=row.get("email"), fallback=row["external_id"])
