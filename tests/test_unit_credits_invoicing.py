"""Unit credits on invoices, across the real services: catalog → subscriptions → invoicing ⇄ wallets.

A customer holding a 10,000-unit grant of `calls` uses 12,000: its period invoice is priced on 2,000 (the fee
shows both figures), the grant is consumed once even when the period event is handled again after a crash
that lost invoicing's transaction (wallets already answered) and when it is redelivered; voiding the invoice
gives the units back. A customer without grants gets its invoice with no round trip to wallets.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from invoicing.invoices.consumer import with_catalog_fallback
from invora.clock import ManualClock
from invora.service_client import ServiceClient
from invora.testing.events import read_events
from subscriptions.subscriptions.scheduler import run_pass

from .e2e import INVOICING_WITH_WALLETS, eventually, ok  # noqa: TID252

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


class CountingTransport(httpx.ASGITransport):
    """The real wallets app in-process, remembering every unit-credit application invoicing asked for."""

    def __init__(self, app) -> None:
        super().__init__(app=app)
        self.applications: list[dict] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/unit_credits/applications":
            self.applications.append(json.loads(request.content)["unit_credit_application"])
        return await super().handle_async_request(request)


async def test_unit_credits_offset_units_before_pricing_once_and_come_back_on_void(
        start_suite, invora_kafka, invora_keys):
    clock = ManualClock(START + timedelta(hours=1))
    async with start_suite(INVOICING_WITH_WALLETS, clock=clock) as suite:
        org, subs, invoicing, wallets = suite.org, suite["subscriptions"], suite["invoicing"], suite["wallets"]
        inv_runtime = invoicing.app.state.runtime
        counting = CountingTransport(wallets.app)
        inv_runtime.wallets = ServiceClient(base_url="http://w.test", subject="service:invoicing", issuer="invora",
                                            signing_key=invora_keys.private_pem.decode(), transport=counting)
        cat, sub_api, inv, wal = (suite.api(name) for name in ("catalog", "subscriptions", "invoicing", "wallets"))
        metric = (await ok(cat, "POST", "/api/v1/billable_metrics", {"billable_metric": {
            "name": "API calls", "code": "calls", "aggregation_type": "sum_agg", "field_name": "value"}}))
        await ok(cat, "POST", "/api/v1/plans", {"plan": {
            "name": "Usage", "code": "usage", "interval": "monthly", "amount_cents": 0, "amount_currency": "EUR",
            "pay_in_advance": False, "charges": [{
                "billable_metric_id": metric["billable_metric"]["lago_id"], "charge_model": "standard",
                "properties": {"amount": "0.01"}}]}})
        for customer in ("cus_units", "cus_plain"):
            await ok(sub_api, "POST", "/api/v1/customers", {"customer": {
                "external_id": customer, "name": customer, "currency": "EUR"}})
            await ok(sub_api, "POST", "/api/v1/subscriptions", {"subscription": {
                "external_customer_id": customer, "plan_code": "usage", "external_id": f"sub_{customer}",
                "subscription_at": START.isoformat()}})

        async def grant() -> dict | None:  # once wallets heard of the customer
            response = await wal.post("/api/v1/customers/cus_units/unit_credits", json={"unit_credit": {
                "billable_metric_code": "calls", "units": "10000", "reason": "Welcome: 10,000 API calls"}})
            return response.json()["unit_credit"] if response.status_code == 200 else None

        granted = await eventually(grant, "the unit credit grant")

        async def invoicing_knows_the_grant() -> bool:
            async with invoicing.database.sessionmaker() as session:
                return bool((await session.execute(text(
                    "SELECT count(*) FROM unit_credit_grants WHERE organization_id = :o AND status = 'active'"),
                    {"o": org})).scalar())

        await eventually(invoicing_knows_the_grant, "the unit grants projection")

        clock.set(START + timedelta(days=3))
        await ok(sub_api, "POST", "/api/v1/events/batch", {"events": [
            {"transaction_id": "u1", "external_subscription_id": "sub_cus_units", "code": "calls",
             "timestamp": (START + timedelta(days=2)).isoformat(), "properties": {"value": "12000"}},
            {"transaction_id": "p1", "external_subscription_id": "sub_cus_plain", "code": "calls",
             "timestamp": (START + timedelta(days=2)).isoformat(), "properties": {"value": "500"}}]})

        clock.set(END + timedelta(minutes=5))
        assert await run_pass(subs.database.sessionmaker, clock.now())

        async def invoice_of(customer: str) -> dict | None:
            found = (await ok(inv, "GET", f"/api/v1/invoices?external_customer_id={customer}"))["invoices"]
            return found[0] if found and found[0]["status"] == "finalized" else None

        units_invoice = await eventually(lambda: invoice_of("cus_units"), "the credited invoice", timeout=90)
        plain_invoice = await eventually(lambda: invoice_of("cus_plain"), "the plain invoice", timeout=90)

        def charge_fee(invoice: dict) -> dict:
            return next(f for f in invoice["fees"] if f["item"]["type"] == "charge")

        detailed = await ok(inv, "GET", f"/api/v1/invoices/{units_invoice['lago_id']}")
        fee = charge_fee(detailed["invoice"])
        # 12,000 used − 10,000 credited = 2,000 priced × 0.01 € = 20.00 €
        assert (fee["units"], fee["amount_cents"]) == ("2000", 2_000) or (
            float(fee["units"]), fee["amount_cents"]) == (2000.0, 2_000)
        assert fee["amount_details"]["unit_credits"] == {"usage_units": "12000", "credited_units": "10000"}
        assert detailed["invoice"]["fees_amount_cents"] == 2_000
        plain_fee = charge_fee((await ok(inv, "GET", f"/api/v1/invoices/{plain_invoice['lago_id']}"))["invoice"])
        assert plain_fee["amount_cents"] == 500 and "unit_credits" not in plain_fee["amount_details"]
        # a customer without grants: no round trip; the credited one: one call for its one metric
        assert [(a["external_customer_id"], a["billable_metric_code"], a["units"])
                for a in counting.applications] == [("cus_units", "calls", "12000")]
        grants = (await ok(wal, "GET", "/api/v1/customers/cus_units/unit_credits"))["unit_credits"]
        assert float(grants[0]["remaining_units"]) == 0

        # a crash after wallets answered, before invoicing committed: the event handled again from scratch
        [period] = await read_events(invora_kafka, "invora.subscription", lambda e: e.organization_id == org
                                     and e.type == "subscription.billing_period_ended"
                                     and e.data["subscription"]["external_id"] == "sub_cus_units", timeout=30)
        handle = with_catalog_fallback(inv_runtime)
        async with invoicing.database.sessionmaker() as session, session.begin():
            await session.execute(text("DELETE FROM invoices WHERE id = :id"), {"id": units_invoice["lago_id"]})
        async with invoicing.database.sessionmaker() as session, session.begin():
            await handle(session, [period])
        assert len(counting.applications) == 2  # asked again (its answer was lost with the transaction)
        again = await eventually(lambda: invoice_of("cus_units"), "the invoice computed again")
        assert again["lago_id"] == units_invoice["lago_id"]  # the same invoice id: wallets' key
        again_fee = charge_fee((await ok(inv, "GET", f"/api/v1/invoices/{again['lago_id']}"))["invoice"])
        assert again_fee["amount_cents"] == 2_000  # wallets answered the same: consumed once
        grants = (await ok(wal, "GET", "/api/v1/customers/cus_units/unit_credits"))["unit_credits"]
        assert float(grants[0]["remaining_units"]) == 0
        async with wallets.database.sessionmaker() as session:
            movements = (await session.execute(text(
                "SELECT count(DISTINCT movement_id) FROM unit_credit_entries WHERE organization_id = :o"
                " AND kind = 'consumption'"), {"o": org})).scalar()
        assert movements == 1

        # a plain redelivery: the claim stops it, wallets is not asked
        async with invoicing.database.sessionmaker() as session, session.begin():
            await handle(session, [period])
        assert len(counting.applications) == 2

        # void: the units come back to the grant
        await ok(inv, "POST", f"/api/v1/invoices/{again['lago_id']}/void")

        async def units_back() -> bool:
            found = (await ok(wal, "GET", "/api/v1/customers/cus_units/unit_credits"))["unit_credits"]
            return float(found[0]["remaining_units"]) == 10_000

        await eventually(units_back, "the units back in the grant")
        assert granted["lago_id"] == grants[0]["lago_id"]
