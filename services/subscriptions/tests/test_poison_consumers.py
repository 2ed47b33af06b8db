"""Poison events on the subscriptions service's consumers (through the real broker): a
`plan.cascade_requested` that can never succeed (its new version does not exist) is parked with its
error, and a healthy cascade behind it on the same partition goes through in its normal time.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy import text

from invora.events.contracts.catalog import PlanCascadeRequestedEvent, PriceChanges
from invora.events.envelope import EventEnvelope

from .conftest import Plans  # noqa: TID252

CONSUMERS = True


async def test_a_cascade_that_always_fails_is_parked_and_the_next_one_applies(
        api, plans, catalog, subs, org, make_api, invora_kafka):
    # the healthy organization: a real cascade, through the catalog
    plan = await plans.plan(amount_cents=1_000)
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "c1", "plan_code": plan["code"], "external_id": "healthy"}})
    # the poisoned organization: a subscription on some version, and a cascade to a version that does not exist
    other = uuid.uuid4()
    other_plans = Plans(catalog.client(other, roles=["admin"]))
    other_plan = await other_plans.plan(amount_cents=500)
    await make_api(other).ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "c9", "plan_code": other_plan["code"], "external_id": "stuck"}})
    poison = EventEnvelope(
        type="plan.cascade_requested", source="catalog", organization_id=other, aggregate_type="plan",
        aggregate_id=plan["lago_id"], sequence=1,
        data=PlanCascadeRequestedEvent(
            lago_plan_id=uuid.UUID(other_plan["lago_id"]), plan_code=other_plan["code"],
            from_plan_version_id=uuid.UUID(other_plan["lago_plan_version_id"]),
            to_plan_version_id=uuid.uuid4(), changes=PriceChanges(fields=["amount_cents"])).model_dump(mode="json"))
    producer = AIOKafkaProducer(bootstrap_servers=invora_kafka, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        # keyed like the healthy plan's events: the same partition, ahead of its cascade
        await producer.send_and_wait("invora.plan", value=poison.model_dump_json().encode(),
                                     key=plan["lago_id"].encode())
    finally:
        await producer.stop()
    started = time.monotonic()
    updated = (await plans.api.ok("PUT", f"/api/v1/plans/{plan['code']}", {"plan": {
        "amount_cents": 1_200, "cascade_updates": True}}))["plan"]
    for _ in range(200):
        healthy = (await api.ok("GET", "/api/v1/subscriptions/healthy"))["subscription"]
        if healthy["lago_plan_version_id"] == updated["lago_plan_version_id"]:
            break
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - started
    assert healthy["lago_plan_version_id"] == updated["lago_plan_version_id"]
    assert elapsed < 8.0, elapsed  # the group join (~1-2 s) and 0.6 s of in-place retries, not forever
    async with subs.database.sessionmaker() as session:
        row = (await session.execute(text(
            "SELECT error, attempts, organization_id FROM parked_items WHERE loop = 'consumer:plan-cascade' "
            "AND item_key = :k"), {"k": str(poison.id)})).one()
    assert "NotFound" in row.error and row.attempts >= 1 and row.organization_id == other
    assert REGISTRY.get_sample_value("parked_items", {"service": "subscriptions",
                                                      "loop": "consumer:plan-cascade"}) >= 1
    stuck = (await make_api(other).ok("GET", "/api/v1/subscriptions/stuck"))["subscription"]
    assert stuck["lago_plan_version_id"] == other_plan["lago_plan_version_id"]

