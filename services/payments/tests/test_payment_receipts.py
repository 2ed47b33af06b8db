"""Payment receipts: one per succeeded payment (provider charge, manual payment), never two however often the
success is reported, numbered without gaps or duplicates per organization even under concurrent payments and
rolled-back transactions, `payment_receipt.created` once each; Lago's reads, scoped by organization and tenant."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

from payments.payment_receipts import service as receipts
from payments.payments import charger, lifecycle


async def _manual(stage, invoice_id, amount: int, reference: str = "wire") -> dict:
    return (await stage.ok("POST", "/api/v1/payments", {"payment": {
        "invoice_id": str(invoice_id), "amount_cents": amount, "reference": reference}}))["payment"]


async def test_a_succeeded_charge_and_manual_payments_each_get_one_numbered_receipt(payments, stage):
    customer = await stage.customer()
    charged_invoice, payment_id = await stage.finalize(customer, 5_000)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    manual_invoice, _ = await stage.finalize(await stage.customer(provider=False), 3_000)
    first_part = await _manual(stage, manual_invoice, 1_000)
    second_part = await _manual(stage, manual_invoice, 2_000)

    listed = await stage.ok("GET", "/api/v1/payment_receipts")
    numbers = {r["payment"]["lago_id"]: r["number"] for r in listed["payment_receipts"]}
    assert numbers == {str(payment_id): "RCPT-000001", first_part["lago_id"]: "RCPT-000002",
                       second_part["lago_id"]: "RCPT-000003"}
    assert listed["meta"]["total_count"] == 3
    receipt = listed["payment_receipts"][-1]
    assert receipt["payment"]["amount_cents"] == 5_000 and receipt["payment"]["payment_status"] == "succeeded"
    fetched = await stage.ok("GET", f"/api/v1/payment_receipts/{receipt['lago_id']}")
    assert fetched["payment_receipt"] == receipt
    by_invoice = await stage.ok("GET", f"/api/v1/payment_receipts?invoice_id={manual_invoice}")
    assert sorted(r["number"] for r in by_invoice["payment_receipts"]) == ["RCPT-000002", "RCPT-000003"]
    assert (await stage.ok("GET", f"/api/v1/payment_receipts?invoice_id={charged_invoice}"))["meta"][
        "total_count"] == 1
    events = await stage.events("payment_receipt.created")
    assert sorted(e["data"]["payment_receipt"]["number"] for e in events) == [
        "RCPT-000001", "RCPT-000002", "RCPT-000003"]


async def test_a_success_reported_again_issues_no_second_receipt(payments, stage):
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 700)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    async with payments.database.sessionmaker() as session:
        # the success published again (a bug, a replay of the publishing path): the receipt stays one
        await lifecycle.publish_payment(session, payment_id, stage.org, "payment.succeeded")
        assert await receipts.issue(session, stage.org, payment_id) is None
        await session.commit()
    listed = await stage.ok("GET", "/api/v1/payment_receipts")
    assert [r["number"] for r in listed["payment_receipts"]] == ["RCPT-000001"]
    assert len(await stage.events("payment_receipt.created")) == 1


async def test_numbers_stay_gapless_under_concurrency_and_rollbacks(payments, stage):
    invoices = [(await stage.finalize(await stage.customer(provider=False), 100))[0] for _ in range(12)]

    async def pay(invoice_id, roll_back: bool) -> None:
        async with payments.database.sessionmaker() as session:
            row = (await session.execute(text(
                "INSERT INTO payments (id, organization_id, invoice_id, customer_id, external_customer_id, type, "
                "amount_cents, currency, payment_status, provider_status, reference, idempotency_key, paid_at) "
                "SELECT :id, organization_id, id, customer_id, external_customer_id, 'manual', 100, currency, "
                "'succeeded', 'succeeded', 'r', :key, now() FROM invoices WHERE id = :invoice RETURNING id"),
                {"id": uuid.uuid4(), "key": f"k-{uuid.uuid4()}", "invoice": invoice_id})).scalar_one()
            await receipts.issue(session, stage.org, row)
            await asyncio.sleep(0.01)  # hold the counter's lock a moment: the others queue behind it
            if roll_back:
                await session.rollback()
            else:
                await session.commit()

    await asyncio.gather(*(pay(invoice_id, roll_back=n % 4 == 0) for n, invoice_id in enumerate(invoices)))
    listed = await stage.ok("GET", "/api/v1/payment_receipts?per_page=100")
    numbers = sorted(r["number"] for r in listed["payment_receipts"])
    assert numbers == [f"RCPT-{n:06d}" for n in range(1, 10)]  # 12 payments, 3 rolled back: 1..9, no gap


async def test_receipts_are_scoped_to_the_organization_and_the_tenant(payments, stage):
    mine = await stage.customer(provider=False)
    theirs = await stage.customer(provider=False)
    mine_invoice, _ = await stage.finalize(mine, 400)
    theirs_invoice, _ = await stage.finalize(theirs, 600)
    await _manual(stage, mine_invoice, 400)
    await _manual(stage, theirs_invoice, 600)
    listed = (await stage.ok("GET", "/api/v1/payment_receipts"))["payment_receipts"]
    theirs_receipt = next(r for r in listed if r["payment"]["external_customer_id"] == theirs["external_id"])

    tenant = stage.service.client(stage.org, roles=["tenant"], customer_id=mine["lago_id"])
    own = (await tenant.get("/api/v1/payment_receipts")).json()
    assert [r["payment"]["external_customer_id"] for r in own["payment_receipts"]] == [mine["external_id"]]
    assert (await tenant.get(f"/api/v1/payment_receipts/{theirs_receipt['lago_id']}")).status_code == 403
    other_org = stage.service.client(uuid.uuid4())
    assert (await other_org.get(f"/api/v1/payment_receipts/{theirs_receipt['lago_id']}")).status_code == 404
    assert (await other_org.get("/api/v1/payment_receipts")).json()["payment_receipts"] == []
    await stage.error("GET", f"/api/v1/payment_receipts/{uuid.uuid4()}", status=404)
    await stage.error("GET", "/api/v1/payment_receipts/not-an-id", status=404)
    await stage.error("GET", "/api/v1/payment_receipts?invoice_id=nope", status=422)
