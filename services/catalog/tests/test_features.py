"""Features and their typed privileges."""

from __future__ import annotations


async def test_feature_lifecycle(api):
    created = await api.feature(description="Seats of the account")
    assert created["description"] == "Seats of the account"
    assert [(p["code"], p["value_type"]) for p in created["privileges"]] == [
        ("max", "integer"), ("sso", "boolean"), ("provider", "select"), ("label", "string"),
    ]
    assert created["privileges"][0]["config"] == {}
    code = created["code"]
    assert (await api.ok("GET", f"/api/v1/features/{code}"))["feature"] == created

    updated = (await api.ok("PUT", f"/api/v1/features/{code}", {"feature": {
        "name": "Users", "privileges": [
            {"code": "max", "name": "Maximum", "value_type": "string"},  # the type of an existing privilege stays
            {"code": "provider", "config": {"select_options": ["google", "okta", "azure"]}},
            {"code": "new", "value_type": "integer"},
        ],
    }}))["feature"]
    privileges = {p["code"]: p for p in updated["privileges"]}
    assert updated["name"] == "Users" and set(privileges) == {"max", "sso", "provider", "label", "new"}
    assert privileges["max"]["name"] == "Maximum" and privileges["max"]["value_type"] == "integer"
    assert privileges["provider"]["config"]["select_options"] == ["google", "okta", "azure"]

    search = await api.ok("GET", "/api/v1/features?search_term=USER")
    assert [f["code"] for f in search["features"]] == [code]
    assert (await api.ok("GET", "/api/v1/features?search_term=zzz"))["features"] == []

    deleted = (await api.ok("DELETE", f"/api/v1/features/{code}"))["feature"]
    assert deleted["code"] == code
    body = await api.error("GET", f"/api/v1/features/{code}", status=404)
    assert body["code"] == "feature_not_found"
    await api.error("DELETE", f"/api/v1/features/{code}/privileges/max", status=404)


async def test_feature_validation(api):
    existing = await api.feature()
    cases = [
        ({"code": existing["code"]}, {"code": ["value_already_exist"]}),
        ({"code": "f", "privileges": [{"code": "a"}, {"code": "a"}]}, {"privileges": ["duplicated_privilege_codes"]}),
        ({"code": "f", "privileges": [{"code": "a", "value_type": "select"}]},
         {"privileges.0.config": ["invalid_select_options"]}),
        ({"code": "f", "privileges": [{"code": "a", "value_type": "select", "config": {"select_options": []}}]},
         {"privileges.0.config": ["invalid_select_options"]}),
        ({"code": "f", "privileges": [{"code": "a", "value_type": "float"}]},
         {"privileges.0.value_type": ["value_is_invalid"]}),
        ({"code": "f", "description": "d" * 601}, {"description": ["value_is_too_long"]}),
        ({"name": "no code"}, {"code": ["value_is_mandatory"]}),
    ]
    for body, details in cases:
        error = await api.error("POST", "/api/v1/features", {"feature": body})
        assert error["error_details"] == details, body
    assert (await api.ok("GET", "/api/v1/features"))["meta"]["total_count"] == 1
    await api.error("DELETE", f"/api/v1/features/{existing['code']}/privileges/unknown", status=404)
