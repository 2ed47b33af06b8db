"""End to end: catalog → subscriptions → invoicing over the real broker, for charges paid in advance and
progressive billing. Events reaching a charge paid in advance become their fees (and invoices) at once;
a usage threshold crossed becomes a progressive-billing invoice the period's invoice then deducts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from invora.clock import ManualClock
from subscriptions.subscriptions.scheduler import run_pass
from subscriptions.usage.progressive import evaluate

from .e2e import eventually, ok  # noqa: TID252

START = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


async def wait_for(check, what: str, attempts: int = 200):
    return await eventually(check, what, timeout=attempts * 0.2, interval=0.2)


async def test_fees_paid_in_advance_and_progressive_billing_across_services(start_suite):
    clock = ManualClock(START)
    async with start_suite({
        "catalog": {},
        "subscriptions": {"scheduler_enabled": False, "consumers_enabled": False},
        "invoicing": {"scheduler_enabled": False, "consumer_session_timeout_ms": 2_000},
    }, clock=clock) as suite:
        subs = suite["subscriptions"]
        cat, sub_api, inv = suite.api("catalog"), suite.api("subscriptions"), suite.api("invoicing")

        seats = (await ok(cat, "POST", "/api/v1/billable_metrics", {"billable_metric": {
            "name": "Seats", "code": "seats", "aggregation_type": "sum_agg", "field_name": "n"}}))["billable_metric"]
        storage = (await ok(cat, "POST", "/api/v1/billable_metrics", {"billable_metric": {
            "name": "Storage", "code": "storage", "aggregation_type": "sum_agg", "field_name": "gb"}}))[
            "billable_metric"]
        calls = (await ok(cat, "POST", "/api/v1/billable_metrics", {"billable_metric": {
            "name": "Calls", "code": "calls", "aggregation_type": "count_agg"}}))["billable_metric"]
        await ok(cat, "POST", "/api/v1/plans", {"plan": {
            "name": "Team", "code": "team", "interval": "monthly", "amount_cents": 0, "amount_currency": "EUR",
            "pay_in_advance": False, "usage_thresholds": [{"amount_cents": 1_000}],
            "charges": [
                # 10.00 a seat, invoiced as each seat is added
                {"billable_metric_id": seats["lago_id"], "charge_model": "standard", "pay_in_advance": True,
                 "invoiceable": True, "properties": {"amount": "10"}},
                # 1.00 a GB, paid in advance but not invoiced (a fee alone)
                {"billable_metric_id": storage["lago_id"], "charge_model": "standard", "pay_in_advance": True,
                 "invoiceable": False, "properties": {"amount": "1"}},
                # 0.50 a call, in arrears: what progressive billing and the period's invoice bill
                {"billable_metric_id": calls["lago_id"], "charge_model": "standard",
                 "properties": {"amount": "0.5"}}]}})
        await suite.customer("cus_adv")
        await suite.subscribe("cus_adv", "team", "sub_adv")
        clock.set(START + timedelta(days=1))

        def event(code: str, transaction_id: str, **properties) -> dict:
            return {"transaction_id": transaction_id, "external_subscription_id": "sub_adv", "code": code,
                    "timestamp": (START + timedelta(hours=1)).isoformat(), "properties": properties}

        await ok(sub_api, "POST", "/api/v1/events/batch", {"events": [
            event("seats", "seat-1", n=2), event("storage", "gb-1", gb=5), event("seats", "seat-2", n=1)]})
        await ok(sub_api, "POST", "/api/v1/events", {"event": event("seats", "seat-1", n=2)})  # a duplicate

        async def advance_invoices():
            found = (await ok(inv, "GET", "/api/v1/invoices", params={"invoice_type": "subscription"}))["invoices"]
            return found if len(found) >= 2 else None

        found = await wait_for(advance_invoices, "two invoices of seats paid in advance")
        advance_ids = {i["lago_id"] for i in found}
        assert sorted((i["fees_amount_cents"], i["status"]) for i in found) == [(1_000, "finalized"),
                                                                               (2_000, "finalized")]

        async def storage_fee():
            fees = (await ok(inv, "GET", "/api/v1/fees", params={"billable_metric_code": "storage"}))["fees"]
            return fees or None

        [fee] = await wait_for(storage_fee, "the storage fee")
        assert (fee["amount_cents"], fee["lago_invoice_id"], fee["event_transaction_id"]) == (500, None, "gb-1")

        # 30 calls = 15.00 of usage in arrears: lifetime usage (30.00 seats + 5.00 storage + 15.00) passes 10.00
        await ok(sub_api, "POST", "/api/v1/events/batch", {"events": [
            event("calls", f"c{n}") for n in range(30)]})
        assert await evaluate(subs.database.sessionmaker, clock.now()) == 1
        assert await evaluate(subs.database.sessionmaker, clock.now()) == 0

        async def progressive():
            found = (await ok(inv, "GET", "/api/v1/invoices",
                              params={"invoice_type": "progressive_billing"}))["invoices"]
            return found or None

        [prog] = await wait_for(progressive, "the progressive-billing invoice")
        assert (prog["fees_amount_cents"], prog["status"]) == (1_500, "finalized")

        # 10 more calls, then the period closes: 20.00 of calls less the 15.00 already billed
        await ok(sub_api, "POST", "/api/v1/events/batch", {"events": [
            event("calls", f"d{n}") for n in range(10)]})
        clock.set(END + timedelta(minutes=5))
        assert await run_pass(subs.database.sessionmaker, clock.now())

        async def period_invoice():
            found = (await ok(inv, "GET", "/api/v1/invoices", params={"invoice_type": "subscription"}))["invoices"]
            closing = [i for i in found if i["lago_id"] not in advance_ids]
            return closing or None

        [closing] = await wait_for(period_invoice, "the period's invoice")
        assert (closing["fees_amount_cents"], closing["progressive_billing_credit_amount_cents"],
                closing["total_amount_cents"]) == (2_000, 1_500, 500)
        # the seats and storage were never billed twice
        full = (await ok(inv, "GET", f"/api/v1/invoices/{closing['lago_id']}"))["invoice"]
        assert {f["item"]["code"] for f in full["fees"] if f["item"]["type"] == "charge"} == {"calls"}
