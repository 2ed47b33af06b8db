"""Lago's official Python client, unchanged, against the service over real HTTP."""

import asyncio
import contextlib
import socket
import uuid

import jwt
import pytest
import uvicorn
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import WebhookEndpoint


@pytest.fixture(scope="module")
async def api_url(notifications, kit):
    """The module's service app served by uvicorn (its lifespan already runs in the fixture)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(notifications.app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))
    task = asyncio.create_task(server.serve())
    await kit.wait_until(lambda: server.started, timeout=10, interval=0.02, message="uvicorn started")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, 5)


async def test_the_lago_client_manages_endpoints_and_reads_the_public_key(notifications, api_url, producer,
                                                                          receivers, kit):
    org = uuid.uuid4()
    client = Client(api_key=notifications.keys.sign(org, ["admin"]), api_url=api_url)
    receiver = await receivers()

    created = await asyncio.to_thread(client.webhook_endpoints.create, WebhookEndpoint(
        webhook_url=receiver.url + "/lago", signature_algo="jwt", name="prod", event_types=["invoice.created"]))
    assert created.webhook_url == receiver.url + "/lago" and created.signature_algo == "jwt"
    assert created.lago_organization_id == str(org) and created.event_types == ["invoice.created"]
    found = await asyncio.to_thread(client.webhook_endpoints.find, created.lago_id)
    assert found.name == "prod"
    updated = await asyncio.to_thread(client.webhook_endpoints.update,
                                      WebhookEndpoint(webhook_url=receiver.url + "/lago2"), created.lago_id)
    assert updated.webhook_url == receiver.url + "/lago2" and updated.signature_algo == "jwt"
    listed = await asyncio.to_thread(client.webhook_endpoints.find_all)
    assert [e.lago_id for e in listed["webhook_endpoints"]] == [created.lago_id]
    assert listed["meta"]["total_count"] == 1

    public_key = await asyncio.to_thread(client.webhooks.public_key)
    await producer.emit(org, "invoice.created")
    (request,) = await receiver.wait_for(1)
    headers = {k.lower(): v for k, v in request.headers.items()}
    claims = jwt.decode(headers["x-lago-signature"], public_key, algorithms=["RS256"],
                        issuer=notifications.app.state.runtime.settings.webhook_jwt_issuer)
    assert claims["data"] == request.body.decode()

    with pytest.raises(LagoApiError) as error:
        await asyncio.to_thread(client.webhook_endpoints.create, WebhookEndpoint(webhook_url="ftp://nope"))
    assert error.value.status_code == 422
    deleted = await asyncio.to_thread(client.webhook_endpoints.destroy, created.lago_id)
    assert deleted.lago_id == created.lago_id
    with pytest.raises(LagoApiError) as error:
        await asyncio.to_thread(client.webhook_endpoints.find, created.lago_id)
    assert error.value.status_code == 404
