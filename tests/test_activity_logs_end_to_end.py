"""End to end over the real broker: a change made through the catalog's API appears in notifications' activity log
and API log (the catalog's outbox → Kafka → notifications' consumer)."""

from __future__ import annotations

import json
import uuid

from invora.testing.services import run_service
from invora.web.api_log import REDACTED, body_text

from .e2e import eventually  # noqa: TID252


async def until(check, what: str, tries: int = 150):
    return await eventually(check, what, timeout=tries * 0.2, interval=0.2)


async def test_a_billable_metric_created_through_the_catalog_is_an_activity_and_an_api_log(
        migrated_database, invora_kafka, invora_keys):
    org, other = uuid.uuid4(), uuid.uuid4()
    common = dict(kafka=invora_kafka, keys=invora_keys)
    async with (run_service("catalog", database_url=migrated_database("catalog"), **common,
                            api_log_enabled=True) as catalog,
                run_service("notifications", database_url=migrated_database("notifications"), **common,
                            dev_mode=True, consumer_session_timeout_ms=2_000) as notifications):
        cat = catalog.client(org, headers={"User-Agent": "lago-python-client/1.0"})
        created = await cat.post("/api/v1/billable_metrics", json={"billable_metric": {
            "name": "Storage", "code": "storage", "aggregation_type": "sum_agg", "field_name": "gb"}})
        assert created.status_code == 200, created.text
        metric_id = created.json()["billable_metric"]["lago_id"]
        refused = await cat.post("/api/v1/billable_metrics", json={"billable_metric": {"code": "storage"}})
        assert refused.status_code == 422
        listed = await cat.get("/api/v1/billable_metrics")  # a read: not an API log
        assert listed.status_code == 200
        await catalog.client(other).post("/api/v1/billable_metrics", json={"billable_metric": {
            "name": "Theirs", "code": "theirs", "aggregation_type": "count_agg"}})

        logs = notifications.client(org)

        async def activity():
            body = (await logs.get("/api/v1/activity_logs",
                                   params={"activity_types[]": "billable_metric.created"})).json()
            return body["activity_logs"] or None

        found = (await until(activity, "the billable metric's activity"))
        assert len(found) == 1
        assert found[0]["resource_id"] == metric_id and found[0]["resource_type"] == "BillableMetric"
        assert found[0]["activity_object"]["code"] == "storage"

        async def api_logs():
            body = (await logs.get("/api/v1/api_logs")).json()
            return body["api_logs"] if body["meta"]["total_count"] >= 2 else None

        entries = await until(api_logs, "the catalog's two API logs")
        assert len(entries) == 2  # the GET is not logged; the other organization's POST is not ours
        by_status = {e["http_status"]: e for e in entries}
        assert set(by_status) == {200, 422}
        ok = by_status[200]
        assert (ok["http_method"], ok["request_path"], ok["api_version"], ok["service"]) == (
            "post", "/billable_metrics", "v1", "catalog")
        assert ok["client"] == "lago-python-client/1.0" and ok["principal"]
        assert json.loads(ok["request_body"])["billable_metric"]["code"] == "storage"
        one = await logs.get(f"/api/v1/api_logs/{ok['request_id']}")
        assert one.status_code == 200 and one.json()["api_log"] == ok
        # api_log.recorded is internal: it is not an activity
        everything = (await logs.get("/api/v1/activity_logs")).json()["activity_logs"]
        assert all(not a["activity_type"].startswith("api_log") for a in everything)


def test_secret_fields_are_redacted_and_non_json_bodies_not_kept():
    raw = json.dumps({"webhook_endpoint": {"webhook_url": "https://x", "secret": "whsec_1",
                                           "nested": [{"api_key": "k", "password": "p", "name": "n"}]}}).encode()
    logged = json.loads(body_text(raw, truncated=False))
    assert logged["webhook_endpoint"]["secret"] == REDACTED
    assert logged["webhook_endpoint"]["nested"][0] == {"api_key": REDACTED, "password": REDACTED, "name": "n"}
    assert logged["webhook_endpoint"]["webhook_url"] == "https://x"
    assert "hunter2" not in body_text(b"password=hunter2", truncated=False)
    assert "whsec" not in body_text(raw, truncated=True)
    lone = body_text(b'{"name": "a\\ud800b\\u0000c"}', truncated=False)
    lone.encode()  # storable: no lone surrogate, no NUL
    assert "\x00" not in lone and json.loads(lone)["name"] == "a\ud800b\x00c"
