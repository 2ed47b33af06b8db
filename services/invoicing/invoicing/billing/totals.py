"""The invoice's amounts, in Lago's order:

    fees_amount                      Σ fees
    − progressive_billing_credit     usage already invoiced this period by thresholds
    − coupons                        = sub_total_excluding_taxes
    + taxes                          = sub_total_including_taxes
    − credit_notes                   credit notes offset on this invoice
    − prepaid_credit                 wallets' prepaid credits (the wallets service; 0 until it settles them)
                                     = total_amount (never below 0)

What is still owed once the invoice is finalized (`due_cents`, Lago's `total_due_amount_cents`):
total_amount − what its payments paid − its credit notes' offsets, never below 0.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Totals:
    fees_amount_cents: int
    progressive_billing_credit_amount_cents: int
    coupons_amount_cents: int
    sub_total_excluding_taxes_amount_cents: int
    taxes_amount_cents: int
    sub_total_including_taxes_amount_cents: int
    credit_notes_amount_cents: int
    prepaid_credit_amount_cents: int
    total_amount_cents: int


def totals(*, fees: int, coupons: int, taxes: int, progressive_billing_credit: int = 0, credit_notes: int = 0,
           prepaid_credit: int = 0) -> Totals:
    progressive = min(progressive_billing_credit, fees)
    coupons = min(coupons, fees - progressive)
    excluding = fees - progressive - coupons
    including = excluding + taxes
    credit_notes = min(credit_notes, including)
    prepaid = min(prepaid_credit, including - credit_notes)
    return Totals(fees, progressive, coupons, excluding, taxes, including, credit_notes, prepaid,
                  including - credit_notes - prepaid)


def due_cents(*, total_cents: int, paid_cents: int, offset_cents: int, status: str, payment_status: str) -> int:
    """Nothing is due on a voided invoice, nor on one whose payment succeeded (a payment request's payment
    settles its invoices without a per-invoice amount invoicing could record as paid)."""
    if status == "voided" or payment_status == "succeeded":
        return 0
    return max(total_cents - paid_cents - offset_cents, 0)
