"""Wallet metadata by customer and code (Lago's `/customers/{external_customer_id}/wallets/{code}/metadata`):
replace, merge, delete all, delete one key; Lago's limits; `wallet.updated` per change; tenant keys and other
organizations refused without changing anything."""

import uuid

import pytest
from sqlalchemy import text


async def _updated_events(wallets, wallet_id: str) -> list[dict]:
    async with wallets.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = 'wallet.updated' AND message_key = :k "
            "ORDER BY position"), {"k": wallet_id})).scalars().all()
    return [row["data"]["wallet"] for row in rows]


async def test_replace_merge_delete_by_customer_and_code(api, wallets):
    customer = await api.customer()
    wallet = await api.wallet(customer, code="main", metadata={"a": "1"})
    base = f"/api/v1/customers/{customer}/wallets/main/metadata"
    assert (await api.ok("PATCH", base, {"metadata": {"b": "2", "a": "3"}}))["metadata"] == {"a": "3", "b": "2"}
    assert (await api.ok("POST", base, {"metadata": {"c": "x", "d": None}}))["metadata"] == {"c": "x", "d": None}
    assert (await api.ok("DELETE", f"{base}/c"))["metadata"] == {"d": None}
    assert (await api.ok("DELETE", f"{base}/absent"))["metadata"] == {"d": None}  # deleting a missing key: no-op
    assert (await api.get_wallet(wallet["lago_id"]))["metadata"] == {"d": None}
    assert (await api.ok("DELETE", base))["metadata"] is None
    assert (await api.get_wallet(wallet["lago_id"]))["metadata"] is None
    # Lago: deleting a key of a wallet without metadata is 404 `metadata_not_found` (no event)
    assert (await api.error("DELETE", f"{base}/d", status=404))["code"] == "metadata_not_found"
    events = await _updated_events(wallets, wallet["lago_id"])
    assert [e["metadata"] for e in events] == [{"a": "3", "b": "2"}, {"c": "x", "d": None}, {"d": None},
                                              {"d": None}, None]


async def test_unknown_wallet_customer_or_organization_is_404(api, make_api):
    customer = await api.customer()
    await api.wallet(customer, code="main", metadata={"a": "1"})
    base = f"/api/v1/customers/{customer}/wallets/main/metadata"
    await api.error("PATCH", f"/api/v1/customers/{customer}/wallets/nope/metadata", {"metadata": {"x": "1"}},
                    status=404)
    await api.error("DELETE", "/api/v1/customers/cus_absent/wallets/main/metadata", status=404)
    stranger = make_api(uuid.uuid4())
    await stranger.error("POST", base, {"metadata": {"x": "1"}}, status=404)
    await stranger.error("DELETE", f"{base}/a", status=404)
    assert (await api.ok("GET", f"/api/v1/customers/{customer}/wallets/main"))["wallet"]["metadata"] == {"a": "1"}


async def test_tenant_keys_cannot_change_metadata(api, make_api):
    customer = await api.customer()
    wallet = await api.wallet(customer, code="main", metadata={"a": "1"})
    tenant = make_api(api.org, roles=("tenant",), customer_id=uuid.UUID(wallet["lago_customer_id"]))
    base = f"/api/v1/customers/{customer}/wallets/main/metadata"
    await tenant.error("PATCH", base, {"metadata": {"x": "1"}}, status=403)
    await tenant.error("DELETE", base, status=403)
    assert (await api.get_wallet(wallet["lago_id"]))["metadata"] == {"a": "1"}


@pytest.mark.parametrize("method, body, field", [
    ("POST", {"metadata": {"k" * 101: "v"}}, "metadata"),
    ("POST", {"metadata": {"k": "v" * 256}}, "metadata"),
    ("PATCH", {"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
    ("PATCH", {"metadata": {"k": 5}}, "metadata"),
    ("POST", {"metadata": ["a"]}, "metadata"),
    ("PATCH", {"metadata": {"k": "a\x00b"}}, "metadata"),
])
async def test_bad_metadata_is_422_with_field_and_changes_nothing(api, method, body, field):
    customer = await api.customer()
    wallet = await api.wallet(customer, code="main", metadata={"a": "1"})
    error = await api.error(method, f"/api/v1/customers/{customer}/wallets/main/metadata", body, status=422)
    assert error["code"] == "validation_errors" and error["error_details"]  # field-level details
    assert (await api.get_wallet(wallet["lago_id"]))["metadata"] == {"a": "1"}


async def test_merge_may_not_exceed_fifty_keys(api):
    customer = await api.customer()
    wallet = await api.wallet(customer, code="main", metadata={f"old{i}": "v" for i in range(30)})
    base = f"/api/v1/customers/{customer}/wallets/main/metadata"
    error = await api.error("PATCH", base, {"metadata": {f"new{i}": "v" for i in range(21)}}, status=422)
    assert error["error_details"] == {"metadata": ["too_many_keys"]}
    assert len((await api.get_wallet(wallet["lago_id"]))["metadata"]) == 30
    # overwriting existing keys stays within the limit
    merged = await api.ok("PATCH", base, {"metadata": {f"old{i}": "w" for i in range(30)} | {"n": "1"}})
    assert len(merged["metadata"]) == 31
