"""Wallets through the API: Lago's shapes, initial credits, several wallets per customer, terminate, bad input."""

import uuid

import pytest
from sqlalchemy import text

from wallets.customers import service as customers


async def test_create_with_paid_and_granted_credits(api):
    customer = await api.customer()
    wallet = await api.wallet(customer, name="Prepaid", code="main", rate_amount="2.5", paid_credits="10",
                              granted_credits="4.5", priority=3, metadata={"team": "core"},
                              applies_to={"fee_types": ["charge"], "billable_metric_codes": ["api_calls"]},
                              paid_top_up_min_amount_cents=100, paid_top_up_max_amount_cents=100_000)
    assert wallet["status"] == "active" and wallet["code"] == "main" and wallet["priority"] == 3
    assert wallet["rate_amount"] == "2.5"
    assert wallet["credits_balance"] == "14.5"
    assert wallet["balance_cents"] == 3625  # 14.5 credits × 2.50 EUR
    assert wallet["ongoing_balance_cents"] == 3625 and wallet["credits_ongoing_balance"] == "14.5"
    assert wallet["consumed_credits"] == "0.0"
    assert wallet["applies_to"] == {"fee_types": ["charge"], "billable_metric_codes": ["api_calls"]}
    assert wallet["metadata"] == {"team": "core"}
    assert wallet["external_customer_id"] == customer

    listed = await api.ok("GET", "/api/v1/wallets", params={"external_customer_id": customer})
    assert [w["lago_id"] for w in listed["wallets"]] == [wallet["lago_id"]] and listed["meta"]["total_count"] == 1
    by_code = await api.ok("GET", f"/api/v1/customers/{customer}/wallets/main")
    assert by_code["wallet"]["lago_id"] == wallet["lago_id"]

    transactions = (await api.ok("GET", f"/api/v1/wallets/{wallet['lago_id']}/wallet_transactions"))
    statuses = sorted(t["transaction_status"] for t in transactions["wallet_transactions"])
    assert statuses == ["granted", "purchased"]


async def test_several_wallets_per_customer_and_code_unique(api):
    customer = await api.customer()
    first = await api.wallet(customer, code="a", granted_credits="1")
    second = await api.ok("POST", f"/api/v1/customers/{customer}/wallets",
                          {"wallet": {"currency": "EUR", "rate_amount": "1", "code": "b"}})
    assert first["lago_id"] != second["wallet"]["lago_id"]
    error = await api.error("POST", "/api/v1/wallets", {"wallet": {
        "external_customer_id": customer, "currency": "EUR", "rate_amount": "1", "code": "a"}})
    assert error["error_details"] == {"code": ["value_already_exist"]}
    listed = await api.ok("GET", f"/api/v1/customers/{customer}/wallets")
    assert listed["meta"]["total_count"] == 2


async def test_update_and_terminate(api, wallets):
    customer = await api.customer()
    wallet = await api.wallet(customer, granted_credits="7")
    updated = await api.ok("PUT", f"/api/v1/wallets/{wallet['lago_id']}", {"wallet": {
        "name": "Renamed", "priority": 1, "expiration_at": "2027-01-01T00:00:00Z",
        "recurring_transaction_rules": [{"trigger": "threshold", "threshold_credits": "2", "paid_credits": "5"}]}})
    assert updated["wallet"]["name"] == "Renamed" and updated["wallet"]["priority"] == 1
    assert updated["wallet"]["expiration_at"].startswith("2027-01-01")
    [rule] = updated["wallet"]["recurring_transaction_rules"]
    assert rule["trigger"] == "threshold" and rule["threshold_credits"] == "2" and rule["status"] == "active"

    terminated = await api.ok("DELETE", f"/api/v1/wallets/{wallet['lago_id']}")
    assert terminated["wallet"]["status"] == "terminated" and terminated["wallet"]["terminated_at"]
    assert terminated["wallet"]["balance_cents"] == 0  # what was left is voided through the ledger
    again = await api.ok("DELETE", f"/api/v1/wallets/{wallet['lago_id']}")
    assert again["wallet"]["terminated_at"] == terminated["wallet"]["terminated_at"]
    error = await api.error("POST", "/api/v1/wallet_transactions",
                            {"wallet_transaction": {"wallet_id": wallet["lago_id"], "granted_credits": "1"}},
                            status=405)
    assert error["code"] == "wallet_not_active"
    async with wallets.database.sessionmaker() as session:
        voided = (await session.execute(text(
            "SELECT sum(amount_cents) FROM ledger_entries WHERE wallet_id = :w AND account = 'voided'"),
            {"w": wallet["lago_id"]})).scalar_one()
    assert voided == 700


async def test_metadata_replace_merge_delete(api):
    customer = await api.customer()
    wallet = await api.wallet(customer, metadata={"a": "1"})
    base = f"/api/v1/wallets/{wallet['lago_id']}/metadata"
    assert (await api.ok("PATCH", base, {"metadata": {"b": "2"}}))["metadata"] == {"a": "1", "b": "2"}
    assert (await api.ok("POST", base, {"metadata": {"c": None}}))["metadata"] == {"c": None}
    assert (await api.ok("DELETE", f"{base}/c"))["metadata"] is None
    assert (await api.ok("DELETE", base))["metadata"] is None


@pytest.mark.parametrize("body, field", [
    ({"currency": "EUR", "rate_amount": "0"}, "rate_amount"),
    ({"currency": "EUR", "rate_amount": "-1"}, "rate_amount"),
    ({"currency": "EUR", "rate_amount": "abc"}, "rate_amount"),
    ({"currency": "XXY", "rate_amount": "1"}, "currency"),
    ({"currency": "EUR", "rate_amount": "1", "priority": 51}, "priority"),
    ({"currency": "EUR", "rate_amount": "1", "granted_credits": "1.123456"}, "granted_credits"),
    ({"currency": "EUR", "rate_amount": "1", "granted_credits": 1e30}, "granted_credits"),
    ({"currency": "EUR", "rate_amount": "1", "code": "a\x00b"}, "code"),
    ({"currency": "EUR", "rate_amount": "1", "expiration_at": "2020-01-01T00:00:00Z"}, "expiration_at"),
    ({"currency": "USD", "rate_amount": "1"}, "currency"),
    ({"currency": "EUR", "rate_amount": "1", "paid_credits": "1000", "paid_top_up_max_amount_cents": 500},
     "paid_credits"),
    ({"currency": "EUR", "rate_amount": "1", "paid_top_up_min_amount_cents": 500, "paid_top_up_max_amount_cents": 5},
     "paid_top_up_min_amount_cents"),
    ({"currency": "EUR", "rate_amount": "1", "recurring_transaction_rules": [{"trigger": "interval"}]},
     "recurring_transaction_rules"),
])
async def test_bad_input_is_a_field_level_422_and_changes_nothing(api, body, field):
    customer = await api.customer()
    error = await api.error("POST", "/api/v1/wallets", {"wallet": {"external_customer_id": customer, **body}})
    assert any(key.startswith(field) or field in key for key in error["error_details"]), error
    listed = await api.ok("GET", "/api/v1/wallets", params={"external_customer_id": customer})
    assert listed["wallets"] == []


async def test_unknown_customer_and_wallet_are_404(api):
    error = await api.error("POST", "/api/v1/wallets", {"wallet": {
        "external_customer_id": "nobody", "currency": "EUR", "rate_amount": "1"}}, status=404)
    assert error["code"] == "customer_not_found"
    assert (await api.error("GET", f"/api/v1/wallets/{uuid.uuid4()}", status=404))["code"] == "wallet_not_found"
    assert (await api.error("GET", "/api/v1/wallets/not-a-uuid", status=404))["code"] == "wallet_not_found"
    await api.error("POST", "/api/v1/wallets", content=b"{not json", status=400,
                    headers={"content-type": "application/json"})


async def test_organizations_are_isolated(make_api):
    mine, theirs = make_api(uuid.uuid4()), make_api(uuid.uuid4())
    customer = await mine.customer("shared-external-id")
    wallet = await mine.wallet(customer, granted_credits="5")
    await theirs.customer("shared-external-id")
    assert (await theirs.error("GET", f"/api/v1/wallets/{wallet['lago_id']}", status=404))["code"] == "wallet_not_found"
    await theirs.error("PUT", f"/api/v1/wallets/{wallet['lago_id']}", {"wallet": {"name": "x"}}, status=404)
    await theirs.error("DELETE", f"/api/v1/wallets/{wallet['lago_id']}", status=404)
    await theirs.error("POST", "/api/v1/wallet_transactions",
                       {"wallet_transaction": {"wallet_id": wallet["lago_id"], "voided_credits": "5"}})
    listed = await theirs.ok("GET", "/api/v1/wallets", params={"external_customer_id": "shared-external-id"})
    assert listed["wallets"] == []
    assert (await mine.get_wallet(wallet["lago_id"]))["balance_cents"] == 500


async def test_tenant_keys_read_their_own_customer_only(make_api, org):
    admin = make_api(org)
    mine = await admin.customer()
    other = await admin.customer()
    wallet = await admin.wallet(mine, granted_credits="3")
    foreign = await admin.wallet(other, granted_credits="3")
    async with admin.service.database.sessionmaker() as session:
        mine_id = (await customers.find(session, org, mine))["id"]
    tenant = make_api(org, roles=("tenant",), customer_id=mine_id)
    assert (await tenant.get_wallet(wallet["lago_id"]))["balance_cents"] == 300
    await tenant.ok("GET", f"/api/v1/customers/{mine}/balance_history")
    assert (await tenant.error("GET", f"/api/v1/wallets/{foreign['lago_id']}", status=403))["code"] == \
        "forbidden_customer"
    await tenant.error("GET", f"/api/v1/customers/{other}/credits", status=403)
    await tenant.error("POST", "/api/v1/wallet_transactions",
                       {"wallet_transaction": {"wallet_id": wallet["lago_id"], "granted_credits": "100"}}, status=403)
    assert (await admin.get_wallet(wallet["lago_id"]))["balance_cents"] == 300


async def test_idempotency_key_replays_the_first_response(api):
    customer = await api.customer()
    wallet = await api.wallet(customer)
    body = {"wallet_transaction": {"wallet_id": wallet["lago_id"], "granted_credits": "10"}}
    headers = {"Idempotency-Key": f"top-up-{uuid.uuid4()}"}
    first = await api.client.post("/api/v1/wallet_transactions", json=body, headers=headers)
    second = await api.client.post("/api/v1/wallet_transactions", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.headers.get("idempotent-replayed") == "true" and first.json() == second.json()
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 1000  # credited once
    other = await api.client.post("/api/v1/wallet_transactions", headers=headers, json={
        "wallet_transaction": {"wallet_id": wallet["lago_id"], "granted_credits": "99"}})
    assert other.status_code == 422
