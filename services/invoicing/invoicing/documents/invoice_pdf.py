"""An invoice's PDF, from the invoice as the API renders it (pure: no database, no clock).

What it shows: the issuer (billing entity, else organization: name, legal name, address, tax id) and the
customer (name, legal name, address, tax id, e-mail); number, issuing and due dates, billing period; each fee
(name and filter, its period, units, unit price, tax rate, amount); then the amounts in the invoice's own
order — fees, progressive-billing deductions, each coupon, sub-total excluding taxes, each tax rate on its base,
sub-total including taxes, credit notes and credits, prepaid credits, total, paid, amount due. Every amount
is the invoice's integer minor units formatted by the currency's exponent (`invora.documents.money`).
"""

from __future__ import annotations

from datetime import date, datetime

from invora.documents.layout import Column, DocumentWriter, Party, address_party, render_document
from invora.documents.money import format_decimal, format_money, format_rate, format_unit_price
from invora.events.contracts.invoicing import Fee, Invoice

TYPE_TITLES = {"subscription": "Subscription invoice", "add_on": "One-off invoice", "one_off": "One-off invoice",
               "credit": "Prepaid credits invoice", "progressive_billing": "Progressive billing invoice",
               "advance_charges": "Invoice of charges paid in advance"}
COLUMNS = (Column("Item", 44), Column("Units", 12, "R"), Column("Unit price", 16, "R"), Column("Tax", 9, "R"),
           Column("Amount excl. tax", 19, "R"))


def customer_party(invoice: Invoice, heading: str = "Bill to") -> Party:
    customer = invoice.customer
    if customer is None:
        return Party(heading, ())
    name = customer.name or " ".join(p for p in (customer.firstname, customer.lastname) if p) or None
    return address_party(heading, name=name, legal_name=customer.legal_name, address_line1=customer.address_line1,
                         address_line2=customer.address_line2, zipcode=customer.zipcode, city=customer.city,
                         state=customer.state, country=customer.country,
                         tax_identification_number=customer.tax_identification_number,
                         legal_number=customer.legal_number, email=customer.billing_email or customer.email,
                         fallback=customer.external_id)


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def _period(start: datetime | None, end: datetime | None) -> str:
    return f"{_day(start)} – {_day(end)}" if start and end else ""


def fee_name(fee: Fee) -> str:
    item = fee.item
    name = item.invoice_display_name or item.name
    if item.filter_invoice_display_name:
        name = f"{name} — {item.filter_invoice_display_name}"
    elif item.grouped_by:
        name = f"{name} — " + ", ".join(f"{k}: {v}" for k, v in sorted(item.grouped_by.items()))
    return name


def fee_row(fee: Fee, currency: str) -> list[str]:
    name = fee_name(fee)
    period = _period(fee.from_date, fee.to_date)
    details = [line for line in (fee.description, period) if line]
    return [name + ("\n" + "\n".join(details) if details else ""), format_decimal(fee.units),
            format_unit_price(fee.precise_unit_amount, currency), format_rate(fee.taxes_rate),
            format_money(fee.amount_cents, currency)]


def amount_lines(invoice: Invoice) -> list[tuple[str, str, bool]]:
    currency = invoice.currency

    def money(cents: int) -> str:
        return format_money(cents, currency)

    lines: list[tuple[str, str, bool]] = [("Fees", money(invoice.fees_amount_cents), False)]
    if invoice.progressive_billing_credit_amount_cents:
        lines.append(("Progressive billing already invoiced", money(-invoice.progressive_billing_credit_amount_cents),
                      False))
    for credit in invoice.credits:
        if credit.item.get("type") == "coupon":
            lines.append((f"Coupon {credit.item.get('name') or credit.item.get('code') or ''}".strip(),
                          money(-credit.amount_cents), False))
    lines.append(("Sub total excl. taxes", money(invoice.sub_total_excluding_taxes_amount_cents), False))
    for tax in sorted(invoice.applied_taxes, key=lambda t: (-t.tax_rate, t.tax_code)):
        lines.append((f"{tax.tax_name} {format_rate(tax.tax_rate)} on {money(tax.fees_amount_cents)}",
                      money(tax.amount_cents), False))
    if not invoice.applied_taxes:
        lines.append(("Taxes", money(invoice.taxes_amount_cents), False))
    lines.append(("Sub total incl. taxes", money(invoice.sub_total_including_taxes_amount_cents), False))
    if invoice.credit_notes_amount_cents:
        lines.append(("Credit notes and credits", money(-invoice.credit_notes_amount_cents), False))
    if invoice.prepaid_credit_amount_cents:
        lines.append(("Prepaid credits", money(-invoice.prepaid_credit_amount_cents), False))
    lines.append(("Total", money(invoice.total_amount_cents), True))
    if invoice.total_paid_amount_cents:
        lines.append(("Paid", money(-invoice.total_paid_amount_cents), False))
    lines.append(("Amount due", money(invoice.total_due_amount_cents), True))
    return lines


def render_invoice_pdf(invoice: Invoice, issuer: Party, *, invoice_footer: str | None = None) -> bytes:
    """`invoice_footer`: the issuer's text printed under the amounts (Lago's `invoice_footer`)."""
    def write(writer: DocumentWriter) -> None:
        writer.heading("Invoice" if invoice.status != "voided" else "Invoice (voided)", invoice.number,
                       TYPE_TITLES.get(invoice.invoice_type))
        writer.parties(issuer, customer_party(invoice))
        customer = invoice.customer
        writer.facts([
            ("Invoice number", invoice.number), ("Issuing date", _day(invoice.issuing_date)),
            ("Payment due date", _day(invoice.payment_due_date)),
            ("Billing period", _period(invoice.billing_period_start, invoice.billing_period_end)),
            ("Currency", invoice.currency), ("Customer ID", customer.external_id if customer else ""),
            ("Subscription", invoice.external_subscription_id or ""),
            ("Purchase order", (customer.purchase_order_number or "") if customer else ""),
        ])
        writer.table(COLUMNS, [fee_row(fee, invoice.currency) for fee in invoice.fees])
        writer.totals(amount_lines(invoice))
        if invoice.payment_status == "succeeded":
            writer.note("Paid.")
        if invoice_footer:
            writer.note(invoice_footer)

    parts = (f"Invoice {invoice.number}", issuer.lines[0] if issuer.lines else "")
    return render_document(write, title=f"Invoice {invoice.number}",
                           created_at=invoice.finalized_at or invoice.created_at,
                           footer=" · ".join(part for part in parts if part))
