"""Activity and API logs: events of every service become Lago's `/activity_logs` and `/api_logs`, through Kafka."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from invora.events.contracts.api_logs import API_LOG_RECORDED, ApiLogRecorded
from invora.events.envelope import EventEnvelope
from notifications.activity_logs.recorder import record_activities
from notifications.api_logs.recorder import record_api_logs
from notifications.logs_retention import prune_logs
from notifications.runtime import NotificationsRuntime


async def _activities(client, **params) -> dict:
    response = await client.get("/api/v1/activity_logs", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_services_events_become_activities_with_changes_filters_and_isolation(notifications, producer,
                                                                                          kit):
    org, other = uuid.uuid4(), uuid.uuid4()
    metric_id = str(uuid.uuid4())
    metric = {"lago_id": metric_id, "code": "storage", "name": "Storage", "aggregation_type": "sum_agg"}
    await producer.emit(org, "billable_metric.created", data={"billable_metric": metric}, aggregate_id=metric_id)
    await producer.emit(org, "billable_metric.updated", data={"billable_metric": {**metric, "name": "Disk"}},
                        aggregate_id=metric_id)
    customer_id = str(uuid.uuid4())
    await producer.emit(org, "customer.created", aggregate_id=customer_id,
                        data={"customer": {"lago_id": customer_id, "external_id": "cus_42"}})
    await producer.emit(org, "subscription.billing_period_ended", data={"usage": []})  # internal: not an activity
    await producer.emit(other, "billable_metric.created", data={"billable_metric": metric}, aggregate_id=metric_id)
    client = notifications.client(org)

    async def three():
        return (await _activities(client))["meta"]["total_count"] >= 3 or None

    await kit.wait_until(three, message="three activities")
    await kit.wait_until(lambda: _activities(notifications.client(other)), message="other organization's")
    body = await _activities(client)
    assert body["meta"]["total_count"] == 3  # the internal event is not an activity
    by_type = {a["activity_type"]: a for a in body["activity_logs"]}
    assert set(by_type) == {"billable_metric.created", "billable_metric.updated", "customer.created"}
    created, updated = by_type["billable_metric.created"], by_type["billable_metric.updated"]
    assert created["activity_object"] == metric and created["activity_object_changes"] is None
    assert updated["activity_object"]["name"] == "Disk"
    assert updated["activity_object_changes"] == {"name": ["Storage", "Disk"]}
    assert created["resource_type"] == "BillableMetric" and created["resource_id"] == metric_id
    assert created["activity_source"] == "api" and created["user_email"] is None
    assert created["organization_id"] == str(org)
    assert by_type["customer.created"]["external_customer_id"] == "cus_42"

    # filters
    async def count(**params) -> int:
        return (await _activities(client, **params))["meta"]["total_count"]

    assert await count(**{"activity_types[]": "billable_metric.updated"}) == 1
    assert await count(**{"resource_types[]": ["BillableMetric", "Customer"]}) == 3
    assert await count(**{"resource_ids[]": metric_id}) == 2
    assert await count(external_customer_id="cus_42") == 1
    assert await count(external_subscription_id="sub_1") == 0
    assert await count(**{"activity_sources[]": "front"}) == 0
    assert await count(**{"activity_sources[]": "api"}) == 3
    assert await count(**{"user_emails[]": "dinesh@piedpiper.test"}) == 0
    today = datetime.now(UTC).date()
    assert await count(from_date=str(today - timedelta(days=1)), to_date=str(today + timedelta(days=1))) == 3
    assert await count(to_date=str(today - timedelta(days=1))) == 0
    assert await count(from_date=str(today + timedelta(days=1))) == 0
    page = await _activities(client, per_page=2, page=2)
    assert len(page["activity_logs"]) == 1 and page["meta"]["prev_page"] == 1 and page["meta"]["total_pages"] == 2

    # one activity, staff roles only, one organization only
    activity_id = created["activity_id"]
    one = await client.get(f"/api/v1/activity_logs/{activity_id}")
    assert one.status_code == 200 and one.json()["activity_log"] == created
    billing_admin = notifications.client(org, roles=("billing_admin",))
    assert (await billing_admin.get("/api/v1/activity_logs")).status_code == 200
    for path in ("/api/v1/activity_logs", f"/api/v1/activity_logs/{activity_id}", "/api/v1/api_logs"):
        tenant = await notifications.client(org, roles=("tenant",), customer_id=uuid.uuid4()).get(path)
        assert tenant.status_code == 403, (path, tenant.text)
    theirs = notifications.client(other)
    assert (await theirs.get(f"/api/v1/activity_logs/{activity_id}")).status_code == 404
    their_list = await _activities(theirs)
    assert their_list["meta"]["total_count"] == 1 and their_list["activity_logs"][0]["activity_id"] != activity_id


def _api_log_event(org: uuid.UUID, *, request_id: str, method: str = "post", status: int = 200,
                   path: str = "/billable_metrics", logged_at: datetime | None = None) -> EventEnvelope:
    entry = ApiLogRecorded(
        request_id=request_id, service="catalog", api_version="v1", client="lago-python-client", principal="key-1",
        http_method=method, http_status=status, request_path=path, request_origin="http://catalog.test",
        request_body='{"billable_metric":{"code":"storage"}}', logged_at=logged_at or datetime.now(UTC),
    )
    return EventEnvelope(type=API_LOG_RECORDED, source="catalog", organization_id=org, aggregate_type="api_log",
                         aggregate_id=request_id, sequence=1, data=entry.model_dump(mode="json"),
                         occurred_at=logged_at or datetime.now(UTC))


async def test_api_log_events_are_served_with_lagos_filters(notifications, producer, kit):
    org = uuid.uuid4()
    # an endpoint wanting every event: the internal api_log.recorded must still not reach it
    await kit.create_endpoint(notifications.client(org), "http://127.0.0.1:9/all", signature_algo="hmac")
    for request_id, method, status, path in (("r-1", "post", 200, "/billable_metrics"),
                                             ("r-2", "put", 422, "/billable_metrics/storage"),
                                             ("r-3", "delete", 404, "/plans/startup")):
        event = _api_log_event(org, request_id=request_id, method=method, status=status, path=path)
        await producer.emit(org, API_LOG_RECORDED, data=event.data, aggregate_id=request_id)
    client = notifications.client(org)

    async def count(**params) -> int:
        response = await client.get("/api/v1/api_logs", params=params)
        assert response.status_code == 200, response.text
        return response.json()["meta"]["total_count"]

    await kit.wait_until(lambda: count(), message="api logs")
    await kit.wait_until(lambda: _eq(count(), 3), message="three api logs")
    assert await count(**{"http_methods[]": ["post", "put"]}) == 2
    assert await count(**{"http_statuses[]": "failed"}) == 2
    assert await count(**{"http_statuses[]": "succeeded"}) == 1
    assert await count(**{"http_statuses[]": ["404", "succeeded"]}) == 2
    assert await count(**{"request_paths[]": "/billable_metrics"}) == 2
    assert await count(api_version="v1") == 3 and await count(api_version="v2") == 0
    assert await count(to_date=str(date.today() - timedelta(days=1))) == 0
    one = await client.get("/api/v1/api_logs/r-2")
    assert one.status_code == 200
    log = one.json()["api_log"]
    assert (log["http_method"], log["http_status"], log["request_path"], log["principal"]) == (
        "put", 422, "/billable_metrics/storage", "key-1")
    assert (await notifications.client(uuid.uuid4()).get("/api/v1/api_logs/r-2")).status_code == 404
    # an internal event: never a webhook delivery, nor an activity (a webhook.test proves the endpoint is live)
    endpoint = (await client.get("/api/v1/webhook_endpoints")).json()["webhook_endpoints"][0]
    test = await client.post(f"/api/v1/webhook_endpoints/{endpoint['lago_id']}/test")
    assert test.status_code == 200, test.text

    async def test_message():
        found = await kit.fetch_all(notifications.database, "SELECT event_type FROM webhook_messages "
                                    "WHERE organization_id = :org", org=org)
        return found or None

    rows = await kit.wait_until(test_message, message="the webhook.test message")
    assert [r["event_type"] for r in rows] == ["webhook.test"]
    assert (await _activities(client))["meta"]["total_count"] == 0


async def _eq(awaitable, expected):
    return (await awaitable) == expected


async def test_a_redelivered_event_is_stored_once(notifications):
    org = uuid.uuid4()
    activity = EventEnvelope(type="plan.created", source="catalog", organization_id=org, aggregate_type="plan",
                             aggregate_id=str(uuid.uuid4()), sequence=1, data={"plan": {"code": "p"}})
    api_log = _api_log_event(org, request_id="again")
    now = datetime.now(UTC)
    results = []
    for _ in range(2):
        async with notifications.database.sessionmaker() as session:
            results.append((await record_activities(session, [activity], now),
                            await record_api_logs(session, [api_log], now)))
            await session.commit()
    assert results == [(1, 1), (0, 0)]
    async with notifications.database.sessionmaker() as session:
        counts = (await session.execute(text(
            "SELECT (SELECT count(*) FROM activity_logs WHERE organization_id = :org),"
            " (SELECT count(*) FROM api_logs WHERE organization_id = :org)"), {"org": org})).one()
    assert tuple(counts) == (1, 1)


async def test_the_retention_pass_deletes_only_rows_past_their_setting(notifications):
    org = uuid.uuid4()
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=11), now - timedelta(days=9)

    def activity(at):
        return EventEnvelope(type="coupon.created", source="catalog", organization_id=org, aggregate_type="coupon",
                             aggregate_id=str(uuid.uuid4()), sequence=1, data={"coupon": {}}, occurred_at=at)

    async with notifications.database.sessionmaker() as session:
        await record_activities(session, [activity(old), activity(recent)], now)
        await record_api_logs(session, [_api_log_event(org, request_id="old", logged_at=now - timedelta(days=3)),
                                        _api_log_event(org, request_id="new", logged_at=now - timedelta(days=1))], now)
        await session.commit()
    runtime = notifications.app.state.runtime
    short = NotificationsRuntime(settings=runtime.settings.model_copy(update={
        "activity_log_retention_days": 10.0, "api_log_retention_days": 2.0}), clock=runtime.clock)
    assert await prune_logs(notifications.database.sessionmaker, short) >= 2
    async with notifications.database.sessionmaker() as session:
        kept = (await session.execute(text(
            "SELECT (SELECT array_agg(logged_at) FROM activity_logs WHERE organization_id = :org),"
            " (SELECT array_agg(request_id) FROM api_logs WHERE organization_id = :org)"), {"org": org})).one()
    assert kept[0] == [recent] and kept[1] == ["new"]


async def test_bad_filter_input_is_a_4xx_with_field_details(notifications):
    client = notifications.client(uuid.uuid4())
    cases = [
        ("/api/v1/activity_logs", {"from_date": "yesterday"}),
        ("/api/v1/activity_logs", {"to_date": "2026-13-01"}),
        ("/api/v1/activity_logs", {"activity_sources[]": "robot"}),
        ("/api/v1/activity_logs", {"activity_types[]": "a\x00b"}),
        ("/api/v1/activity_logs", {"per_page": "0"}),
        ("/api/v1/activity_logs/not-a-uuid", {}),
        ("/api/v1/api_logs", {"http_methods[]": "get"}),
        ("/api/v1/api_logs", {"http_statuses[]": "600"}),
        ("/api/v1/api_logs", {"http_statuses[]": "oops"}),
        ("/api/v1/api_logs", {"from_date": "2026-02-30"}),
        ("/api/v1/api_logs", {"http_statuses[]": ""}),
        ("/api/v1/activity_logs", {"from_date": "0"}),
    ]
    for path, params in cases:
        response = await client.get(path, params=params)
        assert 400 <= response.status_code < 500, (path, params, response.status_code, response.text)
        body = response.json()
        assert body["status"] == response.status_code and "error" in body, body
    status = await client.get("/api/v1/api_logs", params={"http_statuses[]": "oops"})
    assert status.status_code == 422 and list(status.json()["error_details"]) == ["http_statuses[].0"], status.text
    unix = await client.get("/api/v1/activity_logs", params={"to_date": "0"})
    assert unix.status_code == 422 and list(unix.json()["error_details"]) == ["to_date"], unix.text
