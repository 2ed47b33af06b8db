"""End to end over the real broker: the catalog's organization settings and billing entities reach invoicing
through `organization.updated` / `billing_entity.created` only, and number its invoices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from invora.clock import ManualClock
from subscriptions.subscriptions.scheduler import run_pass

from .e2e import eventually, ok  # noqa: TID252

START = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


async def until(check, what: str, tries: int = 150):
    return await eventually(check, what, timeout=tries * 0.2, interval=0.2)


async def test_invoices_are_numbered_by_the_organization_and_the_customers_entity(start_suite):
    clock = ManualClock(START)
    async with start_suite({
        "catalog": {},
        "subscriptions": {"scheduler_enabled": False, "consumer_session_timeout_ms": 2_000},
        "invoicing": {"scheduler_enabled": False, "consumer_session_timeout_ms": 2_000},
    }, clock=clock) as suite:
        org, subs, invoicing = suite.org, suite["subscriptions"], suite["invoicing"]
        cat, sub_api, inv = suite.api("catalog"), suite.api("subscriptions"), suite.api("invoicing")

        await ok(cat, "POST", "/api/v1/billing_entities", {"billing_entity": {
            "code": "eu", "name": "Acme Europe", "document_numbering": "per_billing_entity",
            "document_number_prefix": "EU", "net_payment_term": 10}})
        await ok(cat, "PUT", "/api/v1/organizations", {"organization": {
            "document_number_prefix": "ACME", "net_payment_term": 30}})

        async def organization_applied():
            found = (await ok(inv, "GET", "/api/v1/invoice_settings"))["invoice_settings"]
            return found["document_number_prefix"] == "ACME"

        async def entity_applied():
            async with invoicing.database.sessionmaker() as session:
                return (await session.execute(text(
                    "SELECT count(*) FROM billing_entities WHERE organization_id = :org AND code = 'eu'"),
                    {"org": org})).scalar_one()

        async def entity_known_to_subscriptions():
            async with subs.database.sessionmaker() as session:
                return (await session.execute(text(
                    "SELECT count(*) FROM known_billing_entities WHERE organization_id = :org AND code = 'eu'"),
                    {"org": org})).scalar_one()

        await until(organization_applied, "organization.updated applied by invoicing")
        await until(entity_known_to_subscriptions, "billing_entity.created applied by subscriptions")
        await until(entity_applied, "billing_entity.created applied by invoicing")

        await ok(cat, "POST", "/api/v1/plans", {"plan": {
            "name": "Startup", "code": "startup", "interval": "monthly", "amount_cents": 3_100,
            "amount_currency": "EUR", "pay_in_advance": False}})
        for customer, entity in (("cus_eu", "eu"), ("cus_plain", None)):
            body = {"external_id": customer, "name": customer, "currency": "EUR"}
            if entity:
                body["billing_entity_code"] = entity
            await ok(sub_api, "POST", "/api/v1/customers", {"customer": body})
            await suite.subscribe(customer, "startup", f"sub_{customer}")
        clock.set(END + timedelta(minutes=5))
        assert await run_pass(subs.database.sessionmaker, clock.now())

        async def both_finalized():
            found = (await ok(inv, "GET", "/api/v1/invoices"))["invoices"]
            done = [i for i in found if i["status"] == "finalized"]
            return done if len(done) == 2 else None

        invoices = {i["customer"]["external_id"]: i for i in await until(both_finalized, "two finalized invoices")}
        assert invoices["cus_eu"]["number"] == "EU-202604-00001"
        assert invoices["cus_eu"]["payment_due_date"] == "2026-04-11"  # the entity's 10 days
        assert invoices["cus_plain"]["number"] == "ACME-202604-00001"
        assert invoices["cus_plain"]["payment_due_date"] == "2026-05-01"  # the organization's 30 days
