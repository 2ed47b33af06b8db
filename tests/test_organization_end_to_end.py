"""End to end over the real broker: the catalog's organization settings and billing entities reach invoicing
through `organization.updated` / `billing_entity.created` only, and number its invoices."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from invora.clock import ManualClock
from invora.testing.services import run_service
from subscriptions.plans.client import CatalogClient
from subscriptions.subscriptions.scheduler import run_pass

START = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


async def ok(client: httpx.AsyncClient, method: str, url: str, body=None) -> dict:
    response = await client.request(method, url, json=body)
    assert response.status_code == 200, f"{method} {url}: {response.status_code} {response.text}"
    return response.json()


async def until(check, what: str, tries: int = 150):
    for _ in range(tries):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} not seen within {tries * 0.2:.0f} s")


async def test_invoices_are_numbered_by_the_organization_and_the_customers_entity(migrated_database, invora_kafka,
                                                                                  invora_keys):
    org = uuid.uuid4()
    common = dict(kafka=invora_kafka, keys=invora_keys)
    async with (run_service("catalog", database_url=migrated_database("catalog"), **common) as catalog,
                run_service("subscriptions", database_url=migrated_database("subscriptions"), **common,
                            scheduler_enabled=False, consumer_session_timeout_ms=2_000) as subs,
                run_service("invoicing", database_url=migrated_database("invoicing"), **common,
                            scheduler_enabled=False, consumer_session_timeout_ms=2_000) as invoicing):
        clock = ManualClock(START)
        runtime = subs.app.state.runtime
        runtime.clock = clock
        settings = subs.app.state.settings.model_copy(update={
            "service_signing_key": invora_keys.private_pem.decode(), "catalog_url": "http://catalog.test"})
        runtime.catalog = CatalogClient(settings, transport=httpx.ASGITransport(app=catalog.app))
        cat, sub_api, inv = catalog.client(org), subs.client(org), invoicing.client(org)

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
            await ok(sub_api, "POST", "/api/v1/subscriptions", {"subscription": {
                "external_customer_id": customer, "plan_code": "startup", "external_id": f"sub_{customer}"}})
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
