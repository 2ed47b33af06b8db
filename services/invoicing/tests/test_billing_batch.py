"""A billing run's batch: the reads every invoice repeats are made once per batch, and that saving changes
no outcome (parked customers, applied taxes in the events, numbers)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, text

from invoicing.invoices.consumer import on_subscription_events

from .conftest import T0, charge, charge_usage  # noqa: TID252

APR = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)
JUN = datetime(2026, 6, 1, tzinfo=UTC)


async def test_a_batch_reads_once_and_keeps_every_rule(world, api, inv, org):
    await world.tax("vat20", "20")
    await world.tax("org10", "10", applied_to_organization=True)
    calls = charge("api_calls", properties={"amount": "0.5"})
    plan = await world.plan(1_000, charges=[calls])
    customers = [await world.customer(f"cus_b{n}", tax_codes=["vat20"] if n % 2 else []) for n in range(12)]
    subscriptions = [world.subscription(c, plan) for c in customers]
    events = [world.period_ended(s, T0, APR, usage=[charge_usage(calls, "10")]) for s in subscriptions]
    # the first customer's May closes while April was never billed: a gap, found in this batch, parks the
    # customer, and its later invoice in the same batch must see that (not a remembered "not parked")
    gap = world.period_ended(subscriptions[0], MAY, JUN, usage=[charge_usage(calls, "10")])
    later = world.period_ended(world.subscription(customers[0], plan), T0, APR, usage=[charge_usage(calls, "10")])
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(inv.database.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with inv.database.sessionmaker() as session:
            await on_subscription_events(session, [gap, *events, later])
            await session.commit()
    finally:
        event.remove(inv.database.engine.sync_engine, "before_cursor_execute", count)

    found = (await api.ok("GET", "/api/v1/invoices", params={"per_page": 100}))["invoices"]
    by_status: dict[str, int] = {}
    for invoice in found:
        by_status[invoice["status"]] = by_status.get(invoice["status"], 0) + 1
    # the gap's invoice and the parked customer's later ones (its April, another subscription's) wait in
    # draft; the 11 other customers' invoices are finalized
    assert by_status == {"draft": 3, "finalized": 11}
    drafts = {i["customer"]["external_id"] for i in found if i["status"] == "draft"}
    assert drafts == {"cus_b0"}
    numbers = sorted(i["sequential_id"] for i in found if i["status"] == "finalized")
    assert numbers == list(range(1, 12))  # gapless
    # the taxes each finalized event carries are the rows the API reads back (written, not re-read)
    async with inv.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope->'data'->'invoice' FROM outbox_events WHERE event_type = 'invoice.finalized' "
            "AND envelope->>'organization_id' = :org"), {"org": str(org)})).scalars().all()
    assert len(rows) == 11
    for sent in rows:
        stored = (await api.ok("GET", f"/api/v1/invoices/{sent['lago_id']}"))["invoice"]
        assert sent["applied_taxes"] == stored["applied_taxes"]
        assert sent["total_amount_cents"] == stored["total_amount_cents"]
        codes = sorted(t["tax_code"] for t in stored["applied_taxes"])
        assert codes in (["vat20"], ["org10"])  # the customer's taxes win over the organization's
    # the counter is touched once, after every invoice of the batch was written: its row is locked for the
    # batch's last statements only (numbering at the end), not from the first finalization to the commit
    counter = [n for n, sql in enumerate(statements) if "invoice_number_counters" in sql]
    written = [n for n, sql in enumerate(statements) if sql.lstrip().startswith(("INSERT INTO invoices",
                                                                                  "INSERT INTO fees"))]
    assert len(counter) == 1 and counter[0] > max(written), (counter, max(written))
    # statements: ~3.6 an invoice here (25 when every invoice read its customer, plan, taxes, settings and
    # parked state again; 11 when each was numbered, flushed and its events written on its own): per invoice
    # its claim; per batch the prefetches, the fees, applied taxes and amounts (one flush), the numbers and
    # the events. The bound leaves room for the draft path of the parked ones
    assert len(statements) <= 4 * len(found), len(statements)
