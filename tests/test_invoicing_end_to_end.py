"""End to end: catalog → subscriptions → invoicing over the real broker. A subscription's period closes and
its invoice arrives finalized, numbered, with the right total."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from invora.clock import ManualClock
from subscriptions.subscriptions.scheduler import run_pass

from .e2e import ok  # noqa: TID252

START = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


SERVICES = {"catalog": {},
            "subscriptions": {"scheduler_enabled": False, "consumers_enabled": False},
            "invoicing": {"scheduler_enabled": False, "consumer_session_timeout_ms": 2_000}}


async def test_a_closed_period_is_invoiced_finalized_with_the_right_total(start_suite):
    clock = ManualClock(START)
    async with start_suite(SERVICES, clock=clock) as suite:
        subs = suite["subscriptions"]
        cat, sub_api, inv = suite.api("catalog"), suite.api("subscriptions"), suite.api("invoicing")

        await ok(cat, "POST", "/api/v1/taxes", {"tax": {"name": "VAT", "code": "vat20", "rate": "20"}})
        metric = (await ok(cat, "POST", "/api/v1/billable_metrics", {"billable_metric": {
            "name": "Calls", "code": "calls", "aggregation_type": "count_agg"}}))["billable_metric"]
        await ok(cat, "POST", "/api/v1/plans", {"plan": {
            "name": "Startup", "code": "startup", "interval": "monthly", "amount_cents": 10_000,
            "amount_currency": "EUR", "pay_in_advance": False, "tax_codes": ["vat20"],
            "charges": [{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                         "properties": {"amount": "0.5"}}]}})
        await suite.customer("cus_e2e")
        await suite.subscribe("cus_e2e", "startup", "sub_e2e")
        clock.set(START + timedelta(days=3))
        await ok(sub_api, "POST", "/api/v1/events/batch", {"events": [
            {"transaction_id": f"t{n}", "external_subscription_id": "sub_e2e", "code": "calls",
             "timestamp": (START + timedelta(days=1, minutes=n)).isoformat()} for n in range(10)]})
        clock.set(END + timedelta(minutes=5))
        report = await run_pass(subs.database.sessionmaker, clock.now())
        assert report  # the period closed: billing_period_ended is in the outbox, the relay publishes it

        invoice = None
        for _ in range(150):
            found = (await ok(inv, "GET", "/api/v1/invoices"))["invoices"]
            if found and found[0]["status"] == "finalized":
                invoice = found[0]
                break
            await asyncio.sleep(0.2)
        assert invoice is not None, "no finalized invoice within 30 s"
        # 15 March 10:00 → 1 April, calendar: 17 of 31 days of 100.00 = 54.84; 10 calls × 0.50 = 5.00
        # 20 % VAT (the plan's) on 59.84 = 11.968 → 11.97
        assert (invoice["fees_amount_cents"], invoice["taxes_amount_cents"], invoice["total_amount_cents"]) == (
            5_984, 1_197, 7_181)
        assert invoice["number"] == "INV-202604-00001" and invoice["external_subscription_id"] == "sub_e2e"
        full = (await ok(inv, "GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
        assert sorted((f["item"]["type"], f["amount_cents"]) for f in full["fees"]) == [
            ("charge", 500), ("subscription", 5_484)]


async def test_an_upgrade_credits_the_unused_advance_fee_on_the_new_plans_invoice(start_suite):
    """catalog → subscriptions → Kafka → invoicing: a plan paid in advance upgraded mid-period. The new plan's
    first fee is prorated, the old plan's unused days come back as a credit that invoice consumes."""
    clock = ManualClock(START)
    async with start_suite(SERVICES, clock=clock) as suite:
        cat, inv = suite.api("catalog"), suite.api("invoicing")
        for code, amount in (("basic", 10_000), ("premium", 20_000)):
            await ok(cat, "POST", "/api/v1/plans", {"plan": {
                "name": code.title(), "code": code, "interval": "monthly", "amount_cents": amount,
                "amount_currency": "EUR", "pay_in_advance": True}})
        await suite.customer("cus_up")
        await suite.subscribe("cus_up", "basic", "sub_up")
        clock.set(START + timedelta(days=5))  # 20 March 10:00
        new = await suite.subscribe("cus_up", "premium", "sub_up")
        assert new["plan_code"] == "premium" and new["previous_plan_code"] == "basic"

        found: list[dict] = []
        for _ in range(150):
            found = (await ok(inv, "GET", "/api/v1/invoices"))["invoices"]
            if len(found) >= 3 and all(i["status"] == "finalized" for i in found):
                break
            await asyncio.sleep(0.2)
        by_subscription: dict[str, list[int]] = {}
        for invoice in found:
            by_subscription.setdefault(invoice["lago_subscription_id"], []).append(invoice["total_amount_cents"])
        assert len(found) == 3, found
        # basic from 15 March: 17/31 of 100.00 = 54.84; its last period (to the upgrade) has no usage: 0.
        # premium from 20 March: 12/31 of 200.00 = 77.42, less the unused 12/31 of basic (38.71) = 38.71
        upgraded = next(i for i in found if i["lago_subscription_id"] == new["lago_id"])
        assert (upgraded["fees_amount_cents"], upgraded["credit_notes_amount_cents"],
                upgraded["total_amount_cents"]) == (7_742, 3_871, 3_871)
        assert sorted(t for s, totals in by_subscription.items() if s != new["lago_id"] for t in totals) == [0, 5_484]
