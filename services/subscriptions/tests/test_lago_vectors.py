"""Lago's documented examples and lago-api spec vectors, run through Invora's API (issue 12).

Every scenario creates its billable metric and plan in the real catalog, a customer and a subscription,
sends events over HTTP and reads `current_usage` / `projected_usage` / the subscription back, then checks
Lago's figure. Each one names its source: a lago-api file (getlago/lago-api, `app/...` or `spec/...`), a
pull request, or a page of Lago's documentation. Where Invora deliberately differs, the difference is in
`docs/lago-compatibility.md` and no vector here pretends otherwise.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from .test_usage_periods import published  # noqa: TID252

LAGO = "getlago/lago-api "
ALL = "__ALL_FILTER_VALUES__"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class Setup:
    api: Any
    customer: str
    subscription: str
    code: str
    created: dict

    async def send(self, *events: tuple[datetime, dict[str, Any]] | dict[str, Any]) -> None:
        body = []
        for event in events:
            if isinstance(event, tuple):
                at, properties = event
                event = {"timestamp": iso(at), "properties": properties}
            body.append({"transaction_id": uuid.uuid4().hex, "external_subscription_id": self.subscription,
                         "code": self.code, **event})
        if body:
            await self.api.ok("POST", "/api/v1/events/batch", {"events": body})

    async def usage(self, projected: bool = False) -> dict:
        kind = "projected_usage" if projected else "current_usage"
        body = await self.api.ok("GET", f"/api/v1/customers/{self.customer}/{kind}",
                                 params={"external_subscription_id": self.subscription, "apply_taxes": "false"})
        return body[f"customer_{kind}" if projected else "customer_usage"]

    async def charge(self, projected: bool = False) -> dict:
        (charge,) = (await self.usage(projected))["charges_usage"]
        return charge


async def setup(api, plans, clock, *, now: datetime, subscription_at: datetime, aggregation: str = "sum_agg",
                charge_model: str = "standard", properties: dict | None = None, filters: list | None = None,
                metric_filters: list | None = None, timezone: str | None = None, billing_time: str = "calendar",
                interval: str = "monthly", **metric_fields) -> Setup:
    clock.set(now)
    metric = (await plans.api.ok("POST", "/api/v1/billable_metrics", {"billable_metric": {
        "name": aggregation, "code": f"m_{uuid.uuid4().hex[:8]}", "aggregation_type": aggregation,
        "field_name": None if aggregation == "count_agg" else "value", "filters": metric_filters or [],
        **metric_fields}}))["billable_metric"]
    charge = {"billable_metric_id": metric["lago_id"], "charge_model": charge_model,
              "properties": properties if properties is not None else {"amount": "1"}}
    if filters is not None:
        charge["filters"] = filters
    plan = await plans.plan(interval=interval, charges=[charge])
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    await api.customer(customer, **({"timezone": timezone} if timezone else {}))
    subscription = f"sub_{uuid.uuid4().hex[:8]}"
    created = (await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": customer, "plan_code": plan["code"], "external_id": subscription,
        "subscription_at": iso(subscription_at), "billing_time": billing_time}}))["subscription"]
    return Setup(api, customer, subscription, metric["code"], created)


MARCH = {"now": utc(2026, 3, 20, 12), "subscription_at": utc(2026, 3, 1)}
IN_MARCH = utc(2026, 3, 10, 9)


def tiers(key: str, *rows: tuple, price: str = "per_unit_amount") -> dict:
    return {key: [{"from_value": a, "to_value": b, price: p, "flat_amount": f} for a, b, p, f in rows]}


LAGO_GRADUATED = tiers("graduated_ranges", (0, 10, "10", "2"), (11, 20, "5", "3"), (21, None, "5", "3"))
LAGO_VOLUME = tiers("volume_ranges", (0, 100, "2", "10"), (101, 200, "1", "0"), (201, None, "0.5", "50"))
LAGO_GRADUATED_PERCENTAGE = tiers("graduated_percentage_ranges", (0, 10, "1", "200"), (11, 20, "2", "300"),
                                  (21, None, "3", "400"), price="rate")
GRADUATED_SPEC = LAGO + "spec/services/charge_models/graduated_service_spec.rb"
VOLUME_SPEC = LAGO + "spec/services/charge_models/volume_service_spec.rb"
PACKAGE_SPEC = LAGO + "spec/services/charge_models/package_service_spec.rb"
GRADUATED_PERCENTAGE_SPEC = LAGO + "spec/services/charge_models/graduated_percentage_service_spec.rb"

# (id, source, charge model, properties, units sent as one sum event (None: no event), units, amount_cents)
CHARGE_MODEL_VECTORS = [
    ("graduated-zero-usage", GRADUATED_SPEC + " 'when aggregation is 0'; lago-api PR #5760",
     "graduated", LAGO_GRADUATED, None, "0", 200),
    ("graduated-1", GRADUATED_SPEC + " 'when aggregation is 1'", "graduated", LAGO_GRADUATED, "1", "1", 1200),
    ("graduated-tier-1-edge", GRADUATED_SPEC + " 'when aggregation is 10'", "graduated", LAGO_GRADUATED,
     "10", "10", 10200),
    ("graduated-tier-2-start", GRADUATED_SPEC + " 'when aggregation is 11'", "graduated", LAGO_GRADUATED,
     "11", "11", 11000),
    ("graduated-tier-3-start", GRADUATED_SPEC + " 'when aggregation is 21'", "graduated", LAGO_GRADUATED,
     "21", "21", 16300),
    ("graduated-fractional", LAGO + "app/services/charge_models/amount_details/range_graduated_service.rb "
     "(10.5 units: 10 in tier 1, 10.5 - 11 + 1 = 0.5 in tier 2)", "graduated", LAGO_GRADUATED,
     "10.5", "10.5", 10750),
    ("graduated-adjacent", LAGO + "app/services/validators/range_bounds_validator.rb + graduated_service.rb "
     "adjacent_ranges? (0–100, 100–∞: 100 + 50 × 0.5 + 1)", "graduated",
     tiers("graduated_ranges", (0, 100, "1", "0"), (100, None, "0.5", "1")), "150", "150", 12600),
    ("volume-zero-usage", VOLUME_SPEC + " 'when aggregation is 0'", "volume", LAGO_VOLUME, None, "0", 1000),
    ("volume-first-tier-limit", VOLUME_SPEC + " 'when aggregation is the limit of the first range'", "volume",
     LAGO_VOLUME, "100", "100", 21000),
    ("volume-fractional-between-tiers", VOLUME_SPEC + " 'in the between of first and second range' (100.5)",
     "volume", LAGO_VOLUME, "100.5", "100.5", 10050),
    ("volume-last-tier", VOLUME_SPEC + " 'above the lower limit of the last range' (300)", "volume",
     LAGO_VOLUME, "300", "300", 20000),
    ("volume-adjacent-edge", LAGO + "app/services/charge_models/volume_service.rb matching_range "
     "(from_value <= ceil(units) and units <= to_value)", "volume",
     tiers("volume_ranges", (0, 100, "1", "0"), (100, None, "0.5", "0")), "100", "100", 10000),
    ("package", PACKAGE_SPEC + " (121 units, 100 per 10)", "package",
     {"amount": "100", "package_size": 10, "free_units": 0}, "121", "121", 130000),
    ("package-free-units", PACKAGE_SPEC + " 'with free_units' (10 free)", "package",
     {"amount": "100", "package_size": 10, "free_units": 10}, "121", "121", 120000),
    ("graduated-percentage-zero-usage", GRADUATED_PERCENTAGE_SPEC + " 'when aggregation is 0'",
     "graduated_percentage", LAGO_GRADUATED_PERCENTAGE, None, "0", 20000),
    ("graduated-percentage-11", GRADUATED_PERCENTAGE_SPEC + " 'when aggregation is 11' (500.12)",
     "graduated_percentage", LAGO_GRADUATED_PERCENTAGE, "11", "11", 50012),
    ("standard", "https://getlago.com/docs/guide/plans/charges/charge-models/standard (1,000 × 0.05)",
     "standard", {"amount": "0.05"}, "1000", "1000", 5000),
]


@pytest.mark.parametrize(("source", "model", "properties", "sent", "units", "amount_cents"),
                         [pytest.param(*v[1:], id=v[0]) for v in CHARGE_MODEL_VECTORS])
async def test_charge_model_vectors(api, plans, clock, source, model, properties, sent, units, amount_cents):
    s = await setup(api, plans, clock, charge_model=model, properties=properties, **MARCH)
    if sent is not None:
        await s.send((IN_MARCH, {"value": sent}))
    charge = await s.charge()
    assert (charge["units"], charge["amount_cents"]) == (units, amount_cents), source


async def test_percentage_min_max_per_transaction(api, plans, clock):
    """https://getlago.com/docs/guide/plans/charges/charge-models/percentage (per-transaction minimum and
    maximum) and lago-api spec/services/charge_models/percentage_service_spec.rb: 1 % of 50, 200 and 1,000
    is 0.50, 2 and 10, raised to the minimum 1 and lowered to the maximum 5 → 8.00."""
    s = await setup(api, plans, clock, charge_model="percentage", properties={
        "rate": "1", "per_transaction_min_amount": "1", "per_transaction_max_amount": "5"}, **MARCH)
    await s.send(*[(IN_MARCH, {"value": v}) for v in ("50", "200", "1000")])
    charge = await s.charge()
    assert (charge["units"], charge["amount_cents"], charge["events_count"]) == ("1250", 800, 3)


async def test_dynamic_sums_precise_amounts_and_rounds_once(api, plans, clock):
    """https://getlago.com/docs/guide/plans/charges/charge-models/dynamic: each event carries
    `precise_total_amount_cents`; three of 10.4 cents → 31.2 → 31 cents."""
    s = await setup(api, plans, clock, charge_model="dynamic", properties={}, **MARCH)
    await s.send(*[{"timestamp": iso(IN_MARCH), "properties": {"value": "1"}, "precise_total_amount_cents": "10.4"}
                   for _ in range(3)])
    assert (await s.charge())["amount_cents"] == 31


# -- aggregations ------------------------------------------------------------------------------------

async def test_count(api, plans, clock):
    """lago-api app/services/billable_metrics/aggregations/count_service.rb: one unit per event."""
    s = await setup(api, plans, clock, aggregation="count_agg", **MARCH)
    await s.send(*[(IN_MARCH, {}) for _ in range(3)])
    charge = await s.charge()
    assert (charge["units"], charge["events_count"], charge["amount_cents"]) == ("3", 3, 300)


async def test_sum_with_a_refund_below_zero_is_floored(api, plans, clock):
    """lago-api app/services/fees/charge_service.rb (init_fee: 'Prevent trying to create a fee with negative
    units or amount'): sum 10 − 30 = −20 bills 0 units, 0 cents."""
    s = await setup(api, plans, clock, **MARCH)
    await s.send((IN_MARCH, {"value": "10"}), (IN_MARCH, {"value": "-30"}))
    charge = await s.charge()
    assert (charge["units"], charge["amount_cents"], charge["events_count"]) == ("0", 0, 2)
    assert (await s.usage())["amount_cents"] == 0


async def test_percentage_refunded_below_zero_is_floored(api, plans, clock):
    """lago-api app/services/fees/charge_service.rb (init_fee floors negative units or amount): transactions
    of 100 and −150 at 1 % + 0.10 each sum to −50 units → 0 units, 0 cents (a refund is a credit note's
    job, not a negative fee)."""
    s = await setup(api, plans, clock, charge_model="percentage", properties={"rate": "1", "fixed_amount": "0.1"},
                    **MARCH)
    await s.send((IN_MARCH, {"value": "100"}), (IN_MARCH + timedelta(minutes=1), {"value": "-150"}))
    charge = await s.charge()
    assert (charge["units"], charge["amount_cents"]) == ("0", 0)


async def test_sum_with_a_partial_refund(api, plans, clock):
    """lago-api spec/services/billable_metrics/aggregations/sum_service_spec.rb: negative values subtract."""
    s = await setup(api, plans, clock, **MARCH)
    await s.send((IN_MARCH, {"value": "10"}), (IN_MARCH, {"value": "-3"}))
    assert (await s.charge())["amount_cents"] == 700


async def test_max(api, plans, clock):
    """lago-api app/services/billable_metrics/aggregations/max_service.rb."""
    s = await setup(api, plans, clock, aggregation="max_agg", **MARCH)
    await s.send(*[(IN_MARCH + timedelta(minutes=i), {"value": v}) for i, v in enumerate(("3", "9", "2"))])
    charge = await s.charge()
    assert (charge["units"], charge["amount_cents"]) == ("9", 900)


async def test_latest_negative_counts_as_zero(api, plans, clock):
    """lago-api app/services/billable_metrics/aggregations/latest_service.rb (compute_aggregation_value: a
    negative latest value is 0)."""
    s = await setup(api, plans, clock, aggregation="latest_agg", **MARCH)
    await s.send((IN_MARCH, {"value": "5"}), (IN_MARCH + timedelta(hours=1), {"value": "-3"}))
    charge = await s.charge()
    assert (charge["units"], charge["amount_cents"]) == ("0", 0)


async def test_unique_count_with_removal_counts_values(api, plans, clock):
    """lago-api app/services/billable_metrics/aggregations/unique_count_service.rb (`result.count =
    result.aggregation`): alice, bob, alice, remove bob → 1 unit, events_count 1."""
    s = await setup(api, plans, clock, aggregation="unique_count_agg", **MARCH)
    await s.send(*[(IN_MARCH + timedelta(minutes=i), p) for i, p in enumerate((
        {"value": "alice"}, {"value": "bob"}, {"value": "alice"}, {"value": "bob", "operation_type": "remove"}))])
    charge = await s.charge()
    assert (charge["units"], charge["events_count"], charge["total_aggregated_units"]) == ("1", 1, "1")
    assert charge["amount_cents"] == 100


async def test_weighted_sum_spec_vector(api, plans, clock):
    """lago-api spec/services/billable_metrics/aggregations/weighted_sum_service_spec.rb 'aggregates the
    events': seven events on the first hours of a 31-day month → 0.02218, count 7; the events add up to 0
    (`total_aggregated_units` is the variation, weighted_sum_service.rb)."""
    s = await setup(api, plans, clock, aggregation="weighted_sum_agg", now=utc(2026, 8, 1, 6),
                    subscription_at=utc(2026, 8, 1))
    start = utc(2026, 8, 1)
    await s.send(*[(start + timedelta(minutes=m), {"value": v}) for m, v in (
        (0, 2), (60, 3), (90, 1), (120, -4), (240, -2), (300, 10), (330, -10))])
    charge = await s.charge()
    assert Decimal(charge["units"]).quantize(Decimal("0.00001")) == Decimal("0.02218")
    assert (charge["events_count"], Decimal(charge["total_aggregated_units"]), charge["amount_cents"]) == (7, 0, 2)


async def test_weighted_sum_single_event_holds_for_the_period(api, plans, clock):
    """lago-api spec/services/billable_metrics/aggregations/weighted_sum_service_spec.rb 'with a single
    event': 1,000 from the period's start → 1,000."""
    s = await setup(api, plans, clock, aggregation="weighted_sum_agg", now=utc(2026, 8, 2),
                    subscription_at=utc(2026, 8, 1))
    await s.send((utc(2026, 8, 1), {"value": 1000}))
    charge = await s.charge()
    assert (Decimal(charge["units"]), charge["total_aggregated_units"]) == (1000, "1000")


async def test_weighted_sum_partial_first_period_divides_by_the_full_period(api, plans, clock):
    """lago-api app/services/events/stores/postgres/weighted_sum_query.rb (÷ charges_duration, the whole
    period's days, subscriptions/dates/monthly_service.rb compute_duration): 10 held from noon on
    1 December (Los Angeles) is 10 × 30.5 ÷ 31 = 9.83871."""
    started = datetime(2026, 12, 1, 20, tzinfo=UTC)  # 12:00 in Los Angeles
    s = await setup(api, plans, clock, aggregation="weighted_sum_agg", timezone="America/Los_Angeles",
                    now=utc(2026, 12, 5), subscription_at=started)
    await s.send((started, {"value": 10}))
    charge = await s.charge()
    assert Decimal(charge["units"]).quantize(Decimal("0.00001")) == Decimal("9.83871")
    assert charge["total_aggregated_units"] == "10"


async def test_rounding_of_aggregated_units(api, plans, clock):
    """lago-api app/services/billable_metrics/aggregations/apply_rounding_service.rb and
    https://getlago.com/docs/guide/billable-metrics/rounding: 2.234 rounded to 2 decimals → 2.23."""
    s = await setup(api, plans, clock, rounding_function="round", rounding_precision=2, **MARCH)
    await s.send((IN_MARCH, {"value": "1.234"}), (IN_MARCH, {"value": "1"}))
    charge = await s.charge()
    assert (charge["units"], charge["amount_cents"]) == ("2.23", 223)


async def test_recurring_sum_carries_earlier_periods(api, plans, clock):
    """https://getlago.com/docs/guide/billable-metrics/recurring-vs-metered: a recurring sum carries its
    total into the next period (lago-api sum_service.rb, latest cached aggregation): 5 in February + 3 in
    March → 8 in March."""
    s = await setup(api, plans, clock, recurring=True, now=utc(2026, 3, 15), subscription_at=utc(2026, 2, 1))
    await s.send((utc(2026, 2, 10), {"value": "5"}), (IN_MARCH, {"value": "3"}))
    charge = await s.charge()
    assert (charge["units"], charge["amount_cents"]) == ("8", 800)


async def test_recurring_unique_count_keeps_values_until_removed(api, plans, clock):
    """https://getlago.com/docs/guide/billable-metrics/recurring-vs-metered (a recurring unique count keeps
    counting a value in the next periods until it is removed; lago-api unique_count_service.rb with
    `recurring`): alice and bob added in February, bob removed and carol added in March → 2 in March,
    events_count 2 (the unique count)."""
    s = await setup(api, plans, clock, aggregation="unique_count_agg", recurring=True, now=utc(2026, 3, 15),
                    subscription_at=utc(2026, 2, 1))
    await s.send((utc(2026, 2, 10), {"value": "alice"}), (utc(2026, 2, 12), {"value": "bob"}),
                 (utc(2026, 3, 5), {"value": "bob", "operation_type": "remove"}), (IN_MARCH, {"value": "carol"}))
    charge = await s.charge()
    assert (charge["units"], charge["events_count"], charge["amount_cents"]) == ("2", 2, 200)


async def test_recurring_weighted_sum_starts_from_the_carried_value(api, plans, clock):
    """lago-api spec/services/billable_metrics/aggregations/weighted_sum_service_spec.rb 'uses the persisted
    recurring value as initial value': 1,000 carried, no event this period → 1,000, count 0,
    total_aggregated_units 1,000."""
    s = await setup(api, plans, clock, aggregation="weighted_sum_agg", recurring=True, now=utc(2026, 3, 15),
                    subscription_at=utc(2026, 2, 1))
    await s.send((utc(2026, 2, 10), {"value": 1000}))
    charge = await s.charge()
    assert (Decimal(charge["units"]), charge["events_count"], charge["total_aggregated_units"]) == (1000, 0, "1000")


# -- filters -------------------------------------------------------------------------------------------

REGIONS = [{"key": "region", "values": ["eu", "us", "asia"]}, {"key": "cloud", "values": ["aws", "gcp"]}]
MATCHING = LAGO + "app/services/charge_filters/matching_and_ignored_service.rb"


def charge_filter(values: dict, amount: str) -> dict:
    return {"values": values, "properties": {"amount": amount}, "invoice_display_name": amount}


async def filtered(api, plans, clock, filters, events) -> dict[str | None, dict]:
    s = await setup(api, plans, clock, aggregation="count_agg", metric_filters=REGIONS, filters=filters, **MARCH)
    await s.send(*[(IN_MARCH, e) for e in events])
    charge = await s.charge()
    return {f["invoice_display_name"]: f for f in charge["filters"]}, charge


@pytest.mark.parametrize("explicit_first", [True, False], ids=["explicit-listed-first", "all-values-listed-first"])
async def test_explicit_value_beats_all_filter_values_whatever_the_order(api, plans, clock, explicit_first):
    """lago-api app/services/charge_filters/matching_and_ignored_service.rb: a filter on
    `__ALL_FILTER_VALUES__` ignores the values an explicit filter on the same key takes."""
    pair = [charge_filter({"region": ["eu"]}, "2"), charge_filter({"region": [ALL]}, "1")]
    by_name, charge = await filtered(api, plans, clock, pair if explicit_first else pair[::-1],
                                     [{"region": "eu"}, {"region": "eu"}, {"region": "us"}])
    assert (by_name["2"]["units"], by_name["1"]["units"], by_name[None]["units"]) == ("2", "1", "0"), MATCHING
    assert charge["amount_cents"] == 500


async def test_filter_with_more_keys_wins(api, plans, clock):
    """lago-api app/services/charge_filters/matching_and_ignored_service.rb (children: filters whose keys
    cover the filter's are ignored by it) and https://getlago.com/docs/guide/plans/charges/charges-with-filters."""
    by_name, _ = await filtered(api, plans, clock, [
        charge_filter({"region": ["eu"]}, "1"), charge_filter({"region": ["eu"], "cloud": ["aws"]}, "3")],
        [{"region": "eu", "cloud": "aws"}, {"region": "eu", "cloud": "gcp"}, {"region": "eu"}])
    assert (by_name["3"]["units"], by_name["1"]["units"]) == ("1", "2"), MATCHING


async def test_narrower_value_set_wins(api, plans, clock):
    """lago-api app/services/charge_filters/matching_and_ignored_service.rb (a child whose values are a
    subset is ignored verbatim by the wider filter)."""
    by_name, _ = await filtered(api, plans, clock, [
        charge_filter({"region": ["eu", "us"]}, "1"), charge_filter({"region": ["eu"]}, "2")],
        [{"region": "eu"}, {"region": "us"}, {"region": "us"}])
    assert (by_name["2"]["units"], by_name["1"]["units"]) == ("1", "2"), MATCHING


async def test_unmatched_events_fall_in_the_default_bucket(api, plans, clock):
    """https://getlago.com/docs/guide/plans/charges/charges-with-filters (events matching no filter are
    priced with the charge's default properties) and lago-api fees/charge_service.rb (the unsaved
    `ChargeFilter.new` default filter)."""
    by_name, charge = await filtered(api, plans, clock, [charge_filter({"region": ["eu"]}, "2")],
                                     [{"region": "us"}, {}, {"region": "eu"}, {"region": "mars"}])
    assert (by_name["2"]["units"], by_name[None]["units"]) == ("1", "3")
    assert charge["amount_cents"] == 200 + 300


# -- billing periods -------------------------------------------------------------------------------------

DATES = LAGO + "app/services/subscriptions/dates_service.rb (customer_timezone_shift(…, end_of_day: true))"


async def subscription_period(api, plans, clock, **kwargs) -> tuple[dict, dict, Setup]:
    s = await setup(api, plans, clock, aggregation="count_agg", **kwargs)
    shown = (await api.ok("GET", f"/api/v1/subscriptions/{s.subscription}"))["subscription"]
    return shown, await s.usage(), s


async def test_calendar_month_in_los_angeles_ends_at_the_local_end_of_day(api, plans, clock):
    """A Los Angeles calendar month reads 2026-12-01T08:00:00Z → 2027-01-01T07:59:59Z, in the subscription
    and in the usage (lago-api subscriptions/dates_service.rb; Lago's API reference examples)."""
    shown, usage, s = await subscription_period(api, plans, clock, timezone="America/Los_Angeles",
                                                now=utc(2026, 12, 10), subscription_at=utc(2026, 11, 1, 8))
    for body in (shown, s.created):
        assert body["current_billing_period_started_at"] == "2026-12-01T08:00:00Z", DATES
        assert body["current_billing_period_ending_at"] == "2027-01-01T07:59:59Z", DATES
    assert (usage["from_datetime"], usage["to_datetime"]) == ("2026-12-01T08:00:00Z", "2027-01-01T07:59:59Z")
    assert usage["issuing_date"] == "2026-12-31"


async def test_anniversary_on_the_31st_clamps_to_month_end_in_paris(api, plans, clock):
    """lago-api app/services/subscriptions/dates/monthly_service.rb (compute_base_date: an anniversary on
    the 31st falls on the month's last day): started 31 January in Paris, the March period runs from
    28 February to 31 March local (the end in summer time)."""
    shown, usage, _ = await subscription_period(api, plans, clock, timezone="Europe/Paris", billing_time="anniversary",
                                                now=utc(2027, 3, 10, 12), subscription_at=utc(2027, 1, 31, 9))
    assert shown["current_billing_period_started_at"] == "2027-02-27T23:00:00Z", DATES
    assert shown["current_billing_period_ending_at"] == "2027-03-30T21:59:59Z", DATES
    assert usage["to_datetime"] == "2027-03-30T21:59:59Z"


async def test_calendar_week_in_tokyo_starts_on_monday(api, plans, clock):
    """lago-api app/services/subscriptions/dates/weekly_service.rb (calendar weeks begin on Monday)."""
    shown, _, _ = await subscription_period(api, plans, clock, timezone="Asia/Tokyo", interval="weekly",
                                            now=utc(2026, 3, 18, 12), subscription_at=utc(2026, 3, 1))
    assert shown["current_billing_period_started_at"] == "2026-03-15T15:00:00Z"
    assert shown["current_billing_period_ending_at"] == "2026-03-22T14:59:59Z"


async def test_anniversary_week_in_new_york_across_dst(api, plans, clock):
    """lago-api app/services/subscriptions/dates/weekly_service.rb (anniversary weeks start on the
    subscription's weekday): started Wednesday 4 March 10:00 EST; after the DST change the week runs
    Wednesday 11 March 00:00 EDT → Wednesday 18 March 00:00 EDT."""
    shown, _, _ = await subscription_period(api, plans, clock, timezone="America/New_York", interval="weekly",
                                            billing_time="anniversary", now=utc(2026, 3, 12, 12),
                                            subscription_at=utc(2026, 3, 4, 15))
    assert shown["current_billing_period_started_at"] == "2026-03-11T04:00:00Z"
    assert shown["current_billing_period_ending_at"] == "2026-03-18T03:59:59Z"


async def test_backdated_subscription_is_current_from_creation(api, plans, clock, subs, org):
    """lago-api: a subscription created with a past `subscription_at` reports the period holding now
    (subscriptions/dates_service.rb computes it from the current date), and events sent now count at once;
    the periods already over are closed in the creating transaction (no scheduler pass runs here)."""
    s = await setup(api, plans, clock, aggregation="count_agg", now=utc(2026, 3, 15, 10),
                    subscription_at=utc(2026, 1, 10))
    assert s.created["current_billing_period_started_at"] == "2026-03-01T00:00:00Z"
    assert s.created["current_billing_period_ending_at"] == "2026-03-31T23:59:59Z"
    shown = (await api.ok("GET", f"/api/v1/subscriptions/{s.subscription}"))["subscription"]
    assert shown["current_billing_period_started_at"] == "2026-03-01T00:00:00Z"
    await s.send((utc(2026, 3, 15, 9), {}))
    usage = await s.usage()
    assert usage["from_datetime"] == "2026-03-01T00:00:00Z" and usage["charges_usage"][0]["units"] == "1"
    past = await api.ok("GET", f"/api/v1/customers/{s.customer}/past_usage",
                        params={"external_subscription_id": s.subscription})
    assert [p["from_datetime"] for p in past["usage_periods"]] == ["2026-02-01T00:00:00Z", "2026-01-10T00:00:00Z"]
    # the closes a scheduler pass would have published, in order, each naming the period after it
    ended = await published(subs, org, "subscription.billing_period_ended")
    assert [(e["period_start"], e["period_end"], e["next_period_start"]) for e in ended] == [
        ("2026-01-10T00:00:00Z", "2026-02-01T00:00:00Z", "2026-02-01T00:00:00Z"),
        ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z")]
    assert all(e["usage"]["charges_usage"][0]["units"] == "0" for e in ended)


# -- projections ----------------------------------------------------------------------------------------

PROJECTION = LAGO + "app/services/fees/projection_service.rb + charge_models/base_service.rb projected_units"
# 10 December 07:30 UTC is 9 December 23:30 in Los Angeles: 9 days started of 31 (ratio 9/31; in UTC it
# would be 10)
LA_PROJECTION = {"timezone": "America/Los_Angeles", "now": utc(2026, 12, 10, 7, 30),
                 "subscription_at": utc(2026, 12, 1, 8)}
IN_DECEMBER = utc(2026, 12, 5)


@pytest.mark.parametrize(("aggregation", "model", "properties", "values", "units", "projected_units",
                          "projected_cents"), [
    pytest.param("count_agg", "standard", {"amount": "1"}, [None] * 10, "10", "34.44", 3444, id="count-standard"),
    pytest.param("max_agg", "standard", {"amount": "1"}, ["7"], "7", "24.11", 2411, id="max-is-projected"),
    pytest.param("sum_agg", "graduated", tiers("graduated_ranges", (0, 10, "1", "2"), (11, None, "0.5", "0")),
                 ["10"], "10", "34.44", 2422, id="graduated-priced-again"),  # 10 + 2 + 24.44 × 0.5
    pytest.param("sum_agg", "graduated", tiers("graduated_ranges", (0, 10, "1", "2"), (11, None, "0.5", "0")),
                 [], "0", "0", 0, id="graduated-zero-units-project-nothing"),
    pytest.param("sum_agg", "graduated_percentage", tiers("graduated_percentage_ranges", (0, None, "1", "2"),
                                                          price="rate"),
                 ["100"], "100", "344.44", 1033, id="graduated-percentage-amount-over-ratio"),  # 3 × 31 / 9
    pytest.param("sum_agg", "package", {"amount": "5", "package_size": 10, "free_units": 0}, ["10"], "10",
                 "34.44", 2000, id="package-priced-again"),  # ceil(34.44 / 10) × 5
])
async def test_projected_usage(api, plans, clock, aggregation, model, properties, values, units, projected_units,
                               projected_cents):
    """lago-api Fees::ProjectionService: ratio = days started ÷ days in the period (customer's timezone);
    projected units = units ÷ ratio rounded to 2 decimals; percentage models project the amount."""
    s = await setup(api, plans, clock, aggregation=aggregation, charge_model=model, properties=properties,
                    **LA_PROJECTION)
    await s.send(*[(IN_DECEMBER, {} if v is None else {"value": v}) for v in values])
    charge = await s.charge(projected=True)
    assert (charge["units"], charge["projected_units"], charge["projected_amount_cents"]) == (
        units, projected_units, projected_cents), PROJECTION


async def test_projected_usage_keeps_a_recurring_metric(api, plans, clock):
    """lago-api app/services/fees/projection_service.rb (`charge.billable_metric.recurring?`: the projection
    is the current value)."""
    s = await setup(api, plans, clock, recurring=True, **LA_PROJECTION)
    await s.send((IN_DECEMBER, {"value": "10"}))
    body = await s.usage(projected=True)
    (charge,) = body["charges_usage"]
    assert (charge["projected_units"], charge["projected_amount_cents"], body["projected_amount_cents"]) == (
        "10", 1000, 1000)
