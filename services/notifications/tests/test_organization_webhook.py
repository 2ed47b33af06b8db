"""The organization's `webhook_url` (catalog's `organization.updated`) becomes a webhook endpoint, once;
the organization event itself is internal and never fanned out to tenants."""

from __future__ import annotations

import json
import uuid

from .conftest import wait_until  # noqa: TID252


def _organization(org: uuid.UUID, webhook_url: str | None) -> dict:
    return {"organization": {"lago_id": str(org), "name": "Acme", "webhook_url": webhook_url}}


async def _urls(client) -> list[str]:
    response = await client.get("/api/v1/webhook_endpoints")
    assert response.status_code == 200, response.text
    return [e["webhook_url"] for e in response.json()["webhook_endpoints"]]


async def test_the_organizations_webhook_url_becomes_one_endpoint(notifications, producer, receivers):
    org = uuid.uuid4()
    admin = notifications.client(org, roles=["admin"])
    receiver = await receivers()
    for _ in range(2):  # the same URL twice (or a redelivery): one endpoint
        await producer.emit(org, "organization.updated", data=_organization(org, receiver.url),
                            aggregate_id=str(org), source="catalog")
    assert await wait_until(lambda: _urls(admin), message="endpoint registered") == [receiver.url]
    endpoint = (await admin.get("/api/v1/webhook_endpoints")).json()["webhook_endpoints"][0]
    assert endpoint["signature_algo"] == "jwt" and endpoint["event_types"] is None

    # a refused URL (a private address) is skipped, never retried forever: later events still apply
    await producer.emit(org, "organization.updated", data=_organization(org, "https://10.1.2.3/hook"),
                        aggregate_id=str(org), source="catalog")
    second = receiver.url.replace("127.0.0.1", "localhost")
    await producer.emit(org, "organization.updated", data=_organization(org, second), aggregate_id=str(org),
                        source="catalog")
    await wait_until(lambda: _has(admin, second), message="second endpoint registered")
    assert sorted(await _urls(admin)) == sorted([receiver.url, second])

    # the organization's events are internal: the endpoint (every event type) received none of them
    await producer.emit(org, "customer.created", data={"customer": {"lago_id": str(uuid.uuid4())}})
    received = await receiver.wait_for(2)  # both endpoints point at this receiver
    assert [json.loads(r.body)["webhook_type"] for r in received] == ["customer.created"] * 2
    other = notifications.client(uuid.uuid4(), roles=["admin"])
    assert await _urls(other) == []  # another organization got nothing


async def _has(client, url: str) -> bool:
    return url in await _urls(client)
