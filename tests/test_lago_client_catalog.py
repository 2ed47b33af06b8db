"""Lago's official Python client, unchanged, against the catalog over real HTTP."""

from __future__ import annotations

import uuid

import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import AddOn, BillableMetric, Charge, Charges, Coupon, Plan, Tax


@pytest.fixture
def lago(live_service, make_api_key):
    url = live_service("catalog")
    return Client(api_key=make_api_key(uuid.uuid4(), ["admin"]), api_url=url)


def test_catalog_round_trip_with_lago_client(lago):
    tax = lago.taxes.create(Tax(name="VAT", code="vat_20", rate=20.0, applied_to_organization=False))
    assert tax.code == "vat_20" and float(tax.rate) == 20.0 and tax.lago_id

    metric = lago.billable_metrics.create(
        BillableMetric(name="API calls", code="api_calls", aggregation_type="count_agg", recurring=False)
    )
    assert metric.code == "api_calls" and metric.aggregation_type == "count_agg"
    storage = lago.billable_metrics.create(
        BillableMetric(name="Storage", code="storage_gb", aggregation_type="sum_agg", field_name="gb")
    )

    plan = lago.plans.create(
        Plan(
            name="Startup", code="startup", interval="monthly", amount_cents=10_000, amount_currency="EUR",
            pay_in_advance=True, tax_codes=["vat_20"],
            charges=Charges(__root__=[
                Charge(billable_metric_id=metric.lago_id, charge_model="standard", properties={"amount": "0.05"}),
                Charge(
                    billable_metric_id=storage.lago_id, charge_model="graduated",
                    properties={"graduated_ranges": [
                        {"from_value": 0, "to_value": 10, "per_unit_amount": "0", "flat_amount": "0"},
                        {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "1"},
                    ]},
                ),
            ]),
        )
    )
    assert plan.code == "startup" and plan.amount_cents == 10_000 and plan.amount_currency == "EUR"
    assert len(plan.charges.__root__) == 2

    fetched = lago.plans.find("startup")
    assert fetched.lago_id == plan.lago_id
    updated = lago.plans.update(Plan(name="Startup 2", amount_cents=12_000, amount_currency="EUR"), "startup")
    assert updated.name == "Startup 2" and updated.amount_cents == 12_000

    listed = lago.plans.find_all({"per_page": 10, "page": 1})
    assert [p.code for p in listed["plans"]] == ["startup"]
    assert listed["meta"]["total_count"] == 1

    add_on = lago.add_ons.create(AddOn(name="Setup", code="setup", amount_cents=5000, amount_currency="EUR"))
    assert add_on.amount_cents == 5000
    coupon = lago.coupons.create(
        Coupon(name="Welcome", code="welcome", coupon_type="fixed_amount", amount_cents=1000, amount_currency="EUR",
               frequency="once", expiration="no_expiration", reusable=True)
    )
    assert coupon.code == "welcome"

    metrics = lago.billable_metrics.find_all()
    assert {m.code for m in metrics["billable_metrics"]} == {"api_calls", "storage_gb"}

    with pytest.raises(LagoApiError) as missing:
        lago.plans.find("nope")
    assert missing.value.status_code == 404

    with pytest.raises(LagoApiError) as invalid:
        lago.billable_metrics.create(BillableMetric(name="x", code="api_calls", aggregation_type="count_agg"))
    assert invalid.value.status_code == 422

    deleted = lago.plans.destroy("startup")
    assert deleted.code == "startup"


def test_organization_settings_with_lago_client(lago):
    from lago_python_client.models.organization import Organization, OrganizationBillingConfiguration

    lago.taxes.create(Tax(name="VAT", code="org_vat", rate=20.0, applied_to_organization=True))
    updated = lago.organizations.update(Organization(
        default_currency="EUR", legal_name="Acme SAS", country="FR", timezone="Europe/Paris", net_payment_term=30,
        document_numbering="per_customer", document_number_prefix="acme", email_settings=["invoice.finalized"],
        finalize_zero_amount_invoice=False,
        billing_configuration=OrganizationBillingConfiguration(invoice_grace_period=2, document_locale="fr"),
    ))
    assert updated.legal_name == "Acme SAS" and updated.country == "FR" and updated.timezone == "Europe/Paris"
    assert updated.net_payment_term == 30 and updated.document_number_prefix == "ACME"
    assert updated.finalize_zero_amount_invoice is False and updated.email_settings == ["invoice.finalized"]
    assert updated.billing_configuration.invoice_grace_period == 2
    with pytest.raises(LagoApiError) as refused:
        lago.organizations.update(Organization(default_currency="EUR", timezone="Nowhere/Else"))
    assert refused.value.status_code == 422


def test_billing_entities_with_lago_client(lago):
    from lago_python_client.models import BillingEntity, BillingEntityUpdate

    created = lago.billing_entities.create(BillingEntity(code="eu", name="Acme Europe", default_currency="EUR",
                                                         net_payment_term=10))
    assert created.code == "eu" and created.name == "Acme Europe" and created.default_currency == "EUR"
    assert created.net_payment_term == 10 and created.lago_id
    assert lago.billing_entities.find("eu").lago_id == created.lago_id
    updated = lago.billing_entities.update(BillingEntityUpdate(name="Acme EU", net_payment_term=30), "eu")
    assert updated.name == "Acme EU" and updated.net_payment_term == 30
    listed = lago.billing_entities.find_all()
    assert [e.code for e in listed["billing_entities"]] == ["eu"]
    with pytest.raises(LagoApiError) as missing:
        lago.billing_entities.find("nope")
    assert missing.value.status_code == 404
