"""Taxes: CRUD in Lago's shapes, validation, pagination."""

from __future__ import annotations


async def test_tax_lifecycle(api):
    created = await api.tax(rate=20.5, description="Standard VAT")
    assert created["rate"] == 20.5 and created["applied_to_organization"] is False
    assert set(created) >= {"lago_id", "name", "code", "rate", "description", "applied_to_organization", "created_at"}
    code = created["code"]

    fetched = (await api.ok("GET", f"/api/v1/taxes/{code}"))["tax"]
    assert fetched == created

    updated = (await api.ok("PUT", f"/api/v1/taxes/{code}", {"tax": {"rate": "5.5", "name": "Reduced",
                                                                     "applied_to_organization": True}}))["tax"]
    assert updated["rate"] == 5.5 and updated["name"] == "Reduced" and updated["applied_to_organization"] is True
    assert updated["description"] == "Standard VAT"  # PUT is partial

    renamed = (await api.ok("PUT", f"/api/v1/taxes/{code}", {"tax": {"code": f"{code}_new"}}))["tax"]
    assert renamed["code"] == f"{code}_new"
    await api.error("GET", f"/api/v1/taxes/{code}", status=404)

    deleted = (await api.ok("DELETE", f"/api/v1/taxes/{code}_new"))["tax"]
    assert deleted["lago_id"] == created["lago_id"]
    body = await api.error("GET", f"/api/v1/taxes/{code}_new", status=404)
    assert body == {"status": 404, "error": "Not Found", "code": "tax_not_found"}


async def test_tax_list_is_paginated_newest_first(api):
    codes = [(await api.tax())["code"] for _ in range(3)]
    page = await api.ok("GET", "/api/v1/taxes?per_page=2")
    assert [t["code"] for t in page["taxes"]] == codes[::-1][:2]
    assert page["meta"] == {"current_page": 1, "next_page": 2, "prev_page": None, "total_pages": 2, "total_count": 3}
    second = await api.ok("GET", "/api/v1/taxes?per_page=2&page=2")
    assert [t["code"] for t in second["taxes"]] == [codes[0]]


async def test_tax_validation(api):
    existing = await api.tax()
    cases = [
        ({"name": "VAT", "code": existing["code"], "rate": "1"}, {"code": ["value_already_exist"]}),
        ({"name": "VAT", "code": "x", "rate": "-1"}, {"rate": ["value_is_invalid"]}),
        ({"name": "VAT", "code": "x", "rate": "101"}, {"rate": ["value_is_out_of_range"]}),
        ({"name": "VAT", "code": "x", "rate": "abc"}, {"rate": ["value_is_invalid"]}),
        ({"name": "VAT", "code": "x", "rate": True}, {"rate": ["value_is_invalid"]}),
        ({"code": "x", "rate": "1"}, {"name": ["value_is_mandatory"]}),
        ({"name": "VAT", "code": "", "rate": "1"}, {"code": ["value_is_too_short"]}),
        ({"name": "VAT", "code": "x" * 256, "rate": "1"}, {"code": ["value_is_too_long"]}),
        ({"name": "V\x00T", "code": "x", "rate": "1"}, {"name": ["invalid_characters"]}),
    ]
    for body, details in cases:
        error = await api.error("POST", "/api/v1/taxes", {"tax": body})
        assert error["code"] == "validation_errors" and error["error_details"] == details, body
    page = await api.ok("GET", "/api/v1/taxes")
    assert page["meta"]["total_count"] == 1  # nothing saved

    other = await api.tax()
    error = await api.error("PUT", f"/api/v1/taxes/{other['code']}", {"tax": {"code": existing["code"]}})
    assert error["error_details"] == {"code": ["value_already_exist"]}
    await api.error("PUT", "/api/v1/taxes/unknown", {"tax": {"rate": "1"}}, status=404)
    bad = await api.error("POST", "/api/v1/taxes", {"nope": {}}, status=400)
    assert bad["code"] == "missing_param"
