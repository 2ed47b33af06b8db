"""/health, /ready and /metrics: what operators and Kubernetes probes see."""

from __future__ import annotations

import asyncio
import socket
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from invora.observability.metrics import domain_counter

WIDGETS = "/api/v1/widgets"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _scrape(service) -> dict[tuple[str, frozenset], float]:
    response = await service.client().get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def _value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_health_needs_no_key(shared_example):
    response = await shared_example.client().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "example"}


async def test_ready_when_database_and_broker_answer(shared_example):
    response = await shared_example.client().get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


async def test_not_ready_while_the_database_is_unreachable(start_example, invora_keys):
    unreachable = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/nowhere"
    # the app starts anyway (relay and all), stays alive, and says it is not ready
    service = await start_example(consumers=(), database_url=unreachable)
    client = service.client()
    assert (await client.get("/health")).status_code == 200
    ready = await client.get("/ready")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"] == "ok"
    assert body["checks"]["database"].startswith("error")
    # a request that needs the database fails cleanly with 503 (an outage, retry later), not a hang
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app, raise_app_exceptions=False), base_url="http://example.test",
        headers={"Authorization": f"Bearer {invora_keys.sign(uuid.uuid4(), ['admin'])}"},
    ) as org_client:
        listed = await asyncio.wait_for(org_client.get(WIDGETS), 10)
    assert listed.status_code == 503 and listed.json()["code"] == "database_unavailable"


async def test_http_metrics_by_route_template_and_status(shared_example):
    client = shared_example.client(uuid.uuid4())
    missing_id = uuid.uuid4()
    before = await _scrape(shared_example)
    for _ in range(3):
        assert (await client.get(f"{WIDGETS}/{missing_id}")).status_code == 404
    assert (await client.get(WIDGETS)).status_code == 200
    assert (await client.get("/no/such/route/42")).status_code == 404
    after = await _scrape(shared_example)

    labels = {"service": "example", "method": "GET"}
    template = "/api/v1/widgets/{lago_id}"
    assert _value(after, "http_requests_total", **labels, route=template, status="404") - \
        _value(before, "http_requests_total", **labels, route=template, status="404") == 3
    assert _value(after, "http_requests_total", **labels, route=WIDGETS, status="200") - \
        _value(before, "http_requests_total", **labels, route=WIDGETS, status="200") == 1
    # unknown paths share one label value, so scanners cannot blow up the series count
    assert _value(after, "http_requests_total", **labels, route="unmatched", status="404") - \
        _value(before, "http_requests_total", **labels, route="unmatched", status="404") == 1
    routes = {dict(key[1]).get("route") for key in after if key[0] == "http_requests_total"}
    assert not any(str(missing_id) in (route or "") or "/no/such" in (route or "") for route in routes)
    assert _value(after, "http_request_duration_seconds_count", **labels, route=template) - \
        _value(before, "http_request_duration_seconds_count", **labels, route=template) == 3


async def test_outbox_and_consumer_metrics_are_exposed(start_example):
    service = await start_example(consumers=())  # relay on
    text = (await service.client().get("/metrics")).text
    for name in ("outbox_events_published_total", "outbox_pending_events", "outbox_oldest_pending_seconds",
                 "outbox_publish_latency_seconds", "consumer_lag_messages", "consumer_events_total"):
        assert f"# TYPE {name} " in text, name

    before = _value(await _scrape(service), "outbox_events_published_total", service="example")
    created = await service.client(uuid.uuid4()).post(WIDGETS, json={"widget": {"code": "m1", "name": "M"}})
    assert created.status_code == 200
    for _ in range(100):
        samples = await _scrape(service)
        if _value(samples, "outbox_events_published_total", service="example") > before:
            break
        await asyncio.sleep(0.05)
    assert _value(samples, "outbox_events_published_total", service="example") == before + 1
    assert _value(samples, "outbox_publish_latency_seconds_count", service="example") >= 1
    assert ("outbox_pending_events", frozenset({("service", "example")})) in samples


async def test_domain_counter_helper(shared_example):
    counter = domain_counter("widgets_polished_total", "Widgets polished", ("finish",))
    assert domain_counter("widgets_polished_total", "Widgets polished", ("finish",)) is counter
    counter.labels(service="example", finish="matte").inc(2)
    samples = await _scrape(shared_example)
    assert _value(samples, "widgets_polished_total", service="example", finish="matte") == 2


async def test_openapi_is_served(shared_example):
    client = shared_example.client()
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/widgets" in spec["paths"] and "/ready" in spec["paths"]


async def test_ready_only_once_every_consumer_has_its_partitions(start_example):
    """Before, /ready said yes while the consumer was still joining its group (half the session
    timeout on the embedded broker), so the first event after start-up waited for the join. Now it
    waits for the assignment, and an event sent the moment /ready says yes is handled at once."""
    import time

    import example_service as example
    from sqlalchemy import select

    started = time.monotonic()
    # a 6 s session: the join takes about 3 s here, long enough to see /ready wait for it
    service = await start_example(consumer_session_timeout_ms=6_000)
    client = service.client()
    early = await client.get("/ready")
    assert early.status_code == 503, early.text
    assert early.json()["checks"]["consumers"] == "waiting for partition assignment: widget-echo"
    assert early.json()["checks"]["database"] == "ok" and early.json()["checks"]["broker"] == "ok"

    while (ready := await client.get("/ready")).status_code != 200:
        assert time.monotonic() - started < 30, ready.text
        await asyncio.sleep(0.05)
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "consumers": "ok"}
    assert all(consumer.joined for consumer in service.app.state.consumers)

    sent = time.monotonic()
    created = await service.client(uuid.uuid4()).post("/api/v1/widgets", json={"widget": {"code": "w", "name": "W"}})
    assert created.status_code == 200, created.text
    widget_id = created.json()["widget"]["lago_id"]
    while True:
        async with service.database.sessionmaker() as session:
            query = select(example.WidgetEcho).where(example.WidgetEcho.widget_id == widget_id)
            if (await session.execute(query)).scalars().first() is not None:
                break
        assert time.monotonic() - sent < 10
        await asyncio.sleep(0.02)
    handled_after = time.monotonic() - sent
    print(f"first event after /ready handled in {handled_after:.3f}s")
    # well under the ~3 s join the event would have waited for before
    assert handled_after < 1.5, handled_after


async def test_a_service_without_consumers_needs_no_assignment(shared_example):
    body = (await shared_example.client().get("/ready")).json()
    assert body["status"] == "ok" and "consumers" not in body["checks"]
