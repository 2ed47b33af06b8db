"""Every create, update and delete publishes its event, with the full object, through the outbox."""

from __future__ import annotations

import json

from invora.events.contracts.catalog import PlanCascadeRequestedEvent, parse_event_data
from invora.testing.events import read_events


def _same(a: dict, b: dict) -> bool:
    return json.loads(json.dumps(a, sort_keys=True)) == json.loads(json.dumps(b, sort_keys=True))


async def test_every_change_publishes_the_full_object(api, org, invora_kafka, charge_of):
    tax = await api.tax()
    metric = await api.metric()
    add_on = await api.add_on()
    feature = await api.feature()
    plan = await api.plan([charge_of(metric)])
    coupon = (await api.ok("POST", "/api/v1/coupons", {"coupon": {
        "name": "C", "code": api.code("c"), "coupon_type": "percentage", "percentage_rate": "10",
        "frequency": "forever", "expiration": "no_expiration"}}))["coupon"]
    objects = {"tax": (tax, "taxes"), "billable_metric": (metric, "billable_metrics"), "add_on": (add_on, "add_ons"),
               "feature": (feature, "features"), "coupon": (coupon, "coupons"), "plan": (plan, "plans")}
    updated = {}
    for aggregate, (obj, path) in objects.items():
        updated[aggregate] = (await api.ok("PUT", f"/api/v1/{path}/{obj['code']}",
                                           {aggregate: {"name": "Renamed"}}))[aggregate]
    deleted = {}
    for aggregate, (obj, path) in reversed(list(objects.items())):
        deleted[aggregate] = (await api.ok("DELETE", f"/api/v1/{path}/{obj['code']}"))[aggregate]

    for aggregate, (obj, _path) in objects.items():
        events = await read_events(invora_kafka, f"invora.{aggregate}",
                                   lambda e, lago_id=obj["lago_id"]: e.aggregate_id == lago_id, count=3)
        assert [e.type for e in events] == [f"{aggregate}.{v}" for v in ("created", "updated", "deleted")]
        assert [e.sequence for e in events] == [1, 2, 3]
        assert all(e.organization_id == org and e.source == "catalog" for e in events)
        for event, expected in zip(events, (obj, updated[aggregate], deleted[aggregate]), strict=True):
            payload = parse_event_data(event.type, event.data)  # the contract validates the payload
            assert getattr(payload, aggregate) is not None
            assert _same(event.data[aggregate], expected), (event.type, event.data[aggregate], expected)


async def test_price_change_with_cascade_publishes_the_cascade(api, invora_kafka, charge_of):
    metric, other = await api.metric(), await api.metric()
    plan = await api.plan([charge_of(metric), charge_of(other)])
    url = f"/api/v1/plans/{plan['code']}"
    await api.ok("PUT", url, {"plan": {"name": "No price change", "cascade_updates": True}})
    updated = (await api.ok("PUT", url, {"plan": {
        "amount_cents": 1, "cascade_updates": True,
        "charges": [{"code": metric["code"], "properties": {"amount": "9"}}],
    }}))["plan"]

    events = await read_events(invora_kafka, "invora.plan", lambda e: e.aggregate_id == plan["lago_id"], count=4)
    assert [e.type for e in events] == ["plan.created", "plan.updated", "plan.updated", "plan.cascade_requested"]
    assert events[1].data["version_created"] is False and events[1].data["cascade_updates"] is True
    assert events[2].data["version_created"] is True
    assert events[2].data["previous_plan_version_id"] == plan["lago_plan_version_id"]
    assert _same(events[2].data["plan"], updated)
    cascade = PlanCascadeRequestedEvent.model_validate(events[3].data)
    assert str(cascade.from_plan_version_id) == plan["lago_plan_version_id"]
    assert str(cascade.to_plan_version_id) == updated["lago_plan_version_id"]
    assert cascade.changes.fields == ["amount_cents"]
    assert cascade.changes.charges_changed == [metric["code"]]
    assert cascade.changes.charges_removed == [other["code"]] and cascade.changes.charges_added == []


async def test_failed_validation_publishes_nothing(api, catalog):
    from sqlalchemy import text

    async with catalog.database.sessionmaker() as session:
        before = (await session.execute(text("SELECT count(*) FROM outbox_events"))).scalar_one()
    await api.error("POST", "/api/v1/plans", {"plan": {"name": "x"}})
    await api.error("POST", "/api/v1/taxes", {"tax": {"name": "x", "code": "x", "rate": "-3"}})
    async with catalog.database.sessionmaker() as session:
        after = (await session.execute(text("SELECT count(*) FROM outbox_events"))).scalar_one()
    assert after == before
