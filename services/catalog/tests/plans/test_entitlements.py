"""Plan entitlements: features a plan grants, typed privilege values, replace / merge / remove."""

from __future__ import annotations


async def test_entitlements_lifecycle(api):
    seats = await api.feature()
    sso = await api.feature(privileges=[{"code": "enabled", "value_type": "boolean"}])
    plan = await api.plan()
    base = f"/api/v1/plans/{plan['code']}/entitlements"

    replaced = (await api.ok("POST", base, {"entitlements": {
        seats["code"]: {"max": 20, "provider": "okta", "label": "Team"},
        sso["code"]: {"enabled": True},
    }}))["entitlements"]
    assert [e["code"] for e in replaced] == [seats["code"], sso["code"]]
    privileges = {p["code"]: p for p in replaced[0]["privileges"]}
    assert privileges["max"]["value"] == 20 and privileges["max"]["value_type"] == "integer"
    assert privileges["provider"]["config"] == {"select_options": ["google", "okta"]}
    assert privileges["provider"]["value"] == "okta"

    merged = (await api.ok("PATCH", base, {"entitlements": {seats["code"]: {"max": 30, "sso": False}}}))
    values = {p["code"]: p["value"] for p in merged["entitlements"][0]["privileges"]}
    assert values == {"max": 30, "provider": "okta", "label": "Team", "sso": False}

    one = (await api.ok("GET", f"{base}/{seats['code']}"))["entitlement"]
    assert one["code"] == seats["code"] and one["name"] == seats["name"]
    trimmed = (await api.ok("DELETE", f"{base}/{seats['code']}/privileges/label"))["entitlement"]
    assert "label" not in {p["code"] for p in trimmed["privileges"]}
    await api.error("DELETE", f"{base}/{seats['code']}/privileges/label", status=404)

    shown = (await api.ok("GET", f"/api/v1/plans/{plan['code']}"))["plan"]
    assert [e["code"] for e in shown["entitlements"]] == [seats["code"], sso["code"]]
    assert shown["version"] == 1  # entitlements are not prices

    removed = (await api.ok("DELETE", f"{base}/{sso['code']}"))["entitlement"]
    assert removed["code"] == sso["code"]
    assert [e["code"] for e in (await api.ok("GET", base))["entitlements"]] == [seats["code"]]
    await api.error("GET", f"{base}/{sso['code']}", status=404)
    replaced = (await api.ok("POST", base, {"entitlements": {}}))["entitlements"]
    assert replaced == []


async def test_entitlement_validation(api):
    seats = await api.feature()
    plan = await api.plan()
    base = f"/api/v1/plans/{plan['code']}/entitlements"
    cases = [
        ({"max": "20"}, {"max_privilege_value": ["value_is_invalid"]}),
        ({"max": True}, {"max_privilege_value": ["value_is_invalid"]}),
        ({"sso": 1}, {"sso_privilege_value": ["value_is_invalid"]}),
        ({"provider": "azure"}, {"provider_privilege_value": ["value_not_in_select_options"]}),
        ({"label": "x" * 300}, {"label_privilege_value": ["value_is_invalid"]}),
    ]
    for values, details in cases:
        error = await api.error("POST", base, {"entitlements": {seats["code"]: values}})
        assert error["error_details"] == details, values
    body = await api.error("POST", base, {"entitlements": {"nope": {}}}, status=404)
    assert body["code"] == "feature_not_found"
    body = await api.error("PATCH", base, {"entitlements": {seats["code"]: {"nope": 1}}}, status=404)
    assert body["code"] == "privilege_not_found"
    await api.error("GET", "/api/v1/plans/nope/entitlements", status=404)
    assert (await api.ok("GET", base))["entitlements"] == []


async def test_deleting_features_and_privileges_updates_plans(api):
    seats = await api.feature()
    plan = await api.plan()
    base = f"/api/v1/plans/{plan['code']}/entitlements"
    await api.ok("POST", base, {"entitlements": {seats["code"]: {"max": 5, "label": "x"}}})
    feature = (await api.ok("DELETE", f"/api/v1/features/{seats['code']}/privileges/max"))["feature"]
    assert "max" not in {p["code"] for p in feature["privileges"]}
    [entitlement] = (await api.ok("GET", base))["entitlements"]
    assert [p["code"] for p in entitlement["privileges"]] == ["label"]
    await api.ok("DELETE", f"/api/v1/features/{seats['code']}")
    assert (await api.ok("GET", base))["entitlements"] == []
