"""The ongoing balance, end to end: catalog → subscriptions (real usage, priced) → wallets' refresh over HTTP.

A wallet's `ongoing_usage_balance_cents` is the customer's current unbilled usage as the subscriptions
service prices it; the ongoing balance is the balance minus that; `wallet.depleted_ongoing_balance` is
published once when it reaches zero or below; subscriptions unreachable keeps the last figures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from invora.clock import ManualClock
from invora.events.envelope import EventEnvelope
from invora.service_client import ServiceClient
from wallets.customers import service as wallet_customers
from wallets.usage.refresh import refresh_pass

from .e2e import ok  # noqa: TID252

START = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)


def _customer_event(org: uuid.UUID, external_id: str) -> EventEnvelope:
    lago_id, now = uuid.uuid4(), datetime.now(UTC).isoformat()
    customer = {"lago_id": str(lago_id), "sequential_id": 1, "slug": "CUS-1", "external_id": external_id,
                "currency": "EUR", "applicable_timezone": "UTC", "account_type": "customer",
                "finalize_zero_amount_invoice": "inherit", "skip_invoice_custom_sections": False,
                "billing_configuration": {}, "shipping_address": {}, "created_at": now, "updated_at": now}
    return EventEnvelope(type="customer.created", source="subscriptions", organization_id=org,
                         aggregate_type="customer", aggregate_id=str(lago_id), sequence=1, data={"customer": customer})


async def test_the_ongoing_balance_follows_priced_usage(start_suite, invora_keys):
    clock = ManualClock(START)
    async with start_suite({
        "catalog": {},
        "subscriptions": {"scheduler_enabled": False, "consumers_enabled": False},
        "wallets": {"scheduler_enabled": False, "consumers_enabled": False, "reconciliation_enabled": False},
    }, clock=clock) as suite:
        org, subs, wallets = suite.org, suite["subscriptions"], suite["wallets"]
        cat, sub_api, wal = suite.api("catalog"), suite.api("subscriptions"), suite.api("wallets")

        metric = (await ok(cat, "POST", "/api/v1/billable_metrics", {"billable_metric": {
            "name": "Calls", "code": "calls", "aggregation_type": "count_agg"}}))["billable_metric"]
        await ok(cat, "POST", "/api/v1/plans", {"plan": {
            "name": "Startup", "code": "startup", "interval": "monthly", "amount_cents": 10_000,
            "amount_currency": "EUR", "pay_in_advance": False,
            "charges": [{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                         "properties": {"amount": "0.5"}}]}})
        await suite.customer("cus_og")
        await suite.subscribe("cus_og", "startup", "sub_og")

        async with wallets.database.sessionmaker() as session:
            await wallet_customers.apply_event(session, _customer_event(org, "cus_og"))
            await session.commit()
        wallet = (await ok(wal, "POST", "/api/v1/wallets", {"wallet": {
            "external_customer_id": "cus_og", "currency": "EUR", "rate_amount": "1", "code": "main",
            "granted_credits": "8"}}))["wallet"]
        charges_only = (await ok(wal, "POST", "/api/v1/wallets", {"wallet": {
            "external_customer_id": "cus_og", "currency": "EUR", "rate_amount": "1", "code": "fees",
            "applies_to": {"fee_types": ["subscription"]}}}))["wallet"]

        client = ServiceClient(base_url="http://subscriptions.test", subject="service:wallets", issuer="invora",
                               signing_key=invora_keys.private_pem.decode(),
                               transport=httpx.ASGITransport(app=subs.app))
        sessionmaker = wallets.database.sessionmaker

        async def events(first: int, count: int) -> None:
            await ok(sub_api, "POST", "/api/v1/events/batch", {"events": [
                {"transaction_id": f"t{n}", "external_subscription_id": "sub_og", "code": "calls",
                 "timestamp": (START + timedelta(hours=1, minutes=n)).isoformat()}
                for n in range(first, first + count)]})

        async def read(wallet_id: str) -> dict:
            return (await ok(wal, "GET", f"/api/v1/wallets/{wallet_id}"))["wallet"]

        async def depleted() -> int:
            async with sessionmaker() as session:
                return (await session.execute(text(
                    "SELECT count(*) FROM outbox_events WHERE event_type = 'wallet.depleted_ongoing_balance' "
                    "AND message_key = :k"), {"k": wallet["lago_id"]})).scalar_one()

        clock.set(START + timedelta(days=1))
        await refresh_pass(sessionmaker, client, clock.now())
        fresh = await read(wallet["lago_id"])
        assert fresh["ongoing_usage_balance_cents"] == 0 and fresh["ongoing_balance_cents"] == 800
        assert fresh["last_balance_sync_at"] is not None

        await events(0, 10)  # 10 calls at 0.50 = 500 cents
        await refresh_pass(sessionmaker, client, clock.now())
        after = await read(wallet["lago_id"])
        assert after["ongoing_usage_balance_cents"] == 500 and after["ongoing_balance_cents"] == 300
        assert after["credits_ongoing_balance"] == "3.0" and after["credits_ongoing_usage_balance"] == "5.0"
        assert after["balance_cents"] == 800  # the balance itself moves only when an invoice is paid with it
        assert (await read(charges_only["lago_id"]))["ongoing_usage_balance_cents"] == 0  # pays no charges
        assert await depleted() == 0

        await events(10, 10)  # 1000 cents of usage: the ongoing balance goes below zero
        await refresh_pass(sessionmaker, client, clock.now())
        await refresh_pass(sessionmaker, client, clock.now())
        gone = await read(wallet["lago_id"])
        assert gone["ongoing_balance_cents"] == -200 and gone["credits_ongoing_balance"] == "-2.0"
        assert await depleted() == 1  # once, not once per refresh

        down = ServiceClient(base_url="http://127.0.0.1:9", subject="service:wallets", issuer="invora",
                             signing_key=invora_keys.private_pem.decode(), timeout=0.5, retries=0)
        assert await refresh_pass(sessionmaker, down, clock.now()) == 0
        assert (await read(wallet["lago_id"]))["ongoing_usage_balance_cents"] == 1000  # the last figures stay
        await down.aclose()
        await client.aclose()
