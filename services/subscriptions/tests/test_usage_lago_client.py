"""Lago's official Python client, unchanged, sends events and reads usage over real HTTP (catalog and
subscriptions both served by uvicorn on loopback)."""

from __future__ import annotations

import uuid

import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import BatchEvent, BillableMetric, Charge, Charges, Event, Plan, Subscription


@pytest.fixture
def lago(live_service, make_api_key, invora_keys):
    org = uuid.uuid4()
    catalog_url = live_service("catalog")
    subscriptions_url = live_service("subscriptions", catalog_url=catalog_url, scheduler_enabled=False,
                                     service_signing_key=invora_keys.private_pem.decode())
    key = make_api_key(org, ["admin"])
    return Client(api_key=key, api_url=catalog_url), Client(api_key=key, api_url=subscriptions_url)


def test_events_and_usage_with_lago_client(lago):
    catalog, subscriptions = lago
    metric = catalog.billable_metrics.create(BillableMetric(name="Calls", code="calls", aggregation_type="count_agg"))
    catalog.plans.create(Plan(name="Pro", code="pro", interval="monthly", amount_cents=1000, amount_currency="EUR",
                              pay_in_advance=False, charges=Charges(__root__=[Charge(
                                  billable_metric_id=metric.lago_id, charge_model="standard",
                                  properties={"amount": "0.5"})])))
    subscriptions.subscriptions.create(Subscription(external_customer_id="cus_1", plan_code="pro",
                                                    external_id="sub_1"))
    created = subscriptions.events.create(Event(transaction_id="t1", external_subscription_id="sub_1", code="calls"))
    assert created.transaction_id == "t1" and created.lago_subscription_id
    subscriptions.events.batch_create(BatchEvent(events=[
        Event(transaction_id=f"b{i}", external_subscription_id="sub_1", code="calls") for i in range(3)]))
    assert subscriptions.events.find("b1").code == "calls"
    with pytest.raises(LagoApiError) as invalid:
        subscriptions.events.create(Event(transaction_id="t2", external_subscription_id="sub_1", code="nope"))
    assert invalid.value.status_code == 422
    usage = subscriptions.customers.current_usage("cus_1", "sub_1")
    by_code = subscriptions.customers.current_usage("cus_1", "sub_1", charge_code="calls")
    assert [c.billable_metric.code for c in by_code.charges_usage] == ["calls"]
    assert by_code.amount_cents == usage.amount_cents
    none = subscriptions.customers.current_usage("cus_1", "sub_1", group={"region": "eu"})
    assert none.charges_usage == [] and none.amount_cents == 0  # the charge does not group by region
    old = subscriptions.customers.current_usage("cus_1", "sub_1", filter_by_group={"region": "eu"})
    assert old.charges_usage == []
    with pytest.raises(LagoApiError) as unknown:
        subscriptions.customers.current_usage("cus_1", "sub_1", charge_code="nope")
    assert unknown.value.status_code == 404
    full = subscriptions.customers.current_usage("cus_1", "sub_1", charge_code="calls", full_usage=True)
    assert full.charges_usage[0].units == "4" and full.amount_cents == 200  # one period so far: the same usage
    with pytest.raises(LagoApiError) as unfiltered:
        subscriptions.customers.current_usage("cus_1", "sub_1", full_usage=True)
    assert unfiltered.value.status_code == 422
    assert usage.amount_cents == 200 and usage.charges_usage[0].units == "4"
    projected = subscriptions.customers.projected_usage("cus_1", "sub_1")
    assert projected.amount_cents == 200
    past = subscriptions.customers.past_usage("cus_1", "sub_1")
    assert past["usage_periods"] == []


def test_fee_estimates_with_lago_client(lago):
    catalog, subscriptions = lago
    metric = catalog.billable_metrics.create(BillableMetric(name="Seats", code="seats", aggregation_type="sum_agg",
                                                            field_name="n"))
    catalog.plans.create(Plan(name="Seats", code="seats_plan", interval="monthly", amount_cents=0,
                              amount_currency="EUR", pay_in_advance=False, charges=Charges(__root__=[Charge(
                                  billable_metric_id=metric.lago_id, charge_model="standard", pay_in_advance=True,
                                  invoiceable=True, properties={"amount": "12.5"})])))
    subscriptions.subscriptions.create(Subscription(external_customer_id="cus_2", plan_code="seats_plan",
                                                    external_id="sub_2"))
    found = subscriptions.events.estimate_fees(Event(transaction_id="est", external_subscription_id="sub_2",
                                                     code="seats", properties={"n": 2}))
    [fee] = found["fees"]
    assert (fee.amount_cents, fee.units, fee.pay_in_advance, fee.lago_id) == (2_500, "2", True, None)
    with pytest.raises(LagoApiError) as missing:
        subscriptions.events.estimate_fees(Event(transaction_id="x", external_subscription_id="nope", code="seats",
                                                 properties={"n": 1}))
    assert missing.value.status_code == 404
