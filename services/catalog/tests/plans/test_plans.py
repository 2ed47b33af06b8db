"""Plans: creation with every kind of price, Lago's shapes, reads, lists, archive, metadata."""

from __future__ import annotations

PLAN_KEYS = {
    "lago_id", "name", "invoice_display_name", "created_at", "code", "interval", "description", "amount_cents",
    "amount_currency", "trial_period", "pay_in_advance", "bill_charges_monthly", "bill_fixed_charges_monthly",
    "minimum_commitment", "charges", "fixed_charges", "taxes", "usage_thresholds", "entitlements", "metadata",
    "lago_plan_version_id", "version", "deleted_at",
}
CHARGE_KEYS = {
    "lago_id", "lago_billable_metric_id", "billable_metric_code", "code", "invoice_display_name", "created_at",
    "charge_model", "pay_in_advance", "invoiceable", "regroup_paid_fees", "prorated", "min_amount_cents",
    "properties", "filters", "taxes", "applied_pricing_unit", "accepts_target_wallet", "lago_parent_id",
}


def ranges(key: str, price: str = "per_unit_amount") -> dict:
    return {key: [{"from_value": 0, "to_value": 10, price: "1", "flat_amount": "2"},
                  {"from_value": 11, "to_value": None, price: "0.5", "flat_amount": "0"}]}


async def test_create_plan_with_every_price(api):
    tax = await api.tax()
    summed = await api.metric("sum_agg", filters=[{"key": "region", "values": ["eu", "us"]}])
    counted = await api.metric("count_agg")
    add_on = await api.add_on("EUR")
    charges = [
        {"billable_metric_id": summed["lago_id"], "charge_model": "standard", "properties": {"amount": "0.05"},
         "tax_codes": [tax["code"]], "invoice_display_name": "API calls", "min_amount_cents": 500,
         "filters": [{"invoice_display_name": "EU", "properties": {"amount": "0.04"}, "values": {"region": ["eu"]}}]},
        {"billable_metric_code": counted["code"], "charge_model": "graduated", **{"properties": ranges(
            "graduated_ranges")}},
        {"billable_metric_id": counted["lago_id"], "code": "vol", "charge_model": "volume",
         "properties": ranges("volume_ranges")},
        {"billable_metric_id": counted["lago_id"], "code": "pkg", "charge_model": "package",
         "properties": {"amount": "5", "package_size": 100, "free_units": 100}},
        {"billable_metric_id": summed["lago_id"], "code": "pct", "charge_model": "percentage", "pay_in_advance": True,
         "invoiceable": False, "regroup_paid_fees": "invoice",
         "properties": {"rate": "1.2", "fixed_amount": "0.1", "free_units_per_events": 3,
                        "per_transaction_min_amount": "0.5", "per_transaction_max_amount": "10"}},
        {"billable_metric_id": summed["lago_id"], "code": "gp", "charge_model": "graduated_percentage",
         "properties": ranges("graduated_percentage_ranges", "rate")},
        {"billable_metric_id": summed["lago_id"], "code": "dyn", "charge_model": "dynamic", "properties": {}},
    ]
    plan = await api.plan(
        charges, code=api.code("full"), interval="yearly", trial_period=14, bill_charges_monthly=True,
        tax_codes=[tax["code"]], description="All of it", invoice_display_name="Full plan",
        minimum_commitment={"amount_cents": 100_000, "invoice_display_name": "Commitment", "tax_codes": [tax["code"]]},
        usage_thresholds=[{"amount_cents": 10_000, "threshold_display_name": "First"},
                          {"amount_cents": 5_000, "recurring": True}],
        fixed_charges=[{"add_on_id": add_on["lago_id"], "charge_model": "standard", "units": 2,
                        "pay_in_advance": True, "properties": {"amount": "500"}}],
        metadata={"external_id": "crm-1", "note": None},
    )
    assert set(plan) == PLAN_KEYS
    assert plan["version"] == 1 and plan["trial_period"] == 14.0 and plan["bill_charges_monthly"] is True
    assert plan["bill_fixed_charges_monthly"] is False and plan["metadata"] == {"external_id": "crm-1", "note": None}
    assert [t["code"] for t in plan["taxes"]] == [tax["code"]]
    assert [c["code"] for c in plan["charges"]] == [summed["code"], counted["code"], "vol", "pkg", "pct", "gp", "dyn"]
    first = plan["charges"][0]
    assert set(first) == CHARGE_KEYS
    assert first["lago_billable_metric_id"] == summed["lago_id"] and first["billable_metric_code"] == summed["code"]
    assert first["properties"] == {"amount": "0.05"} and first["min_amount_cents"] == 500
    assert first["filters"][0]["values"] == {"region": ["eu"]} and first["filters"][0]["invoice_display_name"] == "EU"
    assert [t["code"] for t in first["taxes"]] == [tax["code"]]
    assert plan["charges"][4]["regroup_paid_fees"] == "invoice" and plan["charges"][4]["invoiceable"] is False
    commitment = plan["minimum_commitment"]
    assert commitment["amount_cents"] == 100_000 and commitment["plan_code"] == plan["code"]
    assert commitment["interval"] == "yearly" and [t["code"] for t in commitment["taxes"]] == [tax["code"]]
    assert [(t["amount_cents"], t["recurring"]) for t in plan["usage_thresholds"]] == [(10_000, False), (5_000, True)]
    [fixed] = plan["fixed_charges"]
    assert fixed["add_on_code"] == add_on["code"] and fixed["code"] == add_on["code"] and fixed["units"] == 2.0
    assert fixed["lago_add_on_id"] == add_on["lago_id"] and fixed["properties"] == {"amount": "500"}

    assert (await api.ok("GET", f"/api/v1/plans/{plan['code']}"))["plan"] == plan


async def test_defaults_and_lago_normalisation(api, charge_of):
    metric = await api.metric()
    plan = await api.plan([{**charge_of(metric), "properties": {"amount": "1", "volume_ranges": [],
                                                                  "grouped_by": ["agent"]}}],
                          bill_charges_monthly=True)
    charge = plan["charges"][0]
    assert charge["properties"] == {"amount": "1", "pricing_group_keys": ["agent"]}  # keys of other models dropped
    assert charge["pay_in_advance"] is False and charge["invoiceable"] is True and charge["prorated"] is False
    assert charge["min_amount_cents"] == 0 and charge["code"] == metric["code"]
    assert plan["bill_charges_monthly"] is None  # monthly plans cannot bill charges monthly (Lago: null)
    assert plan["trial_period"] is None and plan["minimum_commitment"] is None and plan["usage_thresholds"] == []
    two = await api.plan([charge_of(metric), charge_of(metric, "2")])
    assert [c["code"] for c in two["charges"]] == [metric["code"], f"{metric['code']}_2"]


async def test_list_plans_newest_first_and_archive(api, charge_of):
    metric = await api.metric()
    first = await api.plan([charge_of(metric)])
    second = await api.plan()
    page = await api.ok("GET", "/api/v1/plans?per_page=1")
    assert [p["code"] for p in page["plans"]] == [second["code"]] and page["meta"]["total_count"] == 2

    archived = (await api.ok("DELETE", f"/api/v1/plans/{first['code']}"))["plan"]
    assert archived["deleted_at"] is not None
    body = await api.error("GET", f"/api/v1/plans/{first['code']}", status=404)
    assert body == {"status": 404, "error": "Not Found", "code": "plan_not_found"}
    assert (await api.ok("GET", "/api/v1/plans"))["meta"]["total_count"] == 1
    await api.error("PUT", f"/api/v1/plans/{first['code']}", {"plan": {"name": "x"}}, status=404)
    await api.error("DELETE", f"/api/v1/plans/{first['code']}", status=404)

    version = (await api.ok("GET", f"/api/v1/plan_versions/{first['lago_plan_version_id']}"))["plan_version"]
    assert version["is_current"] is False and version["charges"] == first["charges"]  # still what was sold

    reused = await api.plan(code=first["code"])  # an archived plan's code is free again
    assert reused["lago_id"] != first["lago_id"] and reused["version"] == 1


async def test_metadata_endpoints(api):
    plan = await api.plan(metadata={"a": "1"})
    url = f"/api/v1/plans/{plan['code']}/metadata"
    assert (await api.ok("PATCH", url, {"metadata": {"b": "2"}}))["metadata"] == {"a": "1", "b": "2"}
    assert (await api.ok("POST", url, {"metadata": {"c": None}}))["metadata"] == {"c": None}
    assert (await api.ok("DELETE", f"{url}/c"))["metadata"] is None
    # Lago: a key of a plan without metadata is 404; a key its metadata does not hold changes nothing
    assert (await api.error("DELETE", f"{url}/missing", status=404))["code"] == "metadata_not_found"
    await api.ok("PATCH", url, {"metadata": {"d": "4"}})
    assert (await api.ok("DELETE", f"{url}/missing"))["metadata"] == {"d": "4"}
    error = await api.error("PATCH", url, {"metadata": {f"k{i}": "v" for i in range(50)}})
    assert error["error_details"] == {"metadata": ["too_many_keys"]}  # 51 once merged
    assert (await api.ok("DELETE", url))["metadata"] is None
    error = await api.error("PATCH", url, {"metadata": {"k": "x" * 300}})
    assert error["error_details"] == {"metadata": ["value_is_invalid"]}
    version = (await api.ok("GET", f"/api/v1/plans/{plan['code']}"))["plan"]["version"]
    assert version == 1  # metadata is not a price
