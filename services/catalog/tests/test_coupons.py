"""Coupons: types, frequencies, expiration, limitation to plans or metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def coupon(api, **fields) -> dict:
    return {"name": "Launch", "code": api.code("coupon"), "coupon_type": "fixed_amount", "amount_cents": 1000,
            "amount_currency": "EUR", "frequency": "once", "expiration": "no_expiration", **fields}


async def test_coupon_lifecycle(api):
    plan = await api.plan()
    metric = await api.metric()
    later = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    created = (await api.ok("POST", "/api/v1/coupons", {"coupon": coupon(
        api, coupon_type="percentage", percentage_rate="12.5", amount_cents=999, frequency="recurring",
        frequency_duration=3, expiration="time_limit", expiration_at=later.isoformat(), reusable=False,
        applies_to={"plan_codes": [plan["code"]]},
    )}))["coupon"]
    assert created["percentage_rate"] == "12.5" and created["amount_cents"] is None
    assert created["frequency_duration"] == 3 and created["reusable"] is False
    assert created["limited_plans"] is True and created["plan_codes"] == [plan["code"]]
    assert created["limited_billable_metrics"] is False and created["billable_metric_codes"] == []
    assert datetime.fromisoformat(created["expiration_at"]) == later and created["terminated_at"] is None
    code = created["code"]
    assert (await api.ok("GET", f"/api/v1/coupons/{code}"))["coupon"] == created

    updated = (await api.ok("PUT", f"/api/v1/coupons/{code}", {"coupon": {
        "frequency": "forever", "applies_to": {"plan_codes": [], "billable_metric_codes": [metric["code"]]},
    }}))["coupon"]
    assert updated["frequency"] == "forever" and updated["frequency_duration"] is None
    assert updated["limited_plans"] is False and updated["billable_metric_codes"] == [metric["code"]]

    fixed = (await api.ok("POST", "/api/v1/coupons", {"coupon": coupon(api, percentage_rate="5")}))["coupon"]
    assert fixed["amount_cents"] == 1000 and fixed["percentage_rate"] is None and fixed["reusable"] is True
    assert (await api.ok("GET", "/api/v1/coupons"))["meta"]["total_count"] == 2

    deleted = (await api.ok("DELETE", f"/api/v1/coupons/{code}"))["coupon"]
    assert deleted["terminated_at"] is not None
    await api.error("GET", f"/api/v1/coupons/{code}", status=404)


async def test_coupon_validation(api):
    existing = (await api.ok("POST", "/api/v1/coupons", {"coupon": coupon(api)}))["coupon"]
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    cases = [
        (coupon(api, code=existing["code"]), {"code": ["value_already_exist"]}),
        (coupon(api, amount_cents=None), {"amount_cents": ["value_is_mandatory"]}),
        (coupon(api, amount_cents=0), {"amount_cents": ["value_is_out_of_range"]}),
        (coupon(api, amount_currency=None), {"amount_currency": ["value_is_mandatory"]}),
        (coupon(api, coupon_type="percentage"), {"percentage_rate": ["value_is_mandatory"]}),
        (coupon(api, coupon_type="percentage", percentage_rate="150"), {"percentage_rate": ["value_is_out_of_range"]}),
        (coupon(api, coupon_type="percentage", percentage_rate="0"), {"percentage_rate": ["value_is_out_of_range"]}),
        (coupon(api, frequency="recurring"), {"frequency_duration": ["value_is_mandatory"]}),
        (coupon(api, frequency="recurring", frequency_duration=0), {"frequency_duration": ["value_is_out_of_range"]}),
        (coupon(api, frequency="weekly"), {"frequency": ["value_is_invalid"]}),
        (coupon(api, expiration="time_limit"), {"expiration_at": ["value_is_mandatory"]}),
        (coupon(api, expiration="time_limit", expiration_at=past), {"expiration_at": ["invalid_date"]}),
        (coupon(api, expiration="time_limit", expiration_at="2001-01-01T00:00:00"),  # naive: read as UTC
         {"expiration_at": ["invalid_date"]}),
        (coupon(api, expiration_at="soon"), {"expiration_at": ["invalid_date"]}),
        (coupon(api, applies_to={"plan_codes": ["nope"]}), {"applies_to.plan_codes": ["plan_not_found"]}),
        (coupon(api, applies_to={"billable_metric_codes": ["nope"]}),
         {"applies_to.billable_metric_codes": ["billable_metric_not_found"]}),
    ]
    for body, details in cases:
        error = await api.error("POST", "/api/v1/coupons", {"coupon": body})
        assert error["error_details"] == details, body
    plan, metric = await api.plan(), await api.metric()
    body = await api.error("POST", "/api/v1/coupons", {"coupon": coupon(
        api, applies_to={"plan_codes": [plan["code"]], "billable_metric_codes": [metric["code"]]})}, status=405)
    assert body["code"] == "only_one_limitation_type_per_coupon_allowed"
    assert (await api.ok("GET", "/api/v1/coupons"))["meta"]["total_count"] == 1
    error = await api.error("PUT", f"/api/v1/coupons/{existing['code']}", {"coupon": {"coupon_type": "percentage"}})
    assert error["error_details"] == {"percentage_rate": ["value_is_mandatory"]}
    assert (await api.ok("GET", f"/api/v1/coupons/{existing['code']}"))["coupon"] == existing
