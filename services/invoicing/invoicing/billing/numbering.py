"""Invoice numbers.

    per organization: PREFIX-YYYYMM-NNNNN   (the organization's counter, never reset; YYYYMM of the issuing date)
    per customer:     PREFIX-<customer sequential id>-NNN   (that customer's counter)

The counter is a row locked and incremented in the finalizing transaction (see `invoices.repository`):
the number exists exactly when the finalization commits.
"""

from __future__ import annotations

from datetime import date


def organization_number(prefix: str, issuing_date: date, sequence: int) -> str:
    return f"{prefix}-{issuing_date:%Y%m}-{sequence:05d}"


def customer_number(prefix: str, customer_slug: str, sequence: int) -> str:
    return f"{prefix}-{customer_slug}-{sequence:03d}"


def scope(document_numbering: str, customer_id: object) -> str:
    return "organization" if document_numbering == "per_organization" else f"customer:{customer_id}"
