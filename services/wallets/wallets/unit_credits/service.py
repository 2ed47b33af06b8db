"""Unit credits (seed 002): grant a customer units of a metric, consume them for an invoice, give them back.

Every change is one movement of balanced entries in `unit_credit_entries` (a grant leg per grant and
one counter-account leg), written in the caller's transaction; nothing here commits.

- **grant**: `+units` into the new grant, `granted −units`;
- **consume** (an invoice's units of a metric, before pricing): the live grants locked (id order), taken
  in `order.py`'s order, never more than asked nor than held; idempotent per (invoice, metric): the
  first call records the answer, a repeated call returns it and moves nothing;
- **release** (the invoice was voided): what the invoice still holds goes back into each grant still
  active and unexpired, once; the rest is lost (expired units never come back);
- **void** (with a reason) / **expiry**: what is left of a grant is removed (never what was consumed).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.wallets import UnitCredit, UnitCreditEvent
from invora.ids import uuid7
from invora.web.pagination import PageParams, PaginationMeta
from wallets.errors import UnitCreditNotFound, UnitCreditNotVoidable
from wallets.events import publish
from wallets.unit_credits import repository
from wallets.unit_credits.order import Grant, allocate, total

QUANTUM = Decimal("0.00001")


@dataclass(frozen=True)
class Released:
    released_units: Decimal
    lost_units: Decimal


async def _announce(session: AsyncSession, row: RowMapping, verb: str) -> None:
    """`wallet.unit_credit_<verb>` (internal): invoicing projects who holds unit grants from it."""
    await publish(session, row["organization_id"], f"wallet.unit_credit_{verb}", row["id"], UnitCreditEvent(
        unit_credit=UnitCredit(lago_id=row["id"], lago_customer_id=row["customer_id"],
                               external_customer_id=row["external_customer_id"],
                               billable_metric_code=row["billable_metric_code"], units=str(row["units"]),
                               remaining_units=str(row["remaining_units"]), status=row["status"],
                               expiration_at=row["expiration_at"])))


def _legs(organization_id: uuid.UUID, movement_id: uuid.UUID, kind: str, counter: str,
          legs: list[tuple[uuid.UUID, Decimal]], now: datetime, invoice_id: uuid.UUID | None = None) -> list[dict]:
    base = {"organization_id": organization_id, "movement_id": movement_id, "kind": kind, "invoice_id": invoice_id,
            "created_at": now}
    rows = [{**base, "account": "grant", "grant_id": grant_id, "units": units} for grant_id, units in legs]
    rows.append({**base, "account": counter, "grant_id": None, "units": -sum((u for _, u in legs), Decimal(0))})
    return rows


async def grant(session: AsyncSession, customer: RowMapping, *, metric_code: str, units: Decimal, reason: str,
                now: datetime, priority: int = 50, expiration_at: datetime | None = None,
                actor: str | None = None) -> RowMapping:
    grant_id = uuid7()
    await repository.insert_grant(session, {
        "id": grant_id, "organization_id": customer["organization_id"], "customer_id": customer["id"],
        "external_customer_id": customer["external_id"], "billable_metric_code": metric_code, "units": units,
        "priority": priority, "expiration_at": expiration_at, "reason": reason, "actor": actor, "created_at": now})
    await repository.insert_entries(session, _legs(customer["organization_id"], grant_id, "grant", "granted",
                                                   [(grant_id, units)], now))
    row = await repository.grant_by_id(session, customer["organization_id"], grant_id)
    assert row is not None
    await _announce(session, row, "created")
    return row


def _grants(rows: list[RowMapping]) -> list[Grant]:
    return [Grant(id=r["id"], priority=r["priority"], expiration_at=r["expiration_at"], created_at=r["created_at"],
                  remaining=r["remaining_units"]) for r in rows]


async def consume(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                  invoice_id: uuid.UUID, metric_code: str, units: Decimal, now: datetime) -> Decimal:
    """The units of `metric_code` the customer's grants cover for this invoice (at most `units`), once."""
    units = max(units.quantize(QUANTUM), Decimal(0))
    if not await repository.claim_application(session, organization_id, invoice_id, metric_code, units, now):
        recorded = await repository.application(session, organization_id, invoice_id, metric_code)
        assert recorded is not None
        return recorded.applied_units if recorded.released_at is None else Decimal(0)
    taken = allocate(units, _grants(await repository.lock_live_grants(session, organization_id, customer_id,
                                                                     metric_code, now)))
    applied = total(taken)
    if taken:
        await repository.insert_entries(session, _legs(organization_id, uuid7(), "consumption", "consumed",
                                                       [(g.id, -u) for g, u in taken], now, invoice_id))
    recorded = await repository.application(session, organization_id, invoice_id, metric_code, lock=True)
    recorded.applied_units = applied
    await session.flush()
    return applied


async def release(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID,
                  now: datetime) -> dict[str, Released]:
    """Give back what the invoice holds, per metric, once (a second call releases nothing more)."""
    results: dict[str, Released] = {}
    for application in await repository.applications_of_invoice(session, organization_id, invoice_id):
        if application.released_at is not None:
            results[application.billable_metric_code] = Released(Decimal(0), Decimal(0))
            continue
        back: list[tuple[uuid.UUID, Decimal]] = []
        lost = Decimal(0)
        for held in await repository.consumed_per_grant(session, organization_id, invoice_id,
                                                        application.billable_metric_code):
            row = await repository.grant_by_id(session, organization_id, held["grant_id"], lock=True)
            alive = row["status"] == "active" and (row["expiration_at"] is None or row["expiration_at"] > now)
            if alive:
                back.append((row["id"], held["units"]))
            else:
                lost += held["units"]
        if back:
            await repository.insert_entries(session, _legs(organization_id, uuid7(), "reversal", "consumed", back,
                                                           now, invoice_id))
        released = sum((u for _, u in back), Decimal(0))
        application.released_units, application.released_at = released, now
        results[application.billable_metric_code] = Released(released, lost)
    await session.flush()
    return results


async def page(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID, metric_code: str | None,
               status: str | None, params: PageParams) -> tuple[list[RowMapping], PaginationMeta]:
    return await repository.page_grants(session, repository.grants_of(organization_id, customer_id, metric_code,
                                                                      status), params)


async def _remove_rest(session: AsyncSession, row: RowMapping, *, status: str, reason: str | None,
                       now: datetime) -> RowMapping:
    kind, counter = ("void", "voided") if status == "voided" else ("expiry", "expired")
    if row["remaining_units"] > 0:
        await repository.insert_entries(session, _legs(row["organization_id"], uuid7(), kind, counter,
                                                       [(row["id"], -row["remaining_units"])], now))
    ended = await repository.end_grant(session, row["id"], status, reason, now)
    await _announce(session, ended, status)
    return ended


async def void(session: AsyncSession, organization_id: uuid.UUID, grant_id: uuid.UUID | None, reason: str,
               now: datetime) -> RowMapping:
    row = await repository.grant_by_id(session, organization_id, grant_id, lock=True) if grant_id else None
    if row is None:
        raise UnitCreditNotFound()
    if row["status"] != "active":
        raise UnitCreditNotVoidable(f"the grant is {row['status']}")
    return await _remove_rest(session, row, status="voided", reason=reason, now=now)


async def expire_due(session: AsyncSession, now: datetime, limit: int = 200) -> int:
    """Grants past their expiry lose what is left (the expiry loop's pass); how many."""
    due = await repository.expiring(session, now, limit)
    for item in due:
        row = await repository.grant_by_id(session, item["organization_id"], item["id"], lock=True)
        await _remove_rest(session, row, status="expired", reason="expired", now=now)
    return len(due)
