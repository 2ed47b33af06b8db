"""The fan-out of one consumed batch: one delivery per event and matching endpoint, nothing else."""

import uuid

from sqlalchemy import text

from invora.events.envelope import EventEnvelope
from notifications.fanout.consumer import fan_out
from notifications.runtime import NotificationsRuntime


def _event(org, type, data=None, aggregate_type=None):
    return EventEnvelope(type=type, source="test", organization_id=org,
                         aggregate_type=aggregate_type or type.split(".")[0], aggregate_id=str(uuid.uuid4()),
                         sequence=1, data=data or {})


async def test_a_batch_makes_one_delivery_per_event_and_matching_endpoint(notifications, kit):
    org, other_org = uuid.uuid4(), uuid.uuid4()
    client = notifications.client(org)
    everything = await kit.create_endpoint(client, "http://127.0.0.1:9/all", signature_algo="hmac")
    invoices = await kit.create_endpoint(client, "http://127.0.0.1:9/inv", signature_algo="hmac",
                                         event_types=["invoice.*"])
    await kit.create_endpoint(notifications.client(other_org), "http://127.0.0.1:9/theirs", signature_algo="hmac")
    events = [
        _event(org, "webhook.test", {"webhook_endpoint": {"lago_id": everything["lago_id"]}}, "webhook_endpoint"),
        _event(org, "invoice.created"),
        _event(org, "customer.created"),
        _event(org, "subscription.billing_period_ended"),
        _event(uuid.uuid4(), "invoice.created"),  # an organization without endpoints: nothing recorded
    ]
    runtime = notifications.app.state.runtime
    quiet = NotificationsRuntime(
        settings=runtime.settings.model_copy(update={"excluded_event_types": ["subscription.billing_period_ended"]}),
        clock=runtime.clock,
    )
    async with notifications.database.sessionmaker() as session:
        created = await fan_out(session, events, quiet)
        await session.commit()
    assert created == 4  # test -> 1, invoice -> 2, customer -> 1, excluded -> 0, unknown organization -> 0
    rows = await kit.fetch_all(
        notifications.database,
        "SELECT m.event_type, d.endpoint_id FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id "
        "WHERE m.event_id = ANY(:ids)", ids=[e.id for e in events],
    )
    pairs = sorted((r["event_type"], str(r["endpoint_id"])) for r in rows)
    assert pairs == sorted([
        ("webhook.test", everything["lago_id"]),
        ("invoice.created", everything["lago_id"]), ("invoice.created", invoices["lago_id"]),
        ("customer.created", everything["lago_id"]),
    ])
    messages = await kit.fetch_all(notifications.database, "SELECT count(*) AS n FROM webhook_messages "
                                   "WHERE event_id = ANY(:ids)", ids=[e.id for e in events])
    assert messages[0]["n"] == 3
    async with notifications.database.sessionmaker() as session:  # leave no retries behind for the module
        await session.execute(text("DELETE FROM webhook_messages WHERE event_id = ANY(:ids)"),
                              {"ids": [e.id for e in events]})
        await session.commit()


async def test_internal_saga_events_never_reach_tenant_endpoints(notifications, kit):
    from invora.events.contracts.internal import INTERNAL_EVENT_TYPES

    org = uuid.uuid4()
    client = notifications.client(org)
    everything = await kit.create_endpoint(client, "http://127.0.0.1:9/all", signature_algo="hmac")
    named = await kit.create_endpoint(client, "http://127.0.0.1:9/named", signature_algo="hmac",
                                      event_types=["invoice.*", "credits.applied", "invoice.finalized"])
    internal = [_event(org, t) for t in sorted(INTERNAL_EVENT_TYPES)]
    public = _event(org, "invoice.finalized")
    assert {"invoice.prepaid_credits_requested", "invoice.prepaid_credits_release_requested", "credits.applied",
            "credits.released"} <= INTERNAL_EVENT_TYPES
    async with notifications.database.sessionmaker() as session:
        created = await fan_out(session, [*internal, public], notifications.app.state.runtime)
        await session.commit()
    rows = await kit.fetch_all(
        notifications.database,
        "SELECT m.event_type, d.endpoint_id FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id "
        "WHERE m.event_id = ANY(:ids)", ids=[e.id for e in [*internal, public]],
    )
    # the public event reaches both endpoints; no internal one reaches any, whatever the endpoint's filter says
    assert created == 2
    assert sorted((r["event_type"], str(r["endpoint_id"])) for r in rows) == sorted([
        ("invoice.finalized", everything["lago_id"]), ("invoice.finalized", named["lago_id"])])
    async with notifications.database.sessionmaker() as session:
        await session.execute(text("DELETE FROM webhook_messages WHERE event_id = ANY(:ids)"), {"ids": [public.id]})
        await session.commit()
