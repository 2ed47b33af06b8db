"""Payment requests: a customer's unpaid invoices bundled and charged once on Stripe (counted at the fake) whatever
the redeliveries, concurrent requests and charger passes; left for manual payment without a provider; a charge
canceled when an invoice changed meanwhile; Lago's shapes, events, filters and refusals."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

from payments.payments import charger

CARD_DECLINED_ON_CHARGE = "4000000000000341"


async def _run(payments) -> int:
    return await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)


async def _unpaid_invoices(payments, stage, customer, amounts) -> list[uuid.UUID]:
    """Finalized invoices whose own charge failed (a declined card at the time): unpaid, no charge under way."""
    ids = []
    for amount in amounts:
        invoice_id, attempt = await stage.finalize(customer, amount)
        if attempt is not None:
            async with payments.database.sessionmaker() as session:  # the attempt failed (the card was declined)
                await session.execute(text("UPDATE payments SET payment_status = 'failed', provider_status = "
                                           "'requires_payment_method', failure_category = 'soft' WHERE id = :id"),
                                      {"id": attempt})
                await session.commit()
        ids.append(invoice_id)
    return ids


def _body(customer, invoice_ids, email="billing@acme.test") -> dict:
    return {"payment_request": {"external_customer_id": customer["external_id"], "email": email,
                                "lago_invoice_ids": [str(i) for i in invoice_ids]}}


async def test_overdue_invoices_are_bundled_and_charged_once(payments, stage):
    customer = await stage.customer()
    invoice_ids = await _unpaid_invoices(payments, stage, customer, [1_000, 2_500])
    created = (await stage.ok("POST", "/api/v1/payment_requests", _body(customer, invoice_ids)))["payment_request"]
    assert (created["amount_cents"], created["amount_currency"], created["payment_status"]) == (3_500, "EUR",
                                                                                                  "pending")
    assert created["customer"]["external_id"] == customer["external_id"] and created["email"] == "billing@acme.test"
    assert sorted(i["lago_id"] for i in created["invoices"]) == sorted(str(i) for i in invoice_ids)
    # a second request for the same invoices while the first one's charge is under way
    refused = await stage.error("POST", "/api/v1/payment_requests", _body(customer, invoice_ids[:1]))
    assert refused["error_details"] == {"base": ["payment_in_progress"]}
    # nor may the invoices be charged or paid on a page on their own meanwhile
    assert (await stage.error("POST", f"/api/v1/invoices/{invoice_ids[0]}/payment_url"))["error_details"] == {
        "base": ["payment_in_progress"]}

    await asyncio.gather(_run(payments), _run(payments), _run(payments))  # three charger passes at once
    await _run(payments)
    charges = stage.charges_at_stripe(customer["provider_customer_id"])
    assert [c.amount for c in charges] == [3_500]
    fetched = (await stage.ok("GET", f"/api/v1/payment_requests/{created['lago_id']}"))["payment_request"]
    assert fetched["payment_status"] == "succeeded"
    payment = next(p for p in (await stage.ok("GET", "/api/v1/payments"))["payments"]
                   if p["payable_type"] == "PaymentRequest")
    assert payment["lago_payable_id"] == created["lago_id"] and payment["payment_status"] == "succeeded"
    assert sorted(payment["invoice_ids"]) == sorted(str(i) for i in invoice_ids)
    # each invoice is paid now: nothing more to ask or to charge
    for invoice_id in invoice_ids:
        assert (await stage.error("POST", f"/api/v1/invoices/{invoice_id}/payment_url"))["error_details"] == {
            "base": ["invoice_not_payable"]}
    again = await stage.error("POST", "/api/v1/payment_requests", _body(customer, invoice_ids))
    assert again["error_details"] == {"lago_invoice_ids": ["invoice_already_paid"]}
    replay = stage.invoice_event(customer, 1_000, invoice_id=invoice_ids[0], sequence=5)  # a replayed finalization
    assert await stage.apply_invoice_event(replay) is None
    assert len(stage.charges_at_stripe(customer["provider_customer_id"])) == 1
    assert [len(await stage.events(t)) for t in ("payment_request.created", "payment_request.payment_status_updated",
                                                 "payment_request.payment_failure")] == [1, 1, 0]
    receipts = (await stage.ok("GET", f"/api/v1/payment_receipts?invoice_id={invoice_ids[0]}"))["payment_receipts"]
    assert [r["payment"]["lago_id"] for r in receipts] == [payment["lago_id"]]


async def test_a_declined_request_fails_once_and_can_be_asked_again(payments, stage):
    customer = await stage.customer(card=CARD_DECLINED_ON_CHARGE)
    invoice_ids = await _unpaid_invoices(payments, stage, customer, [4_000])
    first = (await stage.ok("POST", "/api/v1/payment_requests", _body(customer, invoice_ids)))["payment_request"]
    await _run(payments)
    assert (await stage.ok("GET", f"/api/v1/payment_requests/{first['lago_id']}"))["payment_request"][
        "payment_status"] == "failed"
    failures = await stage.events("payment_request.payment_failure")
    assert [e["data"]["payment_request"]["lago_id"] for e in failures] == [first["lago_id"]]
    second = (await stage.ok("POST", "/api/v1/payment_requests", _body(customer, invoice_ids)))["payment_request"]
    assert second["lago_id"] != first["lago_id"] and second["amount_cents"] == 4_000
    listed = await stage.ok("GET", "/api/v1/payment_requests?payment_status=failed")
    assert [r["lago_id"] for r in listed["payment_requests"]] == [first["lago_id"]]


async def test_a_request_without_provider_waits_for_manual_payment(payments, stage):
    customer = await stage.customer(provider=False)
    invoice_ids = await _unpaid_invoices(payments, stage, customer, [700, 300])
    created = (await stage.ok("POST", "/api/v1/payment_requests", _body(customer, invoice_ids)))["payment_request"]
    await _run(payments)
    assert (await stage.ok("GET", f"/api/v1/payment_requests/{created['lago_id']}"))["payment_request"][
        "payment_status"] == "pending"
    assert (await stage.ok("GET", f"/api/v1/payments?external_customer_id={customer['external_id']}"))[
        "meta"]["total_count"] == 0
    await stage.ok("POST", "/api/v1/payments", {"payment": {"invoice_id": str(invoice_ids[0]), "amount_cents": 700,
                                                            "reference": "wire-1"}})
    mine = await stage.ok("GET", f"/api/v1/customers/{customer['external_id']}/payment_requests")
    assert [(r["lago_id"], r["payment_status"]) for r in mine["payment_requests"]] == [(created["lago_id"],
                                                                                        "pending")]
    # the last invoice paid by hand: the request is paid, once
    await stage.ok("POST", "/api/v1/payments", {"payment": {"invoice_id": str(invoice_ids[1]), "amount_cents": 300,
                                                            "reference": "wire-2"}})
    assert (await stage.ok("GET", f"/api/v1/payment_requests/{created['lago_id']}"))["payment_request"][
        "payment_status"] == "succeeded"
    updates = await stage.events("payment_request.payment_status_updated")
    assert [e["data"]["payment_request"]["payment_status"] for e in updates] == ["succeeded"]


async def test_an_invoice_paid_meanwhile_cancels_the_requests_charge(payments, stage):
    customer = await stage.customer()
    invoice_ids = await _unpaid_invoices(payments, stage, customer, [900, 100])
    created = (await stage.ok("POST", "/api/v1/payment_requests", _body(customer, invoice_ids)))["payment_request"]
    await stage.ok("POST", "/api/v1/payments", {"payment": {"invoice_id": str(invoice_ids[1]), "amount_cents": 100,
                                                            "reference": "cheque"}})
    await _run(payments)
    assert stage.charges_at_stripe(customer["provider_customer_id"]) == []  # nothing sent: no overpayment
    payment = next(p for p in (await stage.ok("GET", "/api/v1/payments"))["payments"]
                   if p["payable_type"] == "PaymentRequest")
    assert payment["payment_status"] == "canceled"
    assert (await stage.ok("GET", f"/api/v1/payment_requests/{created['lago_id']}"))["payment_request"][
        "payment_status"] == "pending"


async def test_bad_requests_are_refused_and_change_nothing(payments, stage):
    customer = await stage.customer()
    other = await stage.customer()
    [mine] = await _unpaid_invoices(payments, stage, customer, [500])
    [theirs] = await _unpaid_invoices(payments, stage, other, [600])
    usd_invoice, _ = await stage.finalize(customer, 200, )
    async with payments.database.sessionmaker() as session:
        await session.execute(text("UPDATE invoices SET currency = 'USD' WHERE id = :id"), {"id": usd_invoice})
        await session.execute(text("UPDATE payments SET payment_status = 'failed' WHERE invoice_id = :id"),
                              {"id": usd_invoice})
        await session.commit()
    cases = [
        (_body(customer, [theirs]), {"lago_invoice_ids": ["invalid_invoice"]}),
        (_body(customer, [uuid.uuid4()]), {"lago_invoice_ids": ["invalid_invoice"]}),
        (_body(customer, [mine, usd_invoice]), {"lago_invoice_ids": ["currencies_do_not_match"]}),
    ]
    for body, details in cases:
        assert (await stage.error("POST", "/api/v1/payment_requests", body))["error_details"] == details
    for body in (_body(customer, []), _body(customer, [mine], email="not-an-email"),
                 {"payment_request": {"email": "a@b.co", "lago_invoice_ids": [str(mine)]}},
                 {"payment_request": {**_body(customer, [mine])["payment_request"], "extra": 1}},
                 {"payment_request": {**_body(customer, [mine])["payment_request"], "lago_invoice_ids": ["x"]}}):
        await stage.error("POST", "/api/v1/payment_requests", body)
    await stage.error("POST", "/api/v1/payment_requests", _body({"external_id": "nobody"}, [mine]), status=404)
    other_org = stage.service.client(uuid.uuid4())
    assert (await other_org.post("/api/v1/payment_requests", json=_body(customer, [mine]))).status_code == 404
    tenant = stage.service.client(stage.org, roles=["tenant"], customer_id=customer["lago_id"])
    assert (await tenant.post("/api/v1/payment_requests", json=_body(customer, [mine]))).status_code == 403
    assert (await stage.ok("GET", "/api/v1/payment_requests"))["meta"]["total_count"] == 0
    assert await stage.events("payment_request.created") == []

    created = (await stage.ok("POST", "/api/v1/payment_requests", _body(customer, [mine])))["payment_request"]
    assert (await tenant.get(f"/api/v1/payment_requests/{created['lago_id']}")).status_code == 200
    stranger = stage.service.client(stage.org, roles=["tenant"], customer_id=other["lago_id"])
    assert (await stranger.get(f"/api/v1/payment_requests/{created['lago_id']}")).status_code == 403
    assert (await stranger.get("/api/v1/payment_requests")).json()["payment_requests"] == []
    assert (await other_org.get(f"/api/v1/payment_requests/{created['lago_id']}")).status_code == 404
    await stage.error("GET", "/api/v1/payment_requests?payment_status=lost", status=422)
    await stage.error("GET", "/api/v1/payment_requests?currency=euro", status=422)
