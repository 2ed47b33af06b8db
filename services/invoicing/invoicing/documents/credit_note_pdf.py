"""A credit note's PDF, from the credit note as the API renders it (pure).

What it shows: issuer and customer; the note's number, the invoice it credits, issuing date, reason and
description; each item (the fee credited, its amount excluding taxes); the sub-total, the coupons' share
taken back, each tax rate on its base, the total; and where the total goes: credited to the customer's
balance, refunded, offset against the invoice.
"""

from __future__ import annotations

from invoicing.documents.invoice_pdf import fee_name
from invora.documents.layout import Column, DocumentWriter, Party, address_party, render_document
from invora.documents.money import format_money, format_rate
from invora.events.contracts.invoicing import CreditNote

REASONS = {"duplicated_charge": "Duplicated charge", "product_unsatisfactory": "Product unsatisfactory",
           "order_change": "Order change", "order_cancellation": "Order cancellation",
           "fraudulent_charge": "Fraudulent charge", "other": "Other"}
COLUMNS = (Column("Item", 70), Column("Amount excl. tax", 30, "R"))


def customer_party(note: CreditNote) -> Party:
    customer = note.customer
    if customer is None:
        return Party("Customer", ())
    name = customer.name or " ".join(p for p in (customer.firstname, customer.lastname) if p) or None
    return address_party("Customer", name=name, legal_name=customer.legal_name,
                         address_line1=customer.address_line1, address_line2=customer.address_line2,
                         zipcode=customer.zipcode, city=customer.city, state=customer.state,
                         country=customer.country, tax_identification_number=customer.tax_identification_number,
                         legal_number=customer.legal_number, email=customer.billing_email or customer.email,
                         fallback=customer.external_id)


def amount_lines(note: CreditNote) -> list[tuple[str, str, bool]]:
    def money(cents: int) -> str:
        return format_money(cents, note.currency)

    items_total = sum(item.amount_cents for item in note.items)
    lines: list[tuple[str, str, bool]] = [("Items", money(items_total), False)]
    if note.coupons_adjustment_amount_cents:
        lines.append(("Coupons' share", money(-note.coupons_adjustment_amount_cents), False))
    lines.append(("Sub total excl. taxes", money(note.sub_total_excluding_taxes_amount_cents), False))
    for tax in sorted(note.applied_taxes, key=lambda t: (-t.tax_rate, t.tax_code)):
        lines.append((f"{tax.tax_name} {format_rate(tax.tax_rate)} on {money(tax.base_amount_cents)}",
                      money(tax.amount_cents), False))
    if not note.applied_taxes:
        lines.append(("Taxes", money(note.taxes_amount_cents), False))
    lines.append(("Total credited", money(note.total_amount_cents), True))
    for label, cents in (("Credited to the customer's balance", note.credit_amount_cents),
                         ("Refunded", note.refund_amount_cents), ("Offset against the invoice",
                                                                   note.offset_amount_cents)):
        if cents:
            lines.append((label, money(cents), False))
    return lines


def render_credit_note_pdf(note: CreditNote, issuer: Party) -> bytes:
    def write(writer: DocumentWriter) -> None:
        writer.heading("Credit note", note.number, f"Credits invoice {note.invoice_number}")
        writer.parties(issuer, customer_party(note))
        writer.facts([
            ("Credit note number", note.number), ("Invoice", note.invoice_number),
            ("Issuing date", note.issuing_date.isoformat()), ("Currency", note.currency),
            ("Reason", REASONS.get(note.reason, note.reason)),
            ("Customer ID", note.customer.external_id if note.customer else ""),
        ])
        if note.description:
            writer.note(note.description)
        writer.table(COLUMNS, [[fee_name(item.fee), format_money(item.amount_cents, note.currency)]
                               for item in note.items])
        writer.totals(amount_lines(note))
        if note.credit_status == "voided":
            writer.note("Voided: what was left of its credit was removed.")

    parts = (f"Credit note {note.number}", issuer.lines[0] if issuer.lines else "")
    return render_document(write, title=f"Credit note {note.number}", created_at=note.created_at,
                           footer=" · ".join(p for p in parts if p))
