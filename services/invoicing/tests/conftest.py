"""Fixtures for the invoicing service's tests (the invora pytest plugin provides the infrastructure).

One invoicing service per test module (`inv`), on its own migrated database, a manual clock in its runtime,
consumers off unless the module sets `CONSUMERS = True`; tests isolate themselves by organization.
`World` builds the events other services would publish (customers, plans, taxes, closed periods) from
the shared contracts and hands them to the service's own handlers, each in one transaction as the
platform consumer would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from invoicing.invoices.consumer import on_subscription_event
from invoicing.projections.consumer import (
    on_add_on,
    on_billing_entity,
    on_coupon,
    on_customer,
    on_organization,
    on_plan,
    on_tax,
)
from invora.clock import ManualClock
from invora.events.envelope import EventEnvelope
from invora.ids import uuid7
from invora.testing.api import ApiClient
from invora.testing.services import RunningService, run_service

SERVICE = "invoicing"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def service_name() -> str:
    return SERVICE


@pytest.fixture(scope="module")
async def inv(request, migrated_database, invora_kafka: str, invora_keys) -> AsyncIterator[RunningService]:
    url = migrated_database(SERVICE)
    consumers = getattr(request.module, "CONSUMERS", False)
    async with run_service(SERVICE, database_url=url, kafka=invora_kafka, keys=invora_keys,
                           scheduler_enabled=False, consumers_enabled=consumers,
                           consumer_session_timeout_ms=2_000) as running:
        running.app.state.runtime.clock = ManualClock(T0)
        yield running


def tax(code: str, rate: str, applied_to_organization: bool = False) -> dict:
    return {"lago_id": str(uuid.uuid4()), "name": code.upper(), "code": code, "rate": float(rate),
            "applied_to_organization": applied_to_organization, "created_at": T0.isoformat()}


def charge(metric_code: str, model: str = "standard", properties: dict | None = None, **fields) -> dict:
    return {"lago_id": str(uuid.uuid4()), "lago_billable_metric_id": str(uuid.uuid4()),
            "billable_metric_code": metric_code, "code": f"{metric_code}_charge", "created_at": T0.isoformat(),
            "charge_model": model, "properties": properties or {"amount": "1"}, "filters": [], "taxes": [],
            **fields}


def charge_usage(charge_body: dict, units: str, events_count: int = 1, filters: list | None = None,
                 event_values: list | None = None) -> dict:
    return {"units": units, "total_aggregated_units": units, "events_count": events_count, "amount_cents": 0,
            "amount_currency": "EUR", "event_values": event_values,
            "charge": {"lago_id": charge_body["lago_id"], "charge_model": charge_body["charge_model"]},
            "billable_metric": {"lago_id": charge_body["lago_billable_metric_id"],
                                "name": charge_body["billable_metric_code"],
                                "code": charge_body["billable_metric_code"], "aggregation_type": "sum_agg"},
            "filters": filters or [], "grouped_usage": []}


class World:
    """One organization's view of the other services, delivered through the real handlers."""

    def __init__(self, inv: RunningService, organization_id: uuid.UUID) -> None:
        self.inv = inv
        self.org = organization_id
        self.sequence = 0

    def envelope(self, event_type: str, aggregate: str, aggregate_id: Any, data: dict,
                 occurred_at: datetime | None = None) -> EventEnvelope:
        self.sequence += 1
        return EventEnvelope(type=event_type, source="test", organization_id=self.org, aggregate_type=aggregate,
                             aggregate_id=str(aggregate_id), sequence=self.sequence, data=data,
                             occurred_at=occurred_at or T0)

    async def deliver(self, handler, envelope: EventEnvelope) -> None:
        async with self.inv.database.sessionmaker() as session:
            await handler(session, envelope)
            await session.commit()

    async def customer(self, external_id: str | None = None, **fields) -> dict:
        body = {"lago_id": str(uuid.uuid4()), "sequential_id": 7, "slug": "CUS-007",
                "external_id": external_id or f"cus_{uuid.uuid4().hex[:8]}", "name": "Acme", "currency": "EUR",
                "timezone": None, "applicable_timezone": "UTC", "tax_codes": [], "account_type": "customer",
                "net_payment_term": None, "invoice_grace_period": None, "finalize_zero_amount_invoice": "inherit",
                "skip_invoice_custom_sections": False, "billing_configuration": {}, "shipping_address": {},
                "created_at": T0.isoformat(), "updated_at": T0.isoformat(), **fields}
        await self.deliver(on_customer, self.envelope("customer.created", "customer", body["lago_id"],
                                                      {"customer": body}))
        return body

    async def organization(self, occurred_at: datetime | None = None, billing_configuration: dict | None = None,
                           **fields) -> dict:
        """The catalog's `organization.updated` (the whole object, as `PUT /organizations` publishes it)."""
        body = {"lago_id": str(self.org), "name": "Acme", "created_at": T0.isoformat(),
                "billing_configuration": {"invoice_grace_period": 0, **(billing_configuration or {})}, **fields}
        await self.deliver(on_organization, self.envelope("organization.updated", "organization", self.org,
                                                          {"organization": body}, occurred_at=occurred_at))
        return body

    async def billing_entity(self, code: str, taxes: list | None = None, updated_at: datetime | None = None,
                             **fields) -> dict:
        """The catalog's `billing_entity.updated` (the whole entity)."""
        at = (updated_at or T0).isoformat()
        body = {"lago_id": str(uuid.uuid4()), "code": code, "name": code.title(), "taxes": taxes or [],
                "created_at": T0.isoformat(), "updated_at": at, **fields}
        await self.deliver(on_billing_entity, self.envelope("billing_entity.updated", "billing_entity",
                                                            body["lago_id"], {"billing_entity": body}))
        return body

    async def tax(self, code: str, rate: str, applied_to_organization: bool = False) -> dict:
        body = tax(code, rate, applied_to_organization)
        await self.deliver(on_tax, self.envelope("tax.created", "tax", body["lago_id"], {"tax": body}))
        return body

    async def add_on(self, code: str, amount_cents: int, taxes: list | None = None) -> dict:
        body = {"lago_id": str(uuid.uuid4()), "name": code.title(), "code": code, "amount_cents": amount_cents,
                "amount_currency": "EUR", "created_at": T0.isoformat(), "taxes": taxes or []}
        await self.deliver(on_add_on, self.envelope("add_on.created", "add_on", body["lago_id"], {"add_on": body}))
        return body

    async def coupon_event(self, body: dict) -> None:
        await self.deliver(on_coupon, self.envelope("coupon.created", "coupon", body["lago_id"], {"coupon": body}))

    async def plan(self, amount_cents: int = 10_000, charges: list | None = None, taxes: list | None = None,
                   pay_in_advance: bool = False, interval: str = "monthly", **fields) -> dict:
        plan_id = str(uuid.uuid4())
        body = {"lago_id": plan_id, "name": "Startup", "code": f"plan_{uuid.uuid4().hex[:6]}", "interval": interval,
                "amount_cents": amount_cents, "amount_currency": "EUR", "pay_in_advance": pay_in_advance,
                "charges": charges or [], "taxes": taxes or [], "created_at": T0.isoformat(),
                "lago_plan_version_id": str(uuid.uuid4()), "version": 1, **fields}
        await self.deliver(on_plan, self.envelope("plan.created", "plan", plan_id, {"plan": body}))
        return body

    def subscription(self, customer: dict, plan: dict, external_id: str | None = None, **fields) -> dict:
        return {"lago_id": str(uuid.uuid4()), "external_id": external_id or f"sub_{uuid.uuid4().hex[:8]}",
                "lago_customer_id": customer["lago_id"], "external_customer_id": customer["external_id"],
                "plan_code": plan["code"], "lago_plan_id": plan["lago_id"],
                "lago_plan_version_id": plan["lago_plan_version_id"], "plan_amount_cents": plan["amount_cents"],
                "plan_amount_currency": "EUR", "plan_interval": plan["interval"],
                "pay_in_advance": plan["pay_in_advance"], "status": "active", "billing_time": "calendar",
                "subscription_at": T0.isoformat(), "started_at": T0.isoformat(), "created_at": T0.isoformat(),
                "timezone": "UTC", **fields}

    def period_ended(self, subscription: dict, start: datetime, end: datetime, usage: list | None = None,
                     reason: str = "period_end", full: tuple[datetime, datetime] | None = None,
                     **fields) -> EventEnvelope:
        full_start, full_end = full or (start, end)
        data = {"lago_billing_period_id": str(uuid7()), "subscription": subscription,
                "lago_plan_version_id": subscription["lago_plan_version_id"], "plan_overrides": {},
                "period_start": start.isoformat(), "period_end": end.isoformat(),
                "full_period_start": full_start.isoformat(), "full_period_end": full_end.isoformat(),
                "reason": reason, "timezone": "UTC",
                "usage": {"from_datetime": start.isoformat(), "to_datetime": end.isoformat(),
                          "issuing_date": end.date().isoformat(), "currency": "EUR", "amount_cents": 0,
                          "total_amount_cents": 0, "charges_usage": usage or []}, **fields}
        return self.envelope("subscription.billing_period_ended", "subscription", subscription["lago_id"], data,
                             occurred_at=end + timedelta(seconds=1))

    async def close(self, subscription: dict, start: datetime, end: datetime, **kwargs) -> EventEnvelope:
        envelope = self.period_ended(subscription, start, end, **kwargs)
        await self.deliver(on_subscription_event, envelope)
        return envelope


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def world(inv: RunningService, org: uuid.UUID) -> World:
    return World(inv, org)


@pytest.fixture
def make_api(inv: RunningService):
    def make(organization_id: uuid.UUID, roles=("admin",), **kwargs) -> ApiClient:
        return ApiClient(inv.client(organization_id, roles=list(roles), **kwargs))

    return make


@pytest.fixture
def api(make_api, org: uuid.UUID) -> ApiClient:
    return make_api(org)
