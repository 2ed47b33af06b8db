"""Documents: invoice PDFs rendered per second (one process, pure rendering: no database).

Renders `--count` invoices of `--fees` fee lines each (issuer and customer with addresses, a coupon, a tax,
prepaid credits), twice: customers with Western names (Windows-1252 text: the PDF's built-in font) and with a
Cyrillic name (the bundled DejaVu Sans, embedded and subset). Prints one JSON object: the machine, the
parameters, documents per second (median of `--runs`), ms per document, and the average size.

    uv run python bench/documents.py                # 200 invoices x 20 fees, 3 runs
    uv run python bench/documents.py --count 50 --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import uuid
from datetime import UTC, datetime

from invoicing.documents.invoice_pdf import render_invoice_pdf
from invora.documents.layout import address_party
from invora.events.contracts.invoicing import Invoice

NOW = datetime(2026, 3, 31, tzinfo=UTC).isoformat()


def fee(index: int) -> dict:
    amount = 1_000 * index + 7
    return {
        "lago_id": str(uuid.uuid4()), "amount_cents": amount, "precise_amount": str(amount / 100),
        "precise_total_amount": str(amount / 100), "amount_currency": "EUR", "taxes_amount_cents": amount // 5,
        "taxes_precise_amount": "0", "taxes_rate": 20.0, "units": f"{index * 1.5}", "precise_unit_amount": "0.0125",
        "total_aggregated_units": "1", "total_amount_cents": amount, "total_amount_currency": "EUR",
        "pay_in_advance": False, "invoiceable": True, "payment_status": "pending", "created_at": NOW,
        "precise_coupons_amount_cents": "0", "sub_total_excluding_taxes_amount_cents": amount,
        "sub_total_excluding_taxes_precise_amount_cents": str(amount), "from_date": NOW, "to_date": NOW,
        "item": {"type": "charge", "code": f"metric_{index}", "name": f"API calls tier {index}",
                 "item_type": "BillableMetric",
                 "filter_invoice_display_name": "region: eu-west" if index % 3 == 0 else None}}


def invoice(fees: int, customer_name: str) -> Invoice:
    lines = [fee(i) for i in range(1, fees + 1)]
    fees_cents = sum(f["amount_cents"] for f in lines)
    taxes = (fees_cents - 500) // 5
    return Invoice.model_validate({
        "lago_id": str(uuid.uuid4()), "number": "ACME-202603-00042", "issuing_date": "2026-03-31",
        "payment_due_date": "2026-04-30", "payment_overdue": False, "net_payment_term": 30,
        "invoice_type": "subscription", "status": "finalized", "payment_status": "pending", "currency": "EUR",
        "fees_amount_cents": fees_cents, "coupons_amount_cents": 500, "credit_notes_amount_cents": 0,
        "sub_total_excluding_taxes_amount_cents": fees_cents - 500, "taxes_amount_cents": taxes,
        "sub_total_including_taxes_amount_cents": fees_cents - 500 + taxes, "prepaid_credit_amount_cents": 1_000,
        "progressive_billing_credit_amount_cents": 0, "total_amount_cents": fees_cents - 1_500 + taxes,
        "total_due_amount_cents": fees_cents - 1_500 + taxes, "version_number": 4, "created_at": NOW,
        "updated_at": NOW, "finalized_at": NOW, "billing_period_start": NOW, "billing_period_end": NOW,
        "external_subscription_id": "sub_123",
        "customer": {"lago_id": str(uuid.uuid4()), "sequential_id": 1, "slug": "CUS-1", "external_id": "cus_42",
                     "name": customer_name, "address_line1": "7 Main Street", "city": "Springfield",
                     "zipcode": "12345", "country": "US", "tax_identification_number": "US-77",
                     "applicable_timezone": "UTC", "account_type": "customer",
                     "finalize_zero_amount_invoice": "inherit", "skip_invoice_custom_sections": False,
                     "billing_configuration": {}, "shipping_address": {}, "created_at": NOW, "updated_at": NOW},
        "applied_taxes": [{"lago_id": str(uuid.uuid4()), "tax_name": "VAT", "tax_code": "vat20", "tax_rate": 20.0,
                           "amount_cents": taxes, "amount_currency": "EUR", "created_at": NOW,
                           "lago_invoice_id": str(uuid.uuid4()), "fees_amount_cents": fees_cents - 500}],
        "credits": [{"lago_id": str(uuid.uuid4()), "amount_cents": 500, "amount_currency": "EUR",
                     "item": {"type": "coupon", "name": "Welcome"}, "invoice": {}}],
        "fees": lines})


def run(count: int, fees: int, customer_name: str) -> tuple[float, int]:
    issuer = address_party("From", name="Acme SAS", legal_name="Acme Software SAS", address_line1="1 rue de Rivoli",
                           zipcode="75001", city="Paris", country="FR", tax_identification_number="FR123")
    invoices = [invoice(fees, customer_name) for _ in range(count)]
    started = time.perf_counter()
    size = sum(len(render_invoice_pdf(item, issuer)) for item in invoices)
    return count / (time.perf_counter() - started), size // count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="invoices rendered per run")
    parser.add_argument("--fees", type=int, default=20, help="fee lines per invoice")
    parser.add_argument("--runs", type=int, default=3, help="runs per case (the median is reported)")
    args = parser.parse_args()
    results = {}
    for case, name in (("western_builtin_font", "Springfield Hardware Inc."),
                       ("cyrillic_embedded_font", "Ёлка Сервис ООО")):
        runs = [run(args.count, args.fees, name) for _ in range(args.runs)]
        per_second = statistics.median(rate for rate, _ in runs)
        results[case] = {"docs_per_second": round(per_second, 1), "ms_per_doc": round(1000 / per_second, 2),
                         "bytes_per_doc": runs[0][1], "runs": [round(rate, 1) for rate, _ in runs]}
    print(json.dumps({
        "benchmark": "documents",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
        "params": {"count": args.count, "fees": args.fees, "runs": args.runs},
        "results": results}, indent=2))


if __name__ == "__main__":
    main()
