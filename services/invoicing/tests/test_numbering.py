"""Invoice numbers stay gapless and unique under concurrent finalizers that sometimes roll back."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from invoicing.invoices import lifecycle, repository

from .conftest import T0  # noqa: TID252

APR = datetime(2026, 4, 1, tzinfo=UTC)
LATER = datetime(2027, 1, 1, tzinfo=UTC)


class InjectedFailure(Exception):
    pass


async def test_eight_concurrent_finalizers_with_rollbacks_leave_no_gap_and_no_duplicate(world, inv, org, api):
    await world.organization(document_number_prefix="GAP")
    customer = await world.customer(invoice_grace_period=5)
    plan = await world.plan(1_000)
    drafts = 40
    for n in range(drafts):
        await world.close(world.subscription(customer, plan), T0, APR + timedelta(minutes=n))
    rng = random.Random(14)
    rollbacks = 0

    async def finalizer() -> None:
        nonlocal rollbacks
        while True:
            async with inv.database.sessionmaker() as session:
                [*found] = [i for i in await repository.due_drafts(session, LATER, 1) if i.organization_id == org]
                if not found:
                    await session.rollback()
                    return
                await lifecycle.finalize(session, found[0], LATER)
                await asyncio.sleep(0)  # let the others queue on the counter row
                if rng.random() < 0.1:  # a crash after the number was taken: the transaction rolls back
                    rollbacks += 1
                    await session.rollback()
                    continue
                await session.commit()

    await asyncio.gather(*(finalizer() for _ in range(8)))
    async with inv.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT status, sequential_id, number FROM invoices WHERE organization_id = :org"), {"org": org})).all()
        counter = (await session.execute(text(
            "SELECT last_number FROM invoice_number_counters WHERE organization_id = :org"), {"org": org})).scalar()
        events = (await session.execute(text(
            "SELECT count(*) FROM outbox_events WHERE event_type = 'invoice.finalized' "
            "AND envelope->>'organization_id' = :org"), {"org": str(org)})).scalar()
    assert rollbacks > 0
    assert {row.status for row in rows} == {"finalized"}
    assert sorted(row.sequential_id for row in rows) == list(range(1, drafts + 1))
    assert len({row.number for row in rows}) == drafts and counter == drafts and events == drafts
    assert all(row.number == f"GAP-202604-{row.sequential_id:05d}" for row in rows)


async def test_numbering_per_customer(world, api):
    await world.organization(document_numbering="per_customer")
    first = await world.customer(sequential_id=1)
    second = await world.customer(sequential_id=2)
    plan = await world.plan(1_000)
    for customer in (first, second, first):
        await world.close(world.subscription(customer, plan), T0, APR)
    numbers = sorted(i["number"] for i in (await api.ok("GET", "/api/v1/invoices"))["invoices"])
    assert numbers == ["INV-001-001", "INV-001-002", "INV-002-001"]
