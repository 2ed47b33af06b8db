"""A plan version invoicing never heard of (its `plan.created` never reached it) is asked of the real catalog over
HTTP instead of parking the period's event forever; the catalog unreachable changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from invoicing.invoices.consumer import with_catalog_fallback
from invoicing.invoices.errors import PlanVersionUnknown
from invoicing.projections.consumer import on_customer
from invora.events.envelope import EventEnvelope
from invora.ids import uuid7
from invora.service_client import ServiceClient

START, END = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


def envelope(org: uuid.UUID, event_type: str, aggregate: str, aggregate_id: str, data: dict) -> EventEnvelope:
    return EventEnvelope(type=event_type, source="test", organization_id=org, aggregate_type=aggregate,
                         aggregate_id=aggregate_id, sequence=1, data=data, occurred_at=END + timedelta(seconds=1))


async def test_a_missing_plan_version_is_read_from_the_catalog(start_service, invora_keys):
    org = uuid.uuid4()
    catalog = await start_service("catalog", relay_enabled=False)  # its plan events never reach invoicing
    invoicing = await start_service("invoicing", consumers_enabled=False, scheduler_enabled=False)
    created = await catalog.client(org).post("/api/v1/plans", json={"plan": {
        "name": "Startup", "invoice_display_name": "Startup plan", "code": "startup", "interval": "monthly",
        "amount_cents": 10_000, "amount_currency": "EUR", "pay_in_advance": False}})
    assert created.status_code == 200, created.text
    plan = created.json()["plan"]

    customer_id = str(uuid.uuid4())
    customer = {"lago_id": customer_id, "sequential_id": 1, "slug": "CUS-1", "external_id": "cus_fallback",
                "name": "Acme", "currency": "EUR", "applicable_timezone": "UTC", "tax_codes": [],
                "account_type": "customer", "finalize_zero_amount_invoice": "inherit",
                "skip_invoice_custom_sections": False, "billing_configuration": {}, "shipping_address": {},
                "created_at": START.isoformat(), "updated_at": START.isoformat()}
    async with invoicing.database.sessionmaker() as session:
        await on_customer(session, envelope(org, "customer.created", "customer", customer_id, {"customer": customer}))
        await session.commit()
    subscription = {"lago_id": str(uuid.uuid4()), "external_id": "sub_fallback", "lago_customer_id": customer_id,
                    "external_customer_id": "cus_fallback", "plan_code": "startup", "lago_plan_id": plan["lago_id"],
                    "lago_plan_version_id": plan["lago_plan_version_id"], "plan_amount_cents": 10_000,
                    "plan_amount_currency": "EUR", "plan_interval": "monthly", "pay_in_advance": False,
                    "status": "active", "billing_time": "calendar", "subscription_at": START.isoformat(),
                    "started_at": START.isoformat(), "created_at": START.isoformat(), "timezone": "UTC"}
    closed = envelope(org, "subscription.billing_period_ended", "subscription", subscription["lago_id"], {
        "lago_billing_period_id": str(uuid7()), "subscription": subscription,
        "lago_plan_version_id": plan["lago_plan_version_id"], "period_start": START.isoformat(),
        "period_end": END.isoformat(), "full_period_start": START.isoformat(), "full_period_end": END.isoformat(),
        "reason": "period_end", "timezone": "UTC",
        "usage": {"from_datetime": START.isoformat(), "to_datetime": END.isoformat(), "issuing_date": "2026-04-01",
                  "currency": "EUR", "amount_cents": 0, "total_amount_cents": 0, "charges_usage": []}})

    runtime = invoicing.app.state.runtime
    pem = invora_keys.private_pem.decode()

    async def versions() -> int:
        async with invoicing.database.sessionmaker() as session:
            return (await session.execute(text("SELECT count(*) FROM plan_versions WHERE organization_id = :o"),
                                          {"o": org})).scalar_one()

    # the catalog unreachable: nothing stored, the event fails (retried and parked by the platform as before)
    runtime.catalog = ServiceClient(base_url="http://127.0.0.1:9", subject="service:invoicing", issuer="invora",
                                    signing_key=pem, timeout=0.5, retries=0)
    async with invoicing.database.sessionmaker() as session:
        with pytest.raises(PlanVersionUnknown):
            await with_catalog_fallback(runtime)(session, [closed])
    assert await versions() == 0

    runtime.catalog = ServiceClient(base_url="http://catalog.test", subject="service:invoicing", issuer="invora",
                                    signing_key=pem, transport=httpx.ASGITransport(app=catalog.app))
    handle = with_catalog_fallback(runtime)
    async with invoicing.database.sessionmaker() as session:
        with pytest.raises(PlanVersionUnknown):  # this attempt fails, the version is stored on its own
            await handle(session, [closed])
    assert await versions() == 1
    async with invoicing.database.sessionmaker() as session:  # the platform's retry in place
        await handle(session, [closed])
        await session.commit()
    listed = await invoicing.client(org).get("/api/v1/invoices")
    [invoice] = listed.json()["invoices"]
    assert (invoice["status"], invoice["total_amount_cents"]) == ("finalized", 10_000)
    full = (await invoicing.client(org).get(f"/api/v1/invoices/{invoice['lago_id']}")).json()["invoice"]
    [fee] = full["fees"]
    assert (fee["item"]["code"], fee["item"]["name"], fee["item"]["invoice_display_name"]) == (
        "startup", "Startup", "Startup plan")
    await runtime.catalog.aclose()
