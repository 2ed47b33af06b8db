"""Charges, charge filters and fixed charges as sub-resources of a plan (each write versions the plan)."""

from __future__ import annotations

import uuid


async def test_charge_sub_resources(api, charge_of):
    metric, other = await api.metric(), await api.metric()
    plan = await api.plan([charge_of(metric)])
    base = f"/api/v1/plans/{plan['code']}/charges"

    created = (await api.ok("POST", base, {"charge": {**charge_of(other, "3"), "code": "extra"}}))["charge"]
    assert created["code"] == "extra" and created["properties"] == {"amount": "3"}
    listed = await api.ok("GET", f"{base}?per_page=1&page=2")
    assert [c["code"] for c in listed["charges"]] == ["extra"] and listed["meta"]["total_count"] == 2
    assert (await api.ok("GET", f"{base}/extra"))["charge"] == created

    updated = (await api.ok("PUT", f"{base}/extra", {"charge": {"charge_model": "package", "properties": {
        "amount": "10", "package_size": 50}}}))["charge"]
    assert updated["charge_model"] == "package" and updated["properties"] == {"amount": "10", "package_size": 50}
    assert updated["lago_id"] != created["lago_id"]

    deleted = (await api.ok("DELETE", f"{base}/extra", {"charge": {"cascade_updates": False}}))["charge"]
    assert deleted["lago_id"] == updated["lago_id"]
    await api.error("GET", f"{base}/extra", status=404)
    current = (await api.ok("GET", f"/api/v1/plans/{plan['code']}"))["plan"]
    assert current["version"] == 4 and [c["code"] for c in current["charges"]] == [metric["code"]]

    body = await api.error("GET", f"{base}/missing", status=404)
    assert body["code"] == "charge_not_found"
    await api.error("PUT", f"{base}/missing", {"charge": {"properties": {"amount": "1"}}}, status=404)
    await api.error("DELETE", f"{base}/missing", status=404)
    await api.error("GET", "/api/v1/plans/missing/charges", status=404)
    error = await api.error("POST", base, {"charge": {**charge_of(metric), "code": metric["code"]}})
    assert error["error_details"] == {"code": ["value_already_exist"]}


async def test_charge_filter_sub_resources(api, charge_of):
    metric = await api.metric(filters=[{"key": "region", "values": ["eu", "us", "asia"]},
                                       {"key": "tier", "values": ["hot", "cold"]}])
    plan = await api.plan([charge_of(metric)])
    charge_code = plan["charges"][0]["code"]
    base = f"/api/v1/plans/{plan['code']}/charges/{charge_code}/filters"

    created = (await api.ok("POST", base, {"filter": {"invoice_display_name": "EU", "properties": {"amount": "1"},
                                                      "values": {"region": ["eu"]}}}))["filter"]
    assert created["charge_code"] == charge_code and created["values"] == {"region": ["eu"]}
    filter_url = f"{base}/{created['lago_id']}"
    assert (await api.ok("GET", filter_url))["filter"] == created
    both = (await api.ok("POST", base, {"filter": {"properties": {"amount": "2"},
                                                   "values": {"region": ["us"], "tier": ["__ALL_FILTER_VALUES__"]}}}))
    assert both["filter"]["values"]["tier"] == ["__ALL_FILTER_VALUES__"]
    assert (await api.ok("GET", base))["meta"]["total_count"] == 2

    updated = (await api.ok("PUT", filter_url, {"filter": {"properties": {"amount": "1.5"}}}))["filter"]
    assert updated["lago_id"] == created["lago_id"] and updated["properties"] == {"amount": "1.5"}
    assert updated["invoice_display_name"] == "EU"

    errors = await api.error("POST", base, {"filter": {"properties": {"amount": "1"}, "values": {"color": ["red"]}}})
    assert errors["error_details"] == {"values": ["invalid_filter_values"]}
    errors = await api.error("POST", base, {"filter": {"properties": {"amount": "x"}, "values": {"region": ["asia"]}}})
    assert errors["error_details"] == {"properties": ["invalid_amount"]}
    errors = await api.error("POST", base, {"filter": {"properties": {"amount": "1"}, "values": {"region": ["eu"]}}})
    assert errors["error_details"] == {"values": ["duplicated_filter_values"]}
    errors = await api.error("POST", base, {"filter": {"properties": {"amount": "1"}}})
    assert errors["error_details"] == {"values": ["value_is_mandatory"]}

    removed = (await api.ok("DELETE", filter_url))["filter"]
    assert removed["lago_id"] == created["lago_id"]
    body = await api.error("GET", filter_url, status=404)
    assert body["code"] == "charge_filter_not_found"
    await api.error("GET", f"{base}/{uuid.uuid4()}", status=404)
    charge = (await api.ok("GET", f"/api/v1/plans/{plan['code']}/charges/{charge_code}"))["charge"]
    assert [f["lago_id"] for f in charge["filters"]] == [both["filter"]["lago_id"]]


async def test_fixed_charge_sub_resources(api):
    add_on, second = await api.add_on("EUR"), await api.add_on("EUR")
    plan = await api.plan()
    base = f"/api/v1/plans/{plan['code']}/fixed_charges"
    created = (await api.ok("POST", base, {"fixed_charge": {
        "add_on_id": add_on["lago_id"], "charge_model": "graduated", "units": 3, "prorated": True,
        "properties": {"graduated_ranges": [{"from_value": 0, "to_value": 1, "per_unit_amount": "5",
                                             "flat_amount": "0"},
                                            {"from_value": 2, "to_value": None, "per_unit_amount": "4",
                                             "flat_amount": "0"}]},
    }}))["fixed_charge"]
    assert created["code"] == add_on["code"] and created["units"] == 3.0 and created["prorated"] is True
    url = f"{base}/{created['code']}"
    assert (await api.ok("GET", url))["fixed_charge"] == created
    updated = (await api.ok("PUT", url, {"fixed_charge": {"units": "10", "invoice_display_name": "Seats"}}))
    assert updated["fixed_charge"]["units"] == 10.0 and updated["fixed_charge"]["invoice_display_name"] == "Seats"
    await api.ok("POST", base, {"fixed_charge": {"add_on_code": second["code"], "code": "second",
                                                 "charge_model": "standard", "properties": {"amount": "3"}}})
    assert (await api.ok("GET", base))["meta"]["total_count"] == 2
    assert (await api.ok("DELETE", url))["fixed_charge"]["code"] == created["code"]
    await api.error("GET", url, status=404)
    plan = (await api.ok("GET", f"/api/v1/plans/{plan['code']}"))["plan"]
    assert [f["code"] for f in plan["fixed_charges"]] == ["second"] and plan["version"] == 5


async def test_explicit_nulls_as_lago_clients_send_them(api, charge_of):
    """Lago's Python client sends nested creates with every unset field as null."""
    metric = await api.metric()
    plan = await api.plan()
    nulls = {"code": None, "invoice_display_name": None, "pay_in_advance": None, "invoiceable": None,
             "regroup_paid_fees": None, "prorated": None, "min_amount_cents": None, "filters": None,
             "tax_codes": None, "applied_pricing_unit": None, "cascade_updates": None}
    created = (await api.ok("POST", f"/api/v1/plans/{plan['code']}/charges",
                            {"charge": {**charge_of(metric), **nulls}}))["charge"]
    assert created["invoiceable"] is True and created["code"] == metric["code"]
    updated = (await api.ok("PUT", f"/api/v1/plans/{plan['code']}", {"plan": {
        "name": "P", "pay_in_advance": None, "trial_period": None, "tax_codes": None, "charges": None,
        "minimum_commitment": None, "usage_thresholds": None, "cascade_updates": None,
    }}))["plan"]
    assert updated["pay_in_advance"] is True and [c["code"] for c in updated["charges"]] == [metric["code"]]
