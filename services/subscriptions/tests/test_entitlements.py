"""Entitlements: Lago's subscription entitlements, override precedence, grace periods, the check, suspension."""

from __future__ import annotations

import uuid

import pytest

CONSUMERS = True  # the catalog's plan events reach this module's service


def sub_body(plan_code: str, external_id: str = "sub", customer: str = "cus") -> dict:
    return {"subscription": {"external_customer_id": customer, "plan_code": plan_code, "external_id": external_id}}


@pytest.fixture
async def seats_plan(plans, api):
    await plans.feature("seats")
    await plans.feature("sso_login", [{"code": "enabled", "value_type": "boolean"}])
    plan = await plans.plan()
    await plans.entitle(plan["code"], {"seats": {"max": 10, "sso": False}, "sso_login": {"enabled": True}})
    await api.ok("POST", "/api/v1/subscriptions", sub_body(plan["code"]))
    return plan


async def check(api, feature: str, customer: str = "cus", **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return (await api.ok("GET", f"/api/v1/customers/{customer}/entitlements/{feature}?{query}"))["entitlement"]


async def test_subscription_entitlements_in_lago_shape(api, plans, seats_plan):
    listed = (await api.ok("GET", "/api/v1/subscriptions/sub/entitlements"))["entitlements"]
    seats = next(e for e in listed if e["code"] == "seats")
    assert {p["code"]: (p["value"], p["plan_value"], p["override_value"]) for p in seats["privileges"]} == {
        "max": (10, 10, None), "sso": (False, False, None)}
    updated = (await api.ok("PATCH", "/api/v1/subscriptions/sub/entitlements", {"entitlements": {
        "seats": {"max": 15}}}))["entitlements"]
    seats = next(e for e in updated if e["code"] == "seats")
    assert seats["overrides"] == {"max": 15}
    assert next(p for p in seats["privileges"] if p["code"] == "max")["value"] == 15
    # a feature the plan lacks is added from the catalog
    await plans.feature("exports", [{"code": "limit", "value_type": "integer"}])
    updated = (await api.ok("PATCH", "/api/v1/subscriptions/sub/entitlements", {"entitlements": {
        "exports": {"limit": 3}}}))["entitlements"]
    assert {e["code"] for e in updated} == {"seats", "sso_login", "exports"}
    bad = await api.error("PATCH", "/api/v1/subscriptions/sub/entitlements", {"entitlements": {
        "seats": {"max": "lots", "nope": 1}}})
    assert bad["error_details"] == {"seats.max": ["value_is_invalid"], "seats.nope": ["privilege_not_found"]}
    await api.error("PATCH", "/api/v1/subscriptions/sub/entitlements", {"entitlements": {"ghost": {"x": 1}}},
                    status=404)
    removed = (await api.ok("DELETE", "/api/v1/subscriptions/sub/entitlements/seats/privileges/max"))["entitlement"]
    assert next(p for p in removed["privileges"] if p["code"] == "max")["value"] == 10
    await api.ok("DELETE", "/api/v1/subscriptions/sub/entitlements/sso_login")
    listed = (await api.ok("GET", "/api/v1/subscriptions/sub/entitlements"))["entitlements"]
    assert {e["code"] for e in listed} == {"seats", "exports"}
    await api.error("DELETE", "/api/v1/subscriptions/sub/entitlements/sso_login", status=404)


async def test_override_precedence_plan_subscription_customer_grace(api, make_api, org, seats_plan, clock):
    result = await check(api, "seats")
    assert (result["allowed"], result["limit"], result["remaining"]) == (True, 10, 10)
    await api.ok("PATCH", "/api/v1/subscriptions/sub/entitlements", {"entitlements": {"seats": {"max": 15}}})
    assert (await check(api, "seats", used=12))["remaining"] == 3
    await api.ok("PUT", "/api/v1/customers/cus/entitlement_overrides", {"entitlement_overrides": {
        "quotas": {"seats": 40}, "features": {"offline_bundles": True}, "reason": "pilot"}})
    assert (await check(api, "seats"))["limit"] == 40
    assert (await check(api, "offline_bundles"))["allowed"] is True
    first = (await api.ok("POST", "/api/v1/customers/cus/grace_periods", {"grace_period": {
        "metric": "seats", "extra_allowance": 5, "duration_hours": 2, "reason": "eval"}}))["grace_period"]
    await api.ok("POST", "/api/v1/customers/cus/grace_periods", {"grace_period": {
        "metric": "seats", "extra_allowance": 7, "duration_hours": 24}})
    result = await check(api, "seats", used=44)
    assert (result["limit"], result["grace_allowance"], result["remaining"]) == (52, 12, 8)
    assert first["active"] is True
    clock.advance(hours=3)  # the first grace period expired on its own
    result = await check(api, "seats", used=44)
    assert (result["limit"], result["grace_allowance"]) == (47, 7)
    listed = await api.ok("GET", "/api/v1/customers/cus/grace_periods")
    assert [g["extra_allowance"] for g in listed["grace_periods"]] == [7]
    everything = await api.ok("GET", "/api/v1/customers/cus/grace_periods?include_expired=true")
    assert everything["meta"]["total_count"] == 2
    clock.advance(days=2)
    assert (await check(api, "seats"))["limit"] == 40
    assert (await check(api, "seats", used=40))["allowed"] is False
    assert (await check(api, "seats", used=40))["reason"] == "quota_exhausted"
    await api.ok("DELETE", "/api/v1/customers/cus/entitlement_overrides")
    assert (await check(api, "seats"))["limit"] == 15
    assert (await check(api, "offline_bundles"))["reason"] == "not_entitled"


async def test_grace_revocation_and_grace_without_plan_quota(api, seats_plan):
    grace = (await api.ok("POST", "/api/v1/customers/cus/grace_periods", {"grace_period": {
        "metric": "mints", "extra_allowance": 100, "duration_hours": 1}}))["grace_period"]
    assert (await check(api, "mints"))["limit"] == 100
    revoked = (await api.ok("DELETE", f"/api/v1/customers/cus/grace_periods/{grace['lago_id']}"))["grace_period"]
    assert revoked["active"] is False and revoked["revoked_at"] is not None
    assert (await check(api, "mints"))["allowed"] is False
    await api.error("DELETE", f"/api/v1/customers/cus/grace_periods/{uuid.uuid4()}", status=404)
    await api.error("POST", "/api/v1/customers/cus/grace_periods", {"grace_period": {
        "metric": "m", "extra_allowance": 0, "duration_hours": 1}})
    await api.error("POST", "/api/v1/customers/cus/grace_periods", {"grace_period": {
        "metric": "m", "extra_allowance": 1, "duration_hours": 10**9}})


async def test_feature_flags_and_suspension(api, make_api, org, seats_plan):
    assert (await check(api, "sso_login"))["allowed"] is True
    await api.ok("PUT", "/api/v1/customers/cus/entitlement_overrides", {"entitlement_overrides": {
        "features": {"sso_login": False}}})
    assert (await check(api, "sso_login"))["reason"] == "feature_disabled"
    assert (await check(api, "unknown_feature"))["reason"] == "not_entitled"
    await make_api(org, roles=["billing_admin"]).ok("POST", "/api/v1/customers/cus/billing_state/overrides", {
        "billing_state_override": {"force_state": "suspended", "reason": "unpaid invoices"}})
    result = await check(api, "seats")
    assert (result["allowed"], result["reason"], result["billing_state"]) == (False, "customer_suspended", "suspended")


async def test_check_roles_isolation_and_terminated_subscriptions(api, make_api, org, seats_plan, clock):
    customer_id = (await api.ok("GET", "/api/v1/customers/cus"))["customer"]["lago_id"]
    tenant = make_api(org, roles=["tenant"], customer_id=customer_id)
    assert (await check(tenant, "seats"))["allowed"] is True
    await tenant.error("GET", "/api/v1/customers/other/entitlements/seats", status=403)
    await tenant.error("PUT", "/api/v1/customers/cus/entitlement_overrides",
                       {"entitlement_overrides": {"quotas": {"seats": 1}}}, status=403)
    stranger = make_api(uuid.uuid4())
    await stranger.error("GET", "/api/v1/customers/cus/entitlements/seats", status=404)
    await stranger.error("GET", "/api/v1/subscriptions/sub/entitlements", status=404)
    await api.error("GET", "/api/v1/customers/cus/entitlements/seats?used=-1")
    await api.error("PUT", "/api/v1/customers/cus/entitlement_overrides",
                    {"entitlement_overrides": {"quotas": {"seats": "many"}}})
    clock.advance(hours=1)
    await api.ok("DELETE", "/api/v1/subscriptions/sub")
    assert (await check(api, "seats"))["reason"] == "not_entitled"


async def test_plan_entitlement_changes_reach_the_check(api, plans):
    import asyncio

    await plans.feature("storage", [{"code": "bytes", "value_type": "integer"}])
    plan = await plans.plan()
    await api.ok("POST", "/api/v1/subscriptions", sub_body(plan["code"]))
    assert (await check(api, "storage"))["reason"] == "not_entitled"
    await plans.entitle(plan["code"], {"storage": {"bytes": 1024}})
    for _ in range(150):  # the catalog's plan.updated reaches the projection
        result = await check(api, "storage")
        if result["allowed"]:
            break
        await asyncio.sleep(0.1)
    assert result["allowed"] is True and result["limit"] == 1024
