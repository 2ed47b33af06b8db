"""Fixtures for the payments service's tests (the invora pytest plugin provides the infrastructure).

One payments service per test module (`payments`), on its own migrated database, talking to the
session's localstripe; the charger loop runs only in modules that set `CHARGER = True` (others drive
`charger.run_once` themselves, to stage crashes and timeouts), consumers only where `CONSUMERS = True`.
Tests isolate themselves by organization (a fresh `org` each) and by Stripe customer. Customers and
invoices reach the projections the way the consumers put them there (`apply_event` with an envelope).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from invora.events.envelope import EventEnvelope
from invora.testing.services import RunningService, run_service
from payments.customers import service as customers
from payments.invoices import service as invoices

SERVICE = "payments"
CARD_OK = "4242424242424242"
CARD_DECLINED_ON_CHARGE = "4000000000000341"  # attaches, then every charge is declined
CARD_3DS = "4000002500003155"  # requires authentication


@pytest.fixture(scope="session")
def service_name() -> str:
    return SERVICE


@pytest.fixture(scope="module")
async def payments(request, migrated_database, invora_kafka: str, invora_keys, localstripe
                   ) -> AsyncIterator[RunningService]:
    url = migrated_database(SERVICE)
    async with run_service(SERVICE, database_url=url, kafka=invora_kafka, keys=invora_keys,
                           consumers_enabled=getattr(request.module, "CONSUMERS", False),
                           charger_enabled=getattr(request.module, "CHARGER", False),
                           charger_interval_seconds=0.1, charger_backoff_seconds=1.0, provider_timeout_seconds=5.0,
                           charger_lease_seconds=30.0, stripe_api_base=localstripe.url,
                           consumer_session_timeout_ms=2_000) as running:
        yield running


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture(scope="session")
def stripe_client(localstripe):
    return localstripe.client()


def customer_object(external_id: str, *, lago_id: uuid.UUID, provider_code: str | None,
                    provider_customer_id: str | None, email: str | None = "billing@acme.test") -> dict:
    now = datetime.now(UTC).isoformat()
    return {
        "lago_id": str(lago_id), "sequential_id": 1, "slug": "CUS-1", "external_id": external_id, "name": "Acme",
        "email": email, "currency": "EUR", "applicable_timezone": "UTC", "account_type": "customer",
        "finalize_zero_amount_invoice": "inherit", "skip_invoice_custom_sections": False,
        "billing_configuration": {"payment_provider": "stripe" if provider_code else None,
                                  "payment_provider_code": provider_code,
                                  "provider_customer_id": provider_customer_id},
        "shipping_address": {}, "created_at": now, "updated_at": now, "deleted_at": None,
    }


class Stage:
    """Arranges one organization's world: a Stripe connection, customers with cards, finalized invoices."""

    def __init__(self, service: RunningService, org: uuid.UUID, stripe_client, localstripe) -> None:
        self.service = service
        self.org = org
        self.stripe = stripe_client
        self.localstripe = localstripe
        self.client = service.client(org, roles=["admin"])
        self.provider_code = f"stripe_{uuid.uuid4().hex[:6]}"
        self.webhook_secret = f"whsec_{uuid.uuid4().hex}"

    async def ok(self, method: str, url: str, json: Any = None, status: int = 200, client=None) -> dict:
        response = await (client or self.client).request(method, url, json=json)
        assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text}"
        return response.json()

    async def error(self, method: str, url: str, json: Any = None, status: int = 422, client=None) -> dict:
        response = await (client or self.client).request(method, url, json=json)
        assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text}"
        body = response.json()
        assert body["status"] == status and "code" in body and "error" in body
        return body

    async def connect_stripe(self) -> dict:
        return (await self.ok("POST", "/api/v1/payment_providers", {"payment_provider": {
            "provider_type": "stripe", "code": self.provider_code, "name": "Stripe",
            "secret_key": "sk_test_" + uuid.uuid4().hex, "webhook_secret": self.webhook_secret}}))["payment_provider"]

    def stripe_customer(self, card: str | None = CARD_OK) -> str:
        customer = self.stripe.v1.customers.create({"email": "payer@acme.test"})
        if card:
            method = self.stripe.v1.payment_methods.create({"type": "card", "card": {
                "number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
            self.stripe.v1.payment_methods.attach(method.id, {"customer": customer.id})
        return customer.id

    async def customer(self, *, card: str | None = CARD_OK, provider: bool = True, linked: bool = True,
                       external_id: str | None = None) -> dict:
        """A customer in the projection; `linked`: it names an existing Stripe customer holding `card`."""
        customer, envelope = self.customer_event(card=card, provider=provider, linked=linked, external_id=external_id)
        async with self.service.database.sessionmaker() as session:
            await customers.apply_event(session, envelope)
            await session.commit()
        return customer

    def customer_event(self, *, card: str | None = CARD_OK, provider: bool = True, linked: bool = True,
                       external_id: str | None = None) -> tuple[dict, EventEnvelope]:
        external_id = external_id or f"cus_{uuid.uuid4().hex[:8]}"
        provider_customer_id = self.stripe_customer(card) if provider and linked else None
        obj = customer_object(external_id, lago_id=uuid.uuid4(), provider_code=self.provider_code if provider else None,
                              provider_customer_id=provider_customer_id)
        envelope = EventEnvelope(type="customer.created", source="subscriptions", organization_id=self.org,
                                 aggregate_type="customer", aggregate_id=obj["lago_id"], sequence=1,
                                 data={"customer": obj})
        return {**obj, "provider_customer_id": provider_customer_id}, envelope

    def invoice_event(self, customer: dict, amount_cents: int, *, invoice_id: uuid.UUID | None = None,
                      type: str = "invoice.finalized", status: str = "finalized", sequence: int = 1) -> EventEnvelope:
        invoice_id = invoice_id or uuid.uuid4()
        now = datetime.now(UTC)
        invoice = {
            "lago_id": str(invoice_id), "number": f"INV-{invoice_id.hex[:6]}", "status": status,
            "issuing_date": now.date().isoformat(), "payment_due_date": now.date().isoformat(),
            "payment_overdue": False, "net_payment_term": 0, "invoice_type": "subscription",
            "payment_status": "pending", "currency": "EUR", "fees_amount_cents": amount_cents,
            "coupons_amount_cents": 0, "credit_notes_amount_cents": 0,
            "sub_total_excluding_taxes_amount_cents": amount_cents, "taxes_amount_cents": 0,
            "sub_total_including_taxes_amount_cents": amount_cents, "prepaid_credit_amount_cents": 0,
            "progressive_billing_credit_amount_cents": 0, "total_amount_cents": amount_cents, "version_number": 4,
            "created_at": now.isoformat(), "updated_at": now.isoformat(),
            "customer": {k: v for k, v in customer.items() if k != "provider_customer_id"},
        }
        return EventEnvelope(type=type, source="invoicing", organization_id=self.org, aggregate_type="invoice",
                             aggregate_id=str(invoice_id), sequence=sequence, data={"invoice": invoice})

    async def apply_invoice_event(self, envelope: EventEnvelope) -> uuid.UUID | None:
        async with self.service.database.sessionmaker() as session:
            payment_id = await invoices.apply_event(session, envelope)
            await session.commit()
        return payment_id

    async def finalize(self, customer: dict, amount_cents: int, **kwargs) -> tuple[uuid.UUID, uuid.UUID | None]:
        envelope = self.invoice_event(customer, amount_cents, **kwargs)
        return uuid.UUID(envelope.aggregate_id), await self.apply_invoice_event(envelope)

    async def payment(self, payment_id: uuid.UUID) -> dict:
        return (await self.ok("GET", f"/api/v1/payments/{payment_id}"))["payment"]

    async def wait_for_status(self, payment_id: uuid.UUID, statuses: set[str], timeout: float = 20.0) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            payment = await self.payment(payment_id)
            if payment["payment_status"] in statuses:
                return payment
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"payment stayed {payment['payment_status']}")
            await asyncio.sleep(0.1)

    def charges_at_stripe(self, provider_customer_id: str) -> list:
        """Every charge localstripe holds for the customer (what a double charge would show twice)."""
        return [c for c in self.stripe.v1.charges.list({"customer": provider_customer_id, "limit": 100}).data
                if c.status == "succeeded"]

    async def events(self, *types: str) -> list[dict]:
        async with self.service.database.sessionmaker() as session:
            rows = (await session.execute(text(
                "SELECT envelope FROM outbox_events WHERE event_type = ANY(:types) ORDER BY position"),
                {"types": list(types)})).scalars().all()
        return [row for row in rows if row["organization_id"] == str(self.org)]


@pytest.fixture
async def stage(payments, org, stripe_client, localstripe) -> Stage:
    stage = Stage(payments, org, stripe_client, localstripe)
    await stage.connect_stripe()
    return stage
