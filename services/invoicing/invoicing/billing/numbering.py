"""Invoice numbers.

    per organization: PREFIX-YYYYMM-NNNNN   (the organization's counter, never reset; YYYYMM of the issuing date)
    per billing entity: the same, with the entity's prefix and counter (its customers' invoices)
    per customer:     PREFIX-<customer sequential id>-NNN   (that customer's counter; the entity's prefix when
                      the customer belongs to one)

The counter is a row locked and incremented in the finalizing transaction (see `invoices.repository`):
the number exists exactly when the finalization commits.
"""

from __future__ import annotations

from datetime import date


def organization_number(prefix: str, issuing_date: date, sequence: int) -> str:
    return f"{prefix}-{issuing_date:%Y%m}-{sequence:05d}"


def customer_number(prefix: str, customer_slug: str, sequence: int) -> str:
    return f"{prefix}-{customer_slug}-{sequence:03d}"


def scope(document_numbering: str, customer_id: object, billing_entity_id: object | None = None) -> str:
    if document_numbering == "per_billing_entity" and billing_entity_id is not None:
        return f"billing_entity:{billing_entity_id}"
    return "organization" if document_numbering == "per_organization" else f"customer:{customer_id}"
