"""Customer billing state: admin overrides, roles, audit log, events."""

from __future__ import annotations

import uuid

import pytest

URL = "/api/v1/customers/{}/billing_state"


@pytest.fixture
def billing_admin(make_api, org):
    return make_api(org, roles=["billing_admin"])


async def test_defaults_on_customer_and_endpoint(api):
    customer = await api.customer("bs")
    assert customer["billing_state"] == {"state": "active", "contract_mode": "standard", "grace_extension_days": 0,
                                         "changed_at": None}
    state = (await api.ok("GET", URL.format("bs")))["billing_state"]
    assert state["state"] == "active" and state["external_customer_id"] == "bs"


async def test_override_changes_state_records_audit_and_publishes(api, billing_admin, org, clock, wait_for_event):
    customer = await api.customer("ovr")
    state = (await billing_admin.ok("POST", URL.format("ovr") + "/overrides", {"billing_state_override": {
        "contract_mode": "enterprise", "force_state": "suspended", "grace_extension_days": 5,
        "reason": "TICKET-1"}}))["billing_state"]
    assert (state["state"], state["contract_mode"], state["grace_extension_days"]) == ("suspended", "enterprise", 5)
    clock.advance(minutes=1)
    await billing_admin.ok("POST", URL.format("ovr") + "/overrides", {"billing_state_override": {
        "grace_extension_days": 2, "force_state": "active", "reason": "wire received"}})
    fetched = (await api.ok("GET", "/api/v1/customers/ovr"))["customer"]["billing_state"]
    assert fetched["state"] == "active" and fetched["grace_extension_days"] == 7
    audit = await api.ok("GET", URL.format("ovr") + "/audit")
    assert audit["meta"]["total_count"] == 2
    latest, first = audit["billing_state_audits"]
    assert latest["reason"] == "wire received" and first["reason"] == "TICKET-1"
    assert first["changes"] == {"contract_mode": {"from": "standard", "to": "enterprise"},
                                "state": {"from": "active", "to": "suspended"},
                                "grace_extension_days": {"from": 0, "to": 5}}
    assert first["actor_roles"] == ["billing_admin"] and first["actor"]
    event = await wait_for_event("invora.customer", lambda e: e.organization_id == org
                                 and e.type == "customer.billing_state_changed" and e.data["reason"] == "TICKET-1")
    assert event.aggregate_id == customer["lago_id"]
    assert event.data["previous"]["state"] == "active" and event.data["current"]["state"] == "suspended"
    assert event.data["lago_audit_id"] == first["lago_id"]


async def test_roles(make_api, api, org):
    customer_id = (await api.customer("roles"))["lago_id"]
    body = {"billing_state_override": {"force_state": "past_due", "reason": "r"}}
    await api.error("POST", URL.format("roles") + "/overrides", body, status=403)  # plain admin
    await make_api(org, roles=["service"]).error("POST", URL.format("roles") + "/overrides", body, status=403)
    await make_api(org, roles=["tenant"], customer_id=customer_id).error(
        "POST", URL.format("roles") + "/overrides", body, status=403)
    await make_api(org, roles=["super_admin"]).ok("POST", URL.format("roles") + "/overrides", body)
    tenant = make_api(org, roles=["tenant"], customer_id=customer_id)
    assert (await tenant.ok("GET", URL.format("roles")))["billing_state"]["state"] == "past_due"
    await tenant.error("GET", URL.format("roles") + "/audit", status=403)


@pytest.mark.parametrize(("override", "field"), [
    ({"force_state": "active"}, "reason"),
    ({"force_state": "active", "reason": "   "}, "reason"),
    ({"reason": "nothing to do"}, "base"),
    ({"force_state": "frozen", "reason": "r"}, "force_state"),
    ({"contract_mode": "military", "reason": "r"}, "contract_mode"),
    ({"grace_extension_days": 0, "reason": "r"}, "grace_extension_days"),
    ({"grace_extension_days": 1.5, "reason": "r"}, "grace_extension_days"),
])
async def test_override_validation(api, billing_admin, override, field):
    await api.customer("val")
    body = await billing_admin.error("POST", URL.format("val") + "/overrides", {"billing_state_override": override})
    assert field in body["error_details"]
    assert (await api.ok("GET", URL.format("val") + "/audit"))["meta"]["total_count"] == 0


async def test_isolation(make_api, api, billing_admin):
    await api.customer("iso")
    stranger = make_api(uuid.uuid4(), roles=["billing_admin"])
    await stranger.error("POST", URL.format("iso") + "/overrides",
                         {"billing_state_override": {"force_state": "suspended", "reason": "x"}}, status=404)
    await stranger.error("GET", URL.format("iso") + "/audit", status=404)
    await billing_admin.error("POST", URL.format("nobody") + "/overrides",
                              {"billing_state_override": {"force_state": "suspended", "reason": "x"}}, status=404)
