"""The charger's claim: due attempts leased, and the usual first attempts taken in the same transaction.

The usual attempt (never called, paying one invoice, its customer already known at the provider: an
invoice just finalized) goes through the charger's steps 1 and 3 in its claim's transaction, for the
whole claim at once: the attempts are locked by the claim, their invoices locked and re-read (voided or
paid: the attempt is canceled; partly paid: the amount is lowered), and `calls + 1` written while the
lease is held; the claim commits, and only then is each taken attempt called. These are the checks
`charger.charge_one` makes for one attempt, in one statement per kind for the whole claim instead of a
transaction per attempt. Anything else (a retry, a payment request, a customer to create at the
provider) is handed back as its claimed row, for `charger.charge_one`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from payments.customers import repository as customers_repository
from payments.invoices import repository as invoices_repository
from payments.payment_providers import service as providers
from payments.payments import lifecycle, repository


@dataclass(frozen=True)
class Taken:
    """A first attempt whose `calls + 1` is committed: to be called now."""

    payment: RowMapping
    lease_until: datetime
    connection: dict[str, Any]
    amount_cents: int
    provider_customer_id: str
    description: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class Canceled:
    """An attempt canceled in its claim's transaction (its invoice voided or paid meanwhile)."""

    payment: RowMapping


Claimed = RowMapping | Taken | Canceled


def payment_id(item: Claimed) -> uuid.UUID:
    return item["id"] if isinstance(item, RowMapping) else item.payment["id"]


def cancel_reason(invoice: RowMapping, due: int) -> str | None:
    if invoice["status"] == "finalized" and due > 0:
        return None
    return "invoice_not_payable" if due > 0 else "invoice_paid"


async def claim(session: AsyncSession, now: datetime, lease_until: datetime, limit: int, *,
                provider_limits: Mapping[str, int] | None = None) -> list[Claimed]:
    """`limit` due attempts at most, each connection's within its `provider_limits` (calls in flight by provider
    type, across processes: `repository.claim_due`)."""
    rows = await repository.claim_due(session, now, lease_until, limit, provider_limits)
    usual = {row["id"]: row for row in rows
             if row["calls"] == 0 and row["payment_request_id"] is None and row["invoice_id"] is not None}
    if not usual:
        return list(rows)
    invoice_ids = sorted({row["invoice_id"] for row in usual.values()})
    invoices = await invoices_repository.lock_many(session, invoice_ids)
    paid = await invoices_repository.paid_cents_many(session, invoice_ids)
    connections = await providers.connections(session, usual.values())
    links = await customers_repository.links(session, {(row["customer_id"], row["payment_provider_id"])
                                                       for row in usual.values() if not row["provider_customer_id"]})
    items: list[Claimed] = []
    calls: list[tuple[uuid.UUID, int, str]] = []
    for row in rows:
        invoice = invoices.get(row["invoice_id"]) if row["id"] in usual else None
        connection = connections.get((row["organization_id"], row["payment_provider_id"]))
        if invoice is None or invoice["organization_id"] != row["organization_id"] or connection is None:
            items.append(row)  # not the usual case: the long way
            continue
        due = invoice["total_amount_cents"] - paid[invoice["id"]]
        reason = cancel_reason(invoice, due)
        if reason is not None:
            await lifecycle.cancel(session, row, reason=reason)
            items.append(Canceled(row))
            continue
        link = links.get((row["customer_id"], row["payment_provider_id"]))
        known = row["provider_customer_id"] or (link["provider_customer_id"] if link else None)
        if not known:
            items.append(row)
            continue
        amount = min(row["amount_cents"], due)
        calls.append((row["id"], amount, known))
        items.append(Taken(payment=row, lease_until=lease_until, connection=connection, amount_cents=amount,
                           provider_customer_id=known, description=f"Invoice {invoice['number'] or invoice['id']}",
                           metadata={"invora_invoice_id": str(invoice["id"])}))
    taken = await repository.mark_called_many(session, lease_until, calls)
    # every attempt here is locked by this transaction's claim, so each is taken; one that somehow was not
    # goes the long way (which finds whether its lease still holds)
    return [item.payment if isinstance(item, Taken) and item.payment["id"] not in taken else item
            for item in items]
