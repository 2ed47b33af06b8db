"""Lago's official Python client with ONE `api_url`: the gateway (real Caddy, configured from the
running services' own OpenAPI documents) in front of the six services, each served over real HTTP
with its own database and the shared Kafka. Catalog, customers, subscriptions, events, usage and
webhook endpoints all answer through the one origin, and a webhook the suite sends because of a
call made through the gateway arrives signed with the key read through the gateway."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import (
    BatchEvent,
    BillableMetric,
    Charge,
    Charges,
    Customer,
    Event,
    Plan,
    Subscription,
    WebhookEndpoint,
)

from invora.db.migrate import SERVICES

from .e2e import gateway_over  # noqa: TID252


@pytest.fixture
def gateway(live_service, invora_keys, tmp_path: Path) -> Iterator[str]:
    with gateway_over(live_service, invora_keys, tmp_path) as origin:
        yield origin


async def test_lago_client_with_one_api_url_drives_the_whole_suite(gateway, make_api_key, webhook_receiver):
    lago = Client(api_key=make_api_key(uuid.uuid4(), ["admin"]), api_url=gateway + "/")

    def call(method, *args):
        return asyncio.to_thread(method, *args)

    # webhook endpoints (notifications)
    endpoint = await call(lago.webhook_endpoints.create, WebhookEndpoint(
        webhook_url=webhook_receiver.url + "/hooks", signature_algo="jwt", event_types=["customer.created"]))
    assert endpoint.signature_algo == "jwt"
    listed_endpoints = await call(lago.webhook_endpoints.find_all)
    assert [e.lago_id for e in listed_endpoints["webhook_endpoints"]] == [endpoint.lago_id]

    # catalog
    metric = await call(lago.billable_metrics.create,
                        BillableMetric(name="API calls", code="calls", aggregation_type="count_agg"))
    assert metric.code == "calls" and metric.lago_id
    plan = await call(lago.plans.create, Plan(
        name="Pro", code="pro", interval="monthly", amount_cents=1000, amount_currency="EUR", pay_in_advance=False,
        charges=Charges(__root__=[Charge(billable_metric_id=metric.lago_id, charge_model="standard",
                                         properties={"amount": "0.5"})])))
    assert plan.code == "pro" and (await call(lago.plans.find, "pro")).lago_id == plan.lago_id

    # customers and subscriptions
    customer = await call(lago.customers.create, Customer(external_id="cus_gw", name="Acme", currency="EUR"))
    assert customer.external_id == "cus_gw" and (await call(lago.customers.find, "cus_gw")).name == "Acme"
    subscription = await call(lago.subscriptions.create,
                              Subscription(external_customer_id="cus_gw", plan_code="pro", external_id="sub_gw"))
    assert subscription.plan_code == "pro" and subscription.status == "active"

    # events and usage
    created = await call(lago.events.create, Event(transaction_id="t1", external_subscription_id="sub_gw",
                                                   code="calls"))
    assert created.transaction_id == "t1"
    await call(lago.events.batch_create, BatchEvent(events=[
        Event(transaction_id=f"b{i}", external_subscription_id="sub_gw", code="calls") for i in range(100)]))
    assert (await call(lago.events.find, "b99")).code == "calls"
    usage = await call(lago.customers.current_usage, "cus_gw", "sub_gw")
    assert usage.amount_cents == 5050 and usage.charges_usage[0].units == "101"

    # errors keep Lago's shapes through the gateway
    with pytest.raises(LagoApiError) as missing:
        await call(lago.customers.find, "nobody")
    assert missing.value.status_code == 404
    with pytest.raises(LagoApiError) as invalid:
        await call(lago.events.create, Event(transaction_id="t2", external_subscription_id="sub_gw", code="nope"))
    assert invalid.value.status_code == 422

    # the customer created through the gateway reaches the endpoint created through the gateway,
    # signed with the key read through the gateway
    public_key = await call(lago.webhooks.public_key)
    (delivery,) = await webhook_receiver.wait_for(1, timeout=30)
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    body = json.loads(delivery.body)
    assert body["webhook_type"] == "customer.created" and body["customer"]["external_id"] == "cus_gw"
    claims = jwt.decode(headers["x-lago-signature"], public_key, algorithms=["RS256"], issuer=gateway)
    assert claims["data"] == delivery.body.decode()

    async with httpx.AsyncClient(base_url=gateway) as client:
        health = (await client.get("/health")).json()
    assert health["status"] == "ok" and set(health["services"]) == set(SERVICES)
