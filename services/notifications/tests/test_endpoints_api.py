"""The webhook endpoint API: Lago's shapes, our extensions, validation, limits and organization isolation."""

import base64
import uuid

import pytest


async def test_create_returns_lago_shape_and_a_secret_once(notifications, kit):
    org = uuid.uuid4()
    client = notifications.client(org)
    response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {
        "webhook_url": "http://127.0.0.1:9/hooks", "name": "EC2-production", "event_types": ["invoice.created"],
    }})
    assert response.status_code == 200, response.text
    body = response.json()["webhook_endpoint"]
    assert body["lago_organization_id"] == str(org)
    assert body["webhook_url"] == "http://127.0.0.1:9/hooks"
    assert body["signature_algo"] == "jwt"  # Lago's default
    assert body["name"] == "EC2-production" and body["event_types"] == ["invoice.created"]
    assert body["enabled"] is True and body["rate_limit_per_second"] is None and body["created_at"]
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32

    fetched = (await client.get(f"/api/v1/webhook_endpoints/{body['lago_id']}")).json()["webhook_endpoint"]
    assert "secret" not in fetched
    assert {k: v for k, v in body.items() if k != "secret"} == fetched
    listed = (await client.get("/api/v1/webhook_endpoints")).json()
    assert [e["lago_id"] for e in listed["webhook_endpoints"]] == [body["lago_id"]]
    assert listed["meta"] == {"current_page": 1, "next_page": None, "prev_page": None, "total_pages": 1,
                              "total_count": 1}

    other = await kit.create_endpoint(client, "http://127.0.0.1:9/other")
    assert other["secret"] != secret  # unique per endpoint


async def test_update_keeps_what_is_not_given_and_delete_returns_the_endpoint(notifications, kit):
    client = notifications.client(uuid.uuid4())
    created = await kit.create_endpoint(client, "http://127.0.0.1:9/a", signature_algo="hmac", name="a",
                                        description="ours", rate_limit_per_second=5)
    lago_id = created["lago_id"]
    response = await client.put(f"/api/v1/webhook_endpoints/{lago_id}", json={"webhook_endpoint": {
        "webhook_url": "http://127.0.0.1:9/b", "signature_algo": None, "event_types": ["*"]}})
    assert response.status_code == 200, response.text
    updated = response.json()["webhook_endpoint"]
    assert updated["webhook_url"] == "http://127.0.0.1:9/b"
    assert updated["signature_algo"] == "hmac"  # null keeps it, as Lago
    assert updated["event_types"] is None  # ["*"] means all
    assert updated["name"] == "a" and updated["description"] == "ours" and updated["rate_limit_per_second"] == 5

    response = await client.put(f"/api/v1/webhook_endpoints/{lago_id}", json={"webhook_endpoint": {
        "enabled": False, "rate_limit_per_second": None, "event_types": []}})
    paused = response.json()["webhook_endpoint"]
    assert paused["enabled"] is False and paused["disabled_reason"] == "manual" and paused["disabled_at"]
    assert paused["rate_limit_per_second"] is None and paused["event_types"] == []
    resumed = (await client.put(f"/api/v1/webhook_endpoints/{lago_id}",
                                json={"webhook_endpoint": {"enabled": True}})).json()["webhook_endpoint"]
    assert resumed["enabled"] is True and resumed["disabled_reason"] is None

    deleted = await client.delete(f"/api/v1/webhook_endpoints/{lago_id}")
    assert deleted.status_code == 200 and deleted.json()["webhook_endpoint"]["lago_id"] == lago_id
    missing = await client.get(f"/api/v1/webhook_endpoints/{lago_id}")
    assert missing.status_code == 404
    assert missing.json() == {"status": 404, "error": "Not Found", "code": "webhook_endpoint_not_found"}


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({}, {"webhook_url": ["value_is_mandatory"]}),
        ({"webhook_url": "not a url"}, {"webhook_url": ["url_is_invalid"]}),
        ({"webhook_url": "ftp://example.com/x"}, {"webhook_url": ["url_is_invalid"]}),
        ({"webhook_url": "http://127.0.0.1:9/x", "signature_algo": "rsa"}, {"signature_algo": ["value_is_invalid"]}),
        ({"webhook_url": "http://127.0.0.1:9/x", "event_types": ["*", "invoice.created"]},
         {"event_types": ["invalid_event_types"]}),
        ({"webhook_url": "http://127.0.0.1:9/x", "event_types": ["not a type"]},
         {"event_types": ["invalid_event_types"]}),
        ({"webhook_url": "http://127.0.0.1:9/x", "rate_limit_per_second": 0},
         {"rate_limit_per_second": ["value_is_out_of_range"]}),
    ],
)
async def test_bad_input_is_a_422_with_field_details_and_changes_nothing(notifications, fields, details):
    client = notifications.client(uuid.uuid4())
    response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": fields})
    assert response.status_code == 422, response.text
    assert response.json() == {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors",
                               "error_details": details}
    assert (await client.get("/api/v1/webhook_endpoints")).json()["meta"]["total_count"] == 0


async def test_event_types_are_normalised_as_lago_does(notifications, kit):
    client = notifications.client(uuid.uuid4())
    endpoint = await kit.create_endpoint(client, "http://127.0.0.1:9/n",
                                         event_types=[" Invoice.Created ", "", "invoice.created", "customer.*"])
    assert endpoint["event_types"] == ["invoice.created", "customer.*"]


async def test_duplicate_url_and_the_endpoint_limit(notifications, kit):
    client = notifications.client(uuid.uuid4())
    await kit.create_endpoint(client, "http://127.0.0.1:9/dup")
    response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {
        "webhook_url": "http://127.0.0.1:9/dup"}})
    assert response.status_code == 422
    assert response.json()["error_details"] == {"webhook_url": ["value_already_exist"]}
    for n in range(9):
        await kit.create_endpoint(client, f"http://127.0.0.1:9/n{n}")
    response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {
        "webhook_url": "http://127.0.0.1:9/eleventh"}})
    assert response.status_code == 422
    assert response.json()["error_details"] == {"base": ["webhook_endpoints_limit_reached"]}
    # the same URL in another organization is fine
    await kit.create_endpoint(notifications.client(uuid.uuid4()), "http://127.0.0.1:9/dup")


async def test_organizations_never_see_each_others_endpoints_or_deliveries(notifications, kit):
    mine, theirs = notifications.client(uuid.uuid4()), notifications.client(uuid.uuid4())
    endpoint = await kit.create_endpoint(mine, "http://127.0.0.1:9/mine")
    lago_id = endpoint["lago_id"]
    for method, path, body in [
        ("GET", f"/api/v1/webhook_endpoints/{lago_id}", None),
        ("PUT", f"/api/v1/webhook_endpoints/{lago_id}", {"webhook_endpoint": {"name": "x"}}),
        ("DELETE", f"/api/v1/webhook_endpoints/{lago_id}", None),
        ("POST", f"/api/v1/webhook_endpoints/{lago_id}/rotate_secret", None),
        ("POST", f"/api/v1/webhook_endpoints/{lago_id}/test", None),
        ("POST", f"/api/v1/webhook_endpoints/{lago_id}/recover?since=2020-01-01T00:00:00Z", None),
    ]:
        response = await theirs.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert (await theirs.get("/api/v1/webhook_endpoints")).json()["webhook_endpoints"] == []
    assert (await theirs.get("/api/v1/webhooks", params={"webhook_endpoint_id": lago_id})).json()["webhooks"] == []
    assert (await mine.get(f"/api/v1/webhook_endpoints/{lago_id}")).json()["webhook_endpoint"]["name"] is None


async def test_roles_and_authentication(notifications):
    org = uuid.uuid4()
    assert (await notifications.client().get("/api/v1/webhook_endpoints")).status_code == 401
    tenant = notifications.client(org, roles=["tenant"], customer_id=uuid.uuid4())
    assert (await tenant.get("/api/v1/webhook_endpoints")).status_code == 403
    assert (await tenant.get("/api/v1/webhooks")).status_code == 403


async def test_json_public_key_is_lagos_base64_pem(notifications, kit):
    client = notifications.client(uuid.uuid4())
    response = await client.get("/api/v1/webhooks/json_public_key")
    assert response.status_code == 200
    text = response.json()["webhook"]["public_key"]
    assert all(len(line) <= 60 for line in text.splitlines()) and text.endswith("\n")
    pem = base64.b64decode(text)  # what Lago's client does
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    plain = await client.get("/api/v1/webhooks/public_key")
    assert plain.status_code == 200 and plain.text == text
    # the same key for every organization and across calls (one installation key)
    assert await kit.public_key_pem(notifications.client(uuid.uuid4())) == pem


# -- issue 11: items 2, 4 and 6 on the webhook endpoint API ------------------------------------------------


@pytest.mark.parametrize("field", ["name", "description"])
async def test_nul_in_a_name_or_description_is_a_field_level_422(notifications, kit, field):
    """Was a 500 (PostgreSQL refuses NUL) on POST and PUT."""
    client = notifications.client(uuid.uuid4())
    response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {
        "webhook_url": "http://127.0.0.1:9/nul", field: "a\x00b"}})
    assert response.status_code == 422, response.text
    assert response.json()["error_details"] == {field: ["invalid_characters"]}
    endpoint = await kit.create_endpoint(client, "http://127.0.0.1:9/nul")
    response = await client.put(f"/api/v1/webhook_endpoints/{endpoint['lago_id']}",
                                json={"webhook_endpoint": {field: "\x00"}})
    assert response.status_code == 422, response.text
    assert response.json()["error_details"] == {field: ["invalid_characters"]}
    fetched = (await client.get(f"/api/v1/webhook_endpoints/{endpoint['lago_id']}")).json()["webhook_endpoint"]
    assert fetched[field] is None


@pytest.mark.parametrize("query", ["webhook_type=%00", "status=%00", "webhook_endpoint_id=%00"])
async def test_nul_in_a_webhooks_query_is_a_422(notifications, query):
    response = await notifications.client(uuid.uuid4()).get(f"/api/v1/webhooks?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["error_details"] == {query.split("=")[0]: ["invalid_characters"]}


async def test_event_types_longer_than_their_column_are_refused_not_cut(notifications):
    """A 10 MB element was accepted and stored cut to 200 characters: now 422 above 200, 413 above 1 MiB."""
    client = notifications.client(uuid.uuid4())
    long_type = "invoice." + "x" * 193  # 201 characters
    response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {
        "webhook_url": "http://127.0.0.1:9/long", "event_types": [long_type]}})
    assert response.status_code == 422, response.text
    assert response.json()["error_details"] == {"event_types.0": ["value_is_too_long"]}
    response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {
        "webhook_url": "http://127.0.0.1:9/long", "event_types": ["invoice." + "x" * 10_000_000]}})
    assert response.status_code == 413
    assert (await client.get("/api/v1/webhook_endpoints")).json()["meta"]["total_count"] == 0
    exactly = "invoice." + "x" * 192
    response = await client.post("/api/v1/webhook_endpoints", json={"webhook_endpoint": {
        "webhook_url": "http://127.0.0.1:9/long", "event_types": [exactly]}})
    assert response.status_code == 200 and response.json()["webhook_endpoint"]["event_types"] == [exactly]


@pytest.mark.parametrize("roles", [["service"], ["billing_admin"], ["tenant"]])
async def test_replaying_an_admins_idempotency_key_never_reveals_the_secret(notifications, roles):
    """The reported case: another key of the organization sending the admin's Idempotency-Key and body got
    200 `Idempotent-Replayed: true` with the endpoint's one-time secret."""
    org = uuid.uuid4()
    body = {"webhook_endpoint": {"webhook_url": "http://127.0.0.1:9/idem"}}
    headers = {"Idempotency-Key": "create-endpoint"}
    created = await notifications.client(org).post("/api/v1/webhook_endpoints", json=body, headers=headers)
    assert created.status_code == 200
    secret = created.json()["webhook_endpoint"]["secret"]
    other = notifications.client(org, roles=roles, customer_id=uuid.uuid4() if roles == ["tenant"] else None)
    response = await other.post("/api/v1/webhook_endpoints", json=body, headers=headers)
    assert response.status_code == 403, response.text
    assert "idempotent-replayed" not in response.headers and secret not in response.text
