"""Add-ons: CRUD, taxes, protection of add-ons that live plans sell."""

from __future__ import annotations


async def test_add_on_lifecycle(api):
    tax = await api.tax()
    created = await api.add_on("EUR", tax_codes=[tax["code"]], description="Onboarding",
                               invoice_display_name="Setup fee")
    assert created["amount_cents"] == 10_000 and created["amount_currency"] == "EUR"
    assert [t["code"] for t in created["taxes"]] == [tax["code"]] and created["taxes"][0]["rate"] == 20.0
    code = created["code"]
    assert (await api.ok("GET", f"/api/v1/add_ons/{code}"))["add_on"] == created
    updated = (await api.ok("PUT", f"/api/v1/add_ons/{code}", {"add_on": {
        "amount_cents": 5_000, "tax_codes": [], "invoice_display_name": None,
    }}))["add_on"]
    assert updated["amount_cents"] == 5_000 and updated["taxes"] == [] and updated["invoice_display_name"] is None
    assert updated["description"] == "Onboarding"
    assert (await api.ok("GET", "/api/v1/add_ons"))["meta"]["total_count"] == 1
    deleted = (await api.ok("DELETE", f"/api/v1/add_ons/{code}"))["add_on"]
    assert deleted["lago_id"] == created["lago_id"]
    body = await api.error("GET", f"/api/v1/add_ons/{code}", status=404)
    assert body["code"] == "add_on_not_found"
    assert (await api.ok("GET", "/api/v1/add_ons"))["meta"]["total_count"] == 0


async def test_add_on_validation_and_protection(api):
    existing = await api.add_on("EUR")
    base = {"name": "A", "code": "a", "amount_cents": 1, "amount_currency": "EUR"}
    cases = [
        ({**base, "code": existing["code"]}, {"code": ["value_already_exist"]}),
        ({**base, "amount_cents": -5}, {"amount_cents": ["value_is_out_of_range"]}),
        ({**base, "amount_cents": 1.5}, {"amount_cents": ["invalid_type"]}),
        ({**base, "amount_currency": "EURO"}, {"amount_currency": ["value_is_invalid"]}),
        ({**base, "tax_codes": ["nope"]}, {"tax_codes": ["tax_not_found"]}),
        ({"name": "A"}, {"code": ["value_is_mandatory"], "amount_cents": ["value_is_mandatory"],
                         "amount_currency": ["value_is_mandatory"]}),
    ]
    for body, details in cases:
        error = await api.error("POST", "/api/v1/add_ons", {"add_on": body})
        assert error["error_details"] == details, body
    assert (await api.ok("GET", "/api/v1/add_ons"))["meta"]["total_count"] == 1

    plan = await api.plan(fixed_charges=[{"add_on_id": existing["lago_id"], "charge_model": "standard",
                                          "properties": {"amount": "1"}}])
    url = f"/api/v1/add_ons/{existing['code']}"
    error = await api.error("DELETE", url)
    assert error["error_details"] == {"add_on": ["attached_to_live_plans"]}
    error = await api.error("PUT", url, {"add_on": {"amount_currency": "USD"}})
    assert error["error_details"] == {"amount_currency": ["not_editable_when_attached_to_plans"]}
    await api.ok("DELETE", f"/api/v1/plans/{plan['code']}")
    await api.ok("DELETE", url)
