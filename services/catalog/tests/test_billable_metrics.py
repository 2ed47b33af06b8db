"""Billable metrics: CRUD, aggregation rules, filters, protection of metrics that plans charge."""

from __future__ import annotations


async def test_metric_lifecycle(api):
    created = await api.metric(
        "sum_agg", description="GB stored", rounding_function="round", rounding_precision=2,
        filters=[{"key": "region", "values": ["eu", "us", "eu"]}],
    )
    assert created["aggregation_type"] == "sum_agg" and created["field_name"] == "value"
    assert created["recurring"] is False and created["weighted_interval"] is None
    assert created["filters"] == [{"key": "region", "values": ["eu", "us"]}]
    assert created["rounding_function"] == "round" and created["rounding_precision"] == 2
    code = created["code"]
    assert (await api.ok("GET", f"/api/v1/billable_metrics/{code}"))["billable_metric"] == created

    updated = (await api.ok("PUT", f"/api/v1/billable_metrics/{code}", {"billable_metric": {
        "name": "Storage", "aggregation_type": "weighted_sum_agg", "recurring": True,
        "filters": [{"key": "tier", "values": ["hot"]}],
    }}))["billable_metric"]
    assert updated["name"] == "Storage" and updated["weighted_interval"] == "seconds" and updated["recurring"]
    assert updated["description"] == "GB stored" and updated["filters"] == [{"key": "tier", "values": ["hot"]}]

    deleted = (await api.ok("DELETE", f"/api/v1/billable_metrics/{code}"))["billable_metric"]
    assert deleted["deleted_at"] is not None
    await api.error("GET", f"/api/v1/billable_metrics/{code}", status=404)
    again = await api.metric(code=code)  # the code is free again
    assert again["lago_id"] != created["lago_id"]


async def test_metric_list_filters_by_aggregation_type_and_plan(api, charge_of):
    count = await api.metric("count_agg")
    summed = await api.metric("sum_agg")
    await api.metric("max_agg")
    page = await api.ok("GET", "/api/v1/billable_metrics")
    assert page["meta"]["total_count"] == 3
    only = await api.ok("GET", "/api/v1/billable_metrics?aggregation_types[]=count_agg&aggregation_types[]=sum_agg")
    assert {m["code"] for m in only["billable_metrics"]} == {count["code"], summed["code"]}
    plan = await api.plan(charges=[charge_of(summed)])
    charged = await api.ok("GET", f"/api/v1/billable_metrics?plan_code={plan['code']}")
    assert [m["code"] for m in charged["billable_metrics"]] == [summed["code"]]


async def test_metric_validation(api):
    existing = await api.metric()
    base = {"name": "M", "code": "m1", "aggregation_type": "sum_agg", "field_name": "v"}
    cases = [
        ({**base, "code": existing["code"]}, {"code": ["value_already_exist"]}),
        ({**base, "field_name": None}, {"field_name": ["value_is_mandatory"]}),
        ({**base, "aggregation_type": "median_agg"}, {"aggregation_type": ["value_is_invalid"]}),
        ({**base, "aggregation_type": "count_agg", "recurring": True},
         {"recurring": ["not_compatible_with_aggregation_type"]}),
        ({**base, "aggregation_type": "max_agg", "recurring": True},
         {"recurring": ["not_compatible_with_aggregation_type"]}),
        ({**base, "aggregation_type": "latest_agg", "recurring": True},
         {"recurring": ["not_compatible_with_aggregation_type"]}),
        ({**base, "rounding_function": "truncate"}, {"rounding_function": ["value_is_invalid"]}),
        ({**base, "rounding_precision": 99}, {"rounding_precision": ["value_is_out_of_range"]}),
        ({**base, "filters": [{"key": "a", "values": ["x"]}, {"key": "a", "values": ["y"]}]},
         {"filters": ["duplicated_filter_keys"]}),
        ({**base, "filters": [{"key": "a", "values": []}]}, {"filters.0.values": ["too_few_items"]}),
        ({**base, "weighted_interval": "hours"}, {"weighted_interval": ["value_is_invalid"]}),
    ]
    for body, details in cases:
        error = await api.error("POST", "/api/v1/billable_metrics", {"billable_metric": body})
        assert error["error_details"] == details, body
    assert (await api.ok("GET", "/api/v1/billable_metrics"))["meta"]["total_count"] == 1

    count = await api.metric("count_agg")
    assert count["field_name"] is None
    error = await api.error("PUT", f"/api/v1/billable_metrics/{count['code']}",
                            {"billable_metric": {"aggregation_type": "sum_agg"}})
    assert error["error_details"] == {"field_name": ["value_is_mandatory"]}


async def test_charged_metric_keeps_what_defines_its_units(api, charge_of):
    metric = await api.metric("sum_agg", recurring=True)
    plan = await api.plan(charges=[charge_of(metric)])
    url = f"/api/v1/billable_metrics/{metric['code']}"
    error = await api.error("PUT", url, {"billable_metric": {"aggregation_type": "max_agg", "recurring": False,
                                                             "field_name": "other"}})
    assert error["error_details"] == {
        "aggregation_type": ["not_editable_when_attached_to_plans"],
        "field_name": ["not_editable_when_attached_to_plans"],
        "recurring": ["not_editable_when_attached_to_plans"],
    }
    renamed = (await api.ok("PUT", url, {"billable_metric": {"name": "Renamed", "description": "ok"}}))
    assert renamed["billable_metric"]["name"] == "Renamed"

    error = await api.error("DELETE", url)
    assert error["error_details"] == {"billable_metric": ["attached_to_live_plans"]}
    await api.ok("DELETE", f"/api/v1/plans/{plan['code']}")
    await api.ok("DELETE", url)  # the archived plan's versions keep the (deleted) metric
