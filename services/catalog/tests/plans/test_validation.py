"""Every plan and charge rule answers 422 with Lago's error_details, and nothing is saved."""

from __future__ import annotations

import pytest

GRADUATED_OK = [{"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
                {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"}]


def tiers(*bounds, key="graduated_ranges", price="per_unit_amount", amount="1"):
    return {key: [{"from_value": f, "to_value": t, price: amount, "flat_amount": "0"} for f, t in bounds]}


@pytest.fixture(scope="module")
async def metrics(module_api):
    """One set of metrics for the whole module, in the module's organization (the cases only fail)."""
    api = module_api
    return {
        "sum": await api.metric("sum_agg", filters=[{"key": "region", "values": ["eu"]}]),
        "count": await api.metric("count_agg"),
        "max": await api.metric("max_agg"),
        "latest": await api.metric("latest_agg"),
        "weighted": await api.metric("weighted_sum_agg", recurring=True),
        "recurring": await api.metric("sum_agg", recurring=True),
        "unique": await api.metric("unique_count_agg"),
    }


CHARGE_CASES = [
    # tiers
    # adjacent tiers (from_value = previous to_value) are valid, as in Lago's RangeBoundsValidator
    ("graduated overlapping", "sum", {"charge_model": "graduated", "properties": tiers((0, 10), (9, None))},
     {"properties": ["invalid_graduated_ranges"]}),
    ("graduated gap", "sum", {"charge_model": "graduated", "properties": tiers((0, 10), (12, None))},
     {"properties": ["invalid_graduated_ranges"]}),
    ("graduated not from 0", "sum", {"charge_model": "graduated", "properties": tiers((2, None))},
     {"properties": ["invalid_graduated_ranges"]}),
    ("graduated closed last tier", "sum", {"charge_model": "graduated", "properties": tiers((0, 10), (11, 20))},
     {"properties": ["invalid_graduated_ranges"]}),
    ("graduated missing", "sum", {"charge_model": "graduated", "properties": {}},
     {"properties": ["missing_graduated_ranges"]}),
    ("volume overlapping", "sum", {"charge_model": "volume",
                                   "properties": tiers((0, 10), (5, None), key="volume_ranges")},
     {"properties": ["invalid_volume_ranges"]}),
    ("volume not from 0", "sum", {"charge_model": "volume", "properties": tiers((5, None), key="volume_ranges")},
     {"properties": ["invalid_volume_ranges"]}),
    ("graduated percentage gap", "sum", {"charge_model": "graduated_percentage", "properties": tiers(
        (0, 10), (20, None), key="graduated_percentage_ranges", price="rate")},
     {"properties": ["invalid_graduated_percentage_ranges"]}),
    # amounts
    ("negative amount", "sum", {"charge_model": "standard", "properties": {"amount": "-1"}},
     {"properties": ["invalid_amount"]}),
    ("float amount", "sum", {"charge_model": "standard", "properties": {"amount": 0.1}},
     {"properties": ["invalid_amount"]}),
    ("negative tier price", "sum", {"charge_model": "graduated", "properties": tiers((0, None), amount="-2")},
     {"properties": ["invalid_amount"]}),
    ("package size 0", "sum", {"charge_model": "package", "properties": {"amount": "1", "package_size": 0}},
     {"properties": ["invalid_package_size"]}),
    ("percentage min above max", "sum", {"charge_model": "percentage", "properties": {
        "rate": "1", "per_transaction_min_amount": "5", "per_transaction_max_amount": "1"}},
     {"properties": ["per_transaction_max_lower_than_per_transaction_min"]}),
    ("negative min amount", "sum", {"charge_model": "standard", "properties": {"amount": "1"},
                                    "min_amount_cents": -1}, {"min_amount_cents": ["value_is_out_of_range"]}),
    # combinations Lago forbids
    ("volume in advance", "sum", {"charge_model": "volume", "pay_in_advance": True,
                                  "properties": tiers((0, None), key="volume_ranges")},
     {"pay_in_advance": ["invalid_aggregation_type_or_charge_model"]}),
    ("max in advance", "max", {"charge_model": "standard", "pay_in_advance": True, "properties": {"amount": "1"}},
     {"pay_in_advance": ["invalid_aggregation_type_or_charge_model"]}),
    ("latest in advance", "latest", {"charge_model": "standard", "pay_in_advance": True,
                                     "properties": {"amount": "1"}},
     {"pay_in_advance": ["invalid_aggregation_type_or_charge_model"]}),
    ("weighted in advance", "weighted", {"charge_model": "standard", "pay_in_advance": True,
                                         "properties": {"amount": "1"}},
     {"pay_in_advance": ["invalid_aggregation_type_or_charge_model"]}),
    ("not invoiceable in arrears", "sum", {"charge_model": "standard", "invoiceable": False,
                                           "properties": {"amount": "1"}},
     {"invoiceable": ["must_be_true_unless_pay_in_advance"]}),
    ("regroup invoiceable", "sum", {"charge_model": "standard", "pay_in_advance": True, "regroup_paid_fees": "invoice",
                                    "properties": {"amount": "1"}},
     {"regroup_paid_fees": ["only_compatible_with_pay_in_advance_and_non_invoiceable"]}),
    ("min amount in advance", "sum", {"charge_model": "standard", "pay_in_advance": True, "min_amount_cents": 100,
                                      "properties": {"amount": "1"}},
     {"min_amount_cents": ["not_compatible_with_pay_in_advance"]}),
    ("prorated not recurring", "sum", {"charge_model": "standard", "prorated": True, "properties": {"amount": "1"}},
     {"prorated": ["invalid_billable_metric_or_charge_model"]}),
    ("prorated package", "recurring", {"charge_model": "package", "prorated": True,
                                       "properties": {"amount": "1", "package_size": 1}},
     {"prorated": ["invalid_billable_metric_or_charge_model"]}),
    ("prorated graduated in advance", "recurring", {"charge_model": "graduated", "prorated": True,
                                                    "pay_in_advance": True, "properties": tiers((0, None))},
     {"prorated": ["invalid_billable_metric_or_charge_model"]}),
    ("prorated weighted", "weighted", {"charge_model": "standard", "prorated": True, "properties": {"amount": "1"}},
     {"prorated": ["invalid_billable_metric_or_charge_model"]}),
    ("dynamic on count", "count", {"charge_model": "dynamic", "properties": {}},
     {"charge_model": ["invalid_aggregation_type_or_charge_model"]}),
    ("percentage on latest", "latest", {"charge_model": "percentage", "properties": {"rate": "1"}},
     {"billable_metric": ["invalid_value"]}),
    ("unknown charge model", "sum", {"charge_model": "custom", "properties": {}},
     {"charge_model": ["value_is_invalid"]}),
    ("filter on unknown key", "sum", {"charge_model": "standard", "properties": {"amount": "1"},
                                      "filters": [{"properties": {"amount": "2"}, "values": {"color": ["red"]}}]},
     {"filters.0.values": ["invalid_filter_values"]}),
    ("filter with bad price", "sum", {"charge_model": "standard", "properties": {"amount": "1"},
                                      "filters": [{"properties": {"amount": "no"}, "values": {"region": ["eu"]}}]},
     {"filters.0.properties": ["invalid_amount"]}),
    ("unknown tax code", "sum", {"charge_model": "standard", "properties": {"amount": "1"}, "tax_codes": ["nope"]},
     {"tax_codes": ["tax_not_found"]}),
]


@pytest.mark.parametrize(("case", "metric", "charge", "details"), CHARGE_CASES, ids=[c[0] for c in CHARGE_CASES])
async def test_invalid_charges_are_refused_and_nothing_is_saved(module_api, catalog, module_org, metrics, case, metric,
                                                                charge, details):
    api = module_api
    charges_before = await api.db_count(catalog, "charges", module_org)
    body = {"billable_metric_id": metrics[metric]["lago_id"], **charge}
    error = await api.error("POST", "/api/v1/plans", {"plan": {
        "name": "P", "code": "p", "interval": "monthly", "amount_cents": 0, "amount_currency": "EUR",
        "charges": [body],
    }})
    assert error["code"] == "validation_errors"
    assert error["error_details"] == {f"charges.0.{field}": codes for field, codes in details.items()}
    assert await api.db_count(catalog, "charges", module_org) == charges_before


VALID_COMBINATIONS = [
    ("count", {"charge_model": "standard", "pay_in_advance": True, "invoiceable": False, "regroup_paid_fees": "invoice",
               "properties": {"amount": "1"}}),
    ("unique", {"charge_model": "package", "pay_in_advance": True, "properties": {"amount": "1", "package_size": 1}}),
    ("recurring", {"charge_model": "standard", "prorated": True, "pay_in_advance": True,
                   "properties": {"amount": "1"}}),
    ("recurring", {"charge_model": "volume", "prorated": True, "properties": tiers((0, None), key="volume_ranges")}),
    ("recurring", {"charge_model": "graduated", "prorated": True, "properties": {"graduated_ranges": GRADUATED_OK}}),
    ("sum", {"charge_model": "dynamic"}),
    ("max", {"charge_model": "percentage", "properties": {"rate": "0.5"}}),
]


async def test_allowed_combinations_pass(module_api, metrics):
    api = module_api
    charges = [{"billable_metric_id": metrics[m]["lago_id"], "code": f"c{i}", **c}
               for i, (m, c) in enumerate(VALID_COMBINATIONS)]
    plan = await api.plan(charges)
    assert len(plan["charges"]) == len(VALID_COMBINATIONS)


async def test_plan_level_validation(module_api, catalog, module_org, metrics, charge_of):
    api, org = module_api, module_org
    existing = await api.plan()
    usd_add_on = await api.add_on("USD")
    base = {"name": "P", "code": "fresh", "interval": "monthly", "amount_cents": 0, "amount_currency": "EUR"}
    plans_before = await api.db_count(catalog, "plans", org)
    versions_before = await api.db_count(catalog, "plan_versions", org)
    cases = [
        ({**base, "code": existing["code"]}, {"code": ["value_already_exist"]}),
        ({**base, "amount_cents": -1}, {"amount_cents": ["value_is_out_of_range"]}),
        ({**base, "amount_cents": 10**30}, {"amount_cents": ["value_is_out_of_range"]}),
        ({**base, "amount_cents": "100"}, {"amount_cents": ["invalid_type"]}),
        ({**base, "amount_currency": "XXXX"}, {"amount_currency": ["value_is_invalid"]}),
        ({**base, "amount_currency": "usd"}, {"amount_currency": ["value_is_invalid"]}),
        ({**base, "interval": "daily"}, {"interval": ["value_is_invalid"]}),
        ({**base, "trial_period": -1}, {"trial_period": ["value_is_invalid"]}),
        ({**base, "trial_period": 10**9}, {"trial_period": ["value_is_out_of_range"]}),
        ({**base, "tax_codes": ["missing"]}, {"tax_codes": ["tax_not_found"]}),
        ({**base, "charges": [{"billable_metric_id": "2b8d1f7e-0000-7000-8000-000000000000",
                               "charge_model": "standard", "properties": {"amount": "1"}}]},
         {"charges.0.billable_metric_id": ["billable_metric_not_found"]}),
        ({**base, "charges": [{"billable_metric_code": "nope", "charge_model": "standard"}]},
         {"charges.0.billable_metric_code": ["billable_metric_not_found"]}),
        ({**base, "charges": [{"charge_model": "standard"}]}, {"charges.0.billable_metric_id": ["value_is_mandatory"]}),
        ({**base, "charges": [{"billable_metric_id": metrics["sum"]["lago_id"]}]},
         {"charges.0.charge_model": ["value_is_mandatory"]}),
        ({**base, "charges": [{**charge_of(metrics["sum"]), "code": "same"},
                              {**charge_of(metrics["count"]), "code": "same"}]},
         {"charges.1.code": ["value_already_exist"]}),
        ({**base, "fixed_charges": [{"add_on_code": "nope", "charge_model": "standard"}]},
         {"fixed_charges.0.add_on_code": ["add_on_not_found"]}),
        ({**base, "fixed_charges": [{"add_on_id": usd_add_on["lago_id"], "charge_model": "standard",
                                     "properties": {"amount": "1"}}]},
         {"fixed_charges.0.add_on": ["currencies_does_not_match"]}),
        ({**base, "amount_currency": "USD", "fixed_charges": [{"add_on_id": usd_add_on["lago_id"],
                                                               "charge_model": "volume", "pay_in_advance": True,
                                                               "properties": tiers((0, None), key="volume_ranges")}]},
         {"fixed_charges.0.pay_in_advance": ["invalid_charge_model"]}),
        ({**base, "amount_currency": "USD", "fixed_charges": [{"add_on_id": usd_add_on["lago_id"],
                                                               "charge_model": "standard", "units": -1,
                                                               "properties": {"amount": "1"}}]},
         {"fixed_charges.0.units": ["value_is_invalid"]}),
        ({**base, "usage_thresholds": [{"amount_cents": 10, "recurring": True},
                                       {"amount_cents": 20, "recurring": True}]},
         {"usage_thresholds": ["multiple_recurring_thresholds"]}),
        ({**base, "usage_thresholds": [{"amount_cents": 10}, {"amount_cents": 10}]},
         {"usage_thresholds": ["duplicated_amount_cents"]}),
        ({**base, "usage_thresholds": [{"amount_cents": 0}]}, {"usage_thresholds.0.amount_cents":
                                                               ["value_is_out_of_range"]}),
        ({**base, "minimum_commitment": {"amount_cents": 1, "tax_codes": ["x"]}},
         {"minimum_commitment.tax_codes": ["tax_not_found"]}),
        ({"name": "P"}, {"code": ["value_is_mandatory"], "interval": ["value_is_mandatory"],
                         "amount_cents": ["value_is_mandatory"], "amount_currency": ["value_is_mandatory"]}),
    ]
    for body, details in cases:
        error = await api.error("POST", "/api/v1/plans", {"plan": body})
        assert error["error_details"] == details, body
    assert await api.db_count(catalog, "plans", org) == plans_before
    assert await api.db_count(catalog, "plan_versions", org) == versions_before


async def test_update_validation_changes_nothing(module_api, metrics, charge_of):
    api = module_api
    add_on = await api.add_on("EUR")
    plan = await api.plan([charge_of(metrics["sum"])], fixed_charges=[
        {"add_on_id": add_on["lago_id"], "charge_model": "standard", "properties": {"amount": "1"}}])
    url = f"/api/v1/plans/{plan['code']}"
    other = await api.plan()
    cases = [
        ({"code": other["code"]}, {"code": ["value_already_exist"]}),
        ({"amount_currency": "USD"}, {"fixed_charges.0.add_on": ["currencies_does_not_match"]}),
        ({"charges": [{"id": "2b8d1f7e-0000-7000-8000-000000000000"}]}, {"charges.0.id": ["charge_not_found"]}),
        ({"charges": [{"code": metrics["sum"]["code"], "charge_model": "volume"}]},
         {"charges.0.properties": ["missing_volume_ranges"]}),
        ({"amount_cents": 5, "charges": [{"code": metrics["sum"]["code"], "pay_in_advance": True,
                                          "min_amount_cents": 5}]},
         {"charges.0.min_amount_cents": ["not_compatible_with_pay_in_advance"]}),
    ]
    for body, details in cases:
        error = await api.error("PUT", url, {"plan": body})
        assert error["error_details"] == details, body
    after = (await api.ok("GET", url))["plan"]
    assert after == plan
