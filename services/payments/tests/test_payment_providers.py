"""Provider connections: Lago-style CRUD by code, credentials encrypted at rest and never returned, bad input and
other organizations' connections refused."""

from __future__ import annotations

import uuid

from sqlalchemy import text


def _body(code: str, **fields) -> dict:
    return {"payment_provider": {"provider_type": "stripe", "code": code, "name": "Stripe EU",
                                 "secret_key": "sk_test_supersecret1234", **fields}}


async def test_create_list_update_delete(payments, org):
    client = payments.client(org)
    created = await client.post("/api/v1/payment_providers", json=_body("stripe_eu", webhook_secret="whsec_abc"))
    assert created.status_code == 200, created.text
    provider = created.json()["payment_provider"]
    assert provider["code"] == "stripe_eu" and provider["secret_key"] == "••••1234" and provider["has_webhook_secret"]
    assert provider["webhook_path"] == f"/api/v1/provider_webhooks/stripe/{org}?code=stripe_eu"
    assert "supersecret" not in created.text and "whsec_abc" not in created.text

    updated = await client.put("/api/v1/payment_providers/stripe_eu",
                               json={"payment_provider": {"name": "Stripe Europe", "secret_key": "sk_test_new_9876"}})
    assert updated.status_code == 200 and updated.json()["payment_provider"]["secret_key"] == "••••9876"
    listed = (await client.get("/api/v1/payment_providers")).json()
    assert [p["name"] for p in listed["payment_providers"]] == ["Stripe Europe"] and listed["meta"]["total_count"] == 1

    deleted = await client.delete("/api/v1/payment_providers/stripe_eu")
    assert deleted.status_code == 200
    assert (await client.get("/api/v1/payment_providers/stripe_eu")).status_code == 404
    again = await client.post("/api/v1/payment_providers", json=_body("stripe_eu"))  # a deleted code is free again
    assert again.status_code == 200, again.text


async def test_credentials_are_encrypted_at_rest(payments, org):
    client = payments.client(org)
    response = await client.post("/api/v1/payment_providers",
                                 json=_body("enc", secret_key="sk_test_plaintext_marker", webhook_secret="whsec_mark"))
    assert response.status_code == 200
    async with payments.database.sessionmaker() as session:
        row = (await session.execute(text(
            "SELECT secret_key, webhook_secret FROM payment_providers WHERE organization_id = :org AND code = 'enc'"),
            {"org": org})).one()
    assert row.secret_key.startswith("enc:v1:") and "plaintext_marker" not in row.secret_key
    assert row.webhook_secret.startswith("enc:v1:") and "whsec_mark" not in row.webhook_secret


async def test_a_code_is_unique_per_organization(payments, org):
    client = payments.client(org)
    assert (await client.post("/api/v1/payment_providers", json=_body("dup"))).status_code == 200
    second = await client.post("/api/v1/payment_providers", json=_body("dup"))
    assert second.status_code == 422 and second.json()["error_details"] == {"code": ["value_already_exist"]}
    other = payments.client(uuid.uuid4())
    assert (await other.post("/api/v1/payment_providers", json=_body("dup"))).status_code == 200


async def test_another_organizations_connection_is_not_found(payments, org):
    client = payments.client(org)
    assert (await client.post("/api/v1/payment_providers", json=_body("mine"))).status_code == 200
    stranger = payments.client(uuid.uuid4())
    for method in ("GET", "DELETE"):
        response = await stranger.request(method, "/api/v1/payment_providers/mine")
        assert response.status_code == 404 and response.json()["code"] == "payment_provider_not_found"
    response = await stranger.put("/api/v1/payment_providers/mine", json={"payment_provider": {"name": "x"}})
    assert response.status_code == 404
    assert (await client.get("/api/v1/payment_providers/mine")).json()["payment_provider"]["name"] == "Stripe EU"


async def test_bad_input_is_refused_with_field_details(payments, org):
    client = payments.client(org)
    for body in (_body("x", provider_type="paypal"), _body("", secret_key="k"), _body("y", secret_key=""),
                 _body("z", success_redirect_url="ftp://nope"), _body("w", unknown=1)):
        response = await client.post("/api/v1/payment_providers", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_errors"
    assert (await client.get("/api/v1/payment_providers")).json()["meta"]["total_count"] == 0


async def test_only_admins_write_connections(payments, org):
    reader = payments.client(org, roles=["service"])
    assert (await reader.post("/api/v1/payment_providers", json=_body("nope"))).status_code == 403
    assert (await reader.get("/api/v1/payment_providers")).status_code == 200


async def test_each_provider_takes_its_own_fields(payments, org):
    client = payments.client(org)
    paystack = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "paystack", "code": "ps", "name": "Paystack", "secret_key": "sk_test_paystack_7777"}})
    assert paystack.status_code == 200, paystack.text
    shown = paystack.json()["payment_provider"]
    assert shown["provider_type"] == "paystack" and shown["secret_key"] == "••••7777"
    assert shown["webhook_path"] == f"/api/v1/provider_webhooks/paystack/{org}?code=ps"
    flutterwave = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "flutterwave", "code": "flw", "name": "Flutterwave",
        "secret_key": "FLWSECK_TEST-abcdef-X", "webhook_secret": "my-secret-hash"}})
    assert flutterwave.status_code == 200 and flutterwave.json()["payment_provider"]["has_webhook_secret"]
    # Paystack signs webhooks with its secret key: a separate webhook secret is not one of its fields
    refused = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "paystack", "code": "ps2", "name": "Paystack", "secret_key": "sk_test_x",
        "webhook_secret": "whsec_x"}})
    assert refused.status_code == 422 and refused.json()["code"] == "validation_errors"
    update = await client.put("/api/v1/payment_providers/ps", json={"payment_provider": {"webhook_secret": "nope"}})
    assert update.status_code == 422
    assert update.json()["error_details"] == {"webhook_secret": ["not_accepted_by_provider"]}
    rotated = await client.put("/api/v1/payment_providers/flw", json={"payment_provider": {"webhook_secret": "new"}})
    assert rotated.status_code == 200
    async with payments.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT code, webhook_secret, settings FROM payment_providers WHERE organization_id = :org ORDER BY code"),
            {"org": org})).all()
    assert [(r.code, r.settings) for r in rows] == [("flw", {}), ("ps", {})]
    assert rows[0].webhook_secret.startswith("enc:v1:") and rows[1].webhook_secret is None


async def test_adyen_and_gocardless_take_lagos_fields(payments, org):
    client = payments.client(org)
    adyen = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "adyen", "code": "ady", "name": "Adyen", "api_key": "AQEkey_secret_9999",
        "hmac_key": "00ff" * 16, "merchant_account": "AcmeECOM", "live_prefix": "1797a841fbb37ca7-AdyenDemo"}})
    assert adyen.status_code == 200, adyen.text
    shown = adyen.json()["payment_provider"]
    assert shown["secret_key"] == "••••9999" and shown["has_webhook_secret"]
    assert shown["merchant_account"] == "AcmeECOM" and shown["live_prefix"] == "1797a841fbb37ca7-AdyenDemo"
    assert "00ff00ff" not in adyen.text
    not_hex = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "adyen", "code": "ady2", "name": "Adyen", "api_key": "k", "hmac_key": "xyz",
        "merchant_account": "AcmeECOM"}})
    assert not_hex.status_code == 422
    no_account = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "adyen", "code": "ady3", "name": "Adyen", "api_key": "k"}})
    assert no_account.status_code == 422
    moved = await client.put("/api/v1/payment_providers/ady", json={"payment_provider": {
        "merchant_account": "AcmeEU", "live_prefix": None}})
    assert moved.status_code == 200, moved.text
    assert moved.json()["payment_provider"]["merchant_account"] == "AcmeEU"
    assert moved.json()["payment_provider"]["live_prefix"] is None
    wrong = await client.put("/api/v1/payment_providers/ady", json={"payment_provider": {"access_token": "t"}})
    assert wrong.status_code == 422 and wrong.json()["error_details"] == {"access_token": ["not_accepted_by_provider"]}
    gocardless = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "gocardless", "code": "gc", "name": "GoCardless", "access_token": "sandbox_token_4321",
        "webhook_secret": "gc-secret"}})
    assert gocardless.status_code == 200 and gocardless.json()["payment_provider"]["secret_key"] == "••••4321"
    async with payments.database.sessionmaker() as session:
        row = (await session.execute(text(
            "SELECT secret_key, webhook_secret, settings FROM payment_providers WHERE organization_id = :org "
            "AND code = 'ady'"), {"org": org})).one()
    assert row.secret_key.startswith("enc:v1:") and row.webhook_secret.startswith("enc:v1:")
    assert row.settings == {"merchant_account": "AcmeEU"}


async def test_cashfree_takes_lagos_fields(payments, org):
    client = payments.client(org)
    created = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "cashfree", "code": "cf", "name": "Cashfree", "client_id": "TEST10234abc",
        "client_secret": "cfsk_ma_test_secret_7777", "redirect_url": "https://acme.test/thanks"}})
    assert created.status_code == 200, created.text
    shown = created.json()["payment_provider"]
    assert shown["secret_key"] == "••••7777" and shown["client_id"] == "TEST10234abc"
    assert shown["success_redirect_url"] == "https://acme.test/thanks" and not shown["has_webhook_secret"]
    assert "cfsk_ma_test_secret" not in created.text
    missing = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "cashfree", "code": "cf2", "name": "Cashfree", "client_secret": "s"}})
    assert missing.status_code == 422
    foreign = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "cashfree", "code": "cf3", "name": "Cashfree", "client_id": "x", "client_secret": "s",
        "secret_key": "sk_x"}})
    assert foreign.status_code == 422
    moved = await client.put("/api/v1/payment_providers/cf", json={"payment_provider": {
        "client_id": "TEST999", "client_secret": "cfsk_new_secret_8888", "redirect_url": "https://acme.test/b"}})
    assert moved.status_code == 200, moved.text
    shown = moved.json()["payment_provider"]
    assert shown["client_id"] == "TEST999" and shown["secret_key"] == "••••8888"
    assert shown["success_redirect_url"] == "https://acme.test/b"
    wrong = await client.put("/api/v1/payment_providers/cf", json={"payment_provider": {"hmac_key": "00ff"}})
    assert wrong.status_code == 422 and wrong.json()["error_details"] == {"hmac_key": ["not_accepted_by_provider"]}
    async with payments.database.sessionmaker() as session:
        row = (await session.execute(text(
            "SELECT secret_key, settings FROM payment_providers WHERE organization_id = :org AND code = 'cf'"),
            {"org": org})).one()
    assert row.secret_key.startswith("enc:v1:") and row.settings == {"client_id": "TEST999"}


async def test_tap_takes_its_secret_key_and_webhook_url(payments, org):
    client = payments.client(org)
    created = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "tap", "code": "tap", "name": "Tap", "secret_key": "sk_test_tapsecret_5555",
        "webhook_url": "https://billing.acme.test/hooks/tap"}})
    assert created.status_code == 200, created.text
    shown = created.json()["payment_provider"]
    assert shown["secret_key"] == "••••5555" and shown["webhook_url"] == "https://billing.acme.test/hooks/tap"
    assert "tapsecret" not in created.text
    not_url = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "tap", "code": "tap2", "name": "Tap", "secret_key": "sk_x", "webhook_url": "ftp://x"}})
    assert not_url.status_code == 422
    moved = await client.put("/api/v1/payment_providers/tap", json={"payment_provider": {"webhook_url": None}})
    assert moved.status_code == 200 and moved.json()["payment_provider"]["webhook_url"] is None
    wrong = await client.put("/api/v1/payment_providers/tap", json={"payment_provider": {"client_id": "x"}})
    assert wrong.status_code == 422 and wrong.json()["error_details"] == {"client_id": ["not_accepted_by_provider"]}


async def test_moneyhash_takes_lagos_fields_and_its_signature_key(payments, org):
    client = payments.client(org)
    created = await client.post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "moneyhash", "code": "mh", "name": "MoneyHash", "api_key": "mh_api_key_secret_4321",
        "flow_id": "xgXlXgX", "signature_key": "oVZo2bro-a7UBN3k9QFlsSz6cN_Zrdt9KCWk4_5q2lo="}})
    assert created.status_code == 200, created.text
    shown = created.json()["payment_provider"]
    assert shown["secret_key"] == "••••4321" and shown["flow_id"] == "xgXlXgX" and shown["has_webhook_secret"]
    assert shown["webhook_path"].startswith("/api/v1/provider_webhooks/moneyhash/")
    assert "mh_api_key_secret" not in created.text and "oVZo2bro" not in created.text
    for bad in ({"flow_id": "x" * 21}, {"flow_id": None}, {"api_key": None}, {"secret_key": "sk_x"}):
        refused = await client.post("/api/v1/payment_providers", json={"payment_provider": {
            "provider_type": "moneyhash", "code": "mh2", "name": "MoneyHash", "api_key": "k", "flow_id": "f", **bad}})
        assert refused.status_code == 422, bad
    moved = await client.put("/api/v1/payment_providers/mh", json={"payment_provider": {
        "flow_id": "newflow", "webhook_url": "https://billing.acme.test/hooks/mh"}})
    assert moved.status_code == 200, moved.text
    assert moved.json()["payment_provider"]["flow_id"] == "newflow"
    wrong = await client.put("/api/v1/payment_providers/mh", json={"payment_provider": {"client_id": "x"}})
    assert wrong.status_code == 422 and wrong.json()["error_details"] == {"client_id": ["not_accepted_by_provider"]}
    async with payments.database.sessionmaker() as session:
        row = (await session.execute(text(
            "SELECT secret_key, webhook_secret, settings FROM payment_providers WHERE organization_id = :org "
            "AND code = 'mh'"), {"org": org})).one()
    assert row.secret_key.startswith("enc:v1:") and row.webhook_secret.startswith("enc:v1:")
    assert row.settings == {"flow_id": "newflow", "webhook_url": "https://billing.acme.test/hooks/mh"}
