"""Lago's official Python client, unchanged, against the subscriptions service over real HTTP."""

from __future__ import annotations

import uuid

import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import Customer


@pytest.fixture
def lago(live_service, make_api_key):
    url = live_service("subscriptions")
    return Client(api_key=make_api_key(uuid.uuid4(), ["admin"]), api_url=url)


def test_customers_round_trip_with_lago_client(lago):
    created = lago.customers.create(
        Customer(external_id="cus_42", name="Acme", email="billing@acme.test", currency="EUR", country="FR",
                 timezone="Europe/Paris", city="Paris", zipcode="75001")
    )
    assert created.external_id == "cus_42" and created.lago_id and created.currency == "EUR"

    # POST again upserts by external_id (Lago): same customer, updated fields
    updated = lago.customers.create(Customer(external_id="cus_42", name="Acme SAS"))
    assert updated.lago_id == created.lago_id and updated.name == "Acme SAS" and updated.country == "FR"

    found = lago.customers.find("cus_42")
    assert found.lago_id == created.lago_id and found.timezone == "Europe/Paris"

    listed = lago.customers.find_all({"per_page": 5, "page": 1})
    assert [c.external_id for c in listed["customers"]] == ["cus_42"]
    assert listed["meta"]["total_count"] == 1 and listed["meta"]["current_page"] == 1

    with pytest.raises(LagoApiError) as missing:
        lago.customers.find("nobody")
    assert missing.value.status_code == 404

    with pytest.raises(LagoApiError) as invalid:
        lago.customers.create(Customer(external_id="cus_43", currency="EURO"))
    assert invalid.value.status_code == 422

    deleted = lago.customers.destroy("cus_42")
    assert deleted.external_id == "cus_42"
