"""Invoice numbers stay gapless and unique under concurrent finalizers that sometimes roll back."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from invoicing.invoices import lifecycle, repository
from invoicing.invoices.consumer import on_subscription_events

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


async def test_concurrent_billing_run_batches_with_rollbacks_number_gapless_at_their_end(world, inv, org):
    """The period consumer numbers a batch's invoices at its end (one counter update for all of them): 8
    batches of one organization racing, 10 % rolled back after numbering and handled again, leave the
    numbers 1..n, each once, in each batch's event order, and every event carries its invoice's number."""
    await world.organization(document_number_prefix="RUN")
    customers = [await world.customer(sequential_id=n + 1) for n in range(4)]
    plan = await world.plan(1_000)
    closes = [world.period_ended(world.subscription(customers[n % 4], plan), T0, APR) for n in range(60)]
    queue: asyncio.Queue[list] = asyncio.Queue()
    for start in range(0, len(closes), 5):
        queue.put_nowait(closes[start:start + 5])
    rng = random.Random(2)  # two of the first twelve batches roll back
    rollbacks = 0

    async def consumer() -> None:
        nonlocal rollbacks
        while not queue.empty():
            batch = queue.get_nowait()
            async with inv.database.sessionmaker() as session:
                await on_subscription_events(session, batch)
                await asyncio.sleep(0)  # the others run their batches and queue on the counter row
                if rng.random() < 0.1:  # a crash after the numbers were taken: nothing of the batch stays
                    rollbacks += 1
                    await session.rollback()
                    queue.put_nowait(batch)
                    continue
                await session.commit()

    await asyncio.gather(*(consumer() for _ in range(8)))
    async with inv.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT id, status, sequential_id, number, subscription_id FROM invoices WHERE organization_id = :org"),
            {"org": org})).all()
        counter = (await session.execute(text(
            "SELECT last_number FROM invoice_number_counters WHERE organization_id = :org"), {"org": org})).scalar()
        sent = (await session.execute(text(
            "SELECT envelope->'data'->'invoice' FROM outbox_events WHERE event_type = 'invoice.finalized' "
            "AND envelope->>'organization_id' = :org"), {"org": str(org)})).scalars().all()
    assert rollbacks > 0
    assert len(rows) == len(closes) and {row.status for row in rows} == {"finalized"}
    assert sorted(row.sequential_id for row in rows) == list(range(1, len(closes) + 1)) and counter == len(closes)
    assert all(row.number == f"RUN-202604-{row.sequential_id:05d}" for row in rows)
    by_id = {str(row.id): row for row in rows}
    assert sorted(event["lago_id"] for event in sent) == sorted(by_id)  # one event each, none of a rolled-back try
    assert all(event["number"] == by_id[event["lago_id"]].number and event["status"] == "finalized"
               and event["sequential_id"] == by_id[event["lago_id"]].sequential_id for event in sent)
    # within a batch the numbers follow the events' order (a batch's five closes got consecutive numbers)
    by_subscription = {str(row.subscription_id): row.sequential_id for row in rows}
    for start in range(0, len(closes), 5):
        numbers = [by_subscription[c.data["subscription"]["lago_id"]] for c in closes[start:start + 5]]
        assert numbers == list(range(numbers[0], numbers[0] + 5)), numbers


async def test_a_batch_numbers_per_customer_scopes_together(world, api):
    """Per-customer numbering in one batch: each customer's counter moves by its own invoices."""
    await world.organization(document_numbering="per_customer")
    first = await world.customer(sequential_id=1)
    second = await world.customer(sequential_id=2)
    plan = await world.plan(1_000)
    await world.close(world.subscription(first, plan), T0, APR)  # numbered at once, before the batch
    batch = [world.period_ended(world.subscription(customer, plan), T0, APR) for customer in (second, first, second)]
    async with world.inv.database.sessionmaker() as session:
        await on_subscription_events(session, batch)
        await session.commit()
    numbers = sorted(i["number"] for i in (await api.ok("GET", "/api/v1/invoices"))["invoices"])
    assert numbers == ["INV-001-001", "INV-001-002", "INV-002-001", "INV-002-002"]


async def test_numbering_per_customer(world, api):
    await world.organization(document_numbering="per_customer")
    first = await world.customer(sequential_id=1)
    second = await world.customer(sequential_id=2)
    plan = await world.plan(1_000)
    for customer in (first, second, first):
        await world.close(world.subscription(customer, plan), T0, APR)
    numbers = sorted(i["number"] for i in (await api.ok("GET", "/api/v1/invoices"))["invoices"])
    assert numbers == ["INV-001-001", "INV-001-002", "INV-002-001"]
