"""The organization's settings: Lago's `PUT /organizations` (and Invora's `GET`), its event, access and bad input."""

from __future__ import annotations

import uuid

import pytest

from invora.events.contracts.catalog import OrganizationEvent, parse_event_data
from invora.testing.events import read_events

URL = "/api/v1/organizations"


async def test_defaults_until_updated_then_partial_updates(api, org):
    before = (await api.ok("GET", URL))["organization"]
    assert before["lago_id"] == str(org) and before["created_at"] is None
    assert {k: before[k] for k in ("document_numbering", "document_number_prefix", "net_payment_term", "timezone",
                                   "default_currency", "finalize_zero_amount_invoice", "email_settings",
                                   "webhook_url", "webhook_urls", "taxes")} == {
        "document_numbering": "per_organization", "document_number_prefix": "INV", "net_payment_term": 0,
        "timezone": "UTC", "default_currency": "USD", "finalize_zero_amount_invoice": True, "email_settings": [],
        "webhook_url": None, "webhook_urls": [], "taxes": []}
    assert before["billing_configuration"] == {"invoice_footer": None, "invoice_grace_period": 0,
                                               "document_locale": "en"}

    updated = (await api.ok("PUT", URL, {"organization": {
        "name": "Brex", "legal_name": "Brex Inc.", "legal_number": "123", "tax_identification_number": "US1",
        "email": "billing@brex.com", "address_line1": "100 Brex Street", "city": "New York", "state": "NY",
        "zipcode": "10000", "country": "us", "default_currency": "EUR", "timezone": "America/New_York",
        "net_payment_term": 30, "document_numbering": "per_customer", "document_number_prefix": "brx-1",
        "email_settings": ["invoice.finalized", "credit_note.created"], "finalize_zero_amount_invoice": False,
        "webhook_url": "https://hooks.brex.com/lago",
        "billing_configuration": {"invoice_grace_period": 3, "document_locale": "fr", "invoice_footer": "Merci"},
    }}))["organization"]
    assert updated["name"] == "Brex" and updated["country"] == "US" and updated["created_at"] is not None
    assert updated["document_number_prefix"] == "BRX-1"  # capitalised, as Lago does
    assert updated["billing_configuration"] == {"invoice_footer": "Merci", "invoice_grace_period": 3,
                                                "document_locale": "fr"}
    assert updated["webhook_urls"] == ["https://hooks.brex.com/lago"]
    assert (await api.ok("GET", URL))["organization"] == updated

    again = (await api.ok("PUT", URL, {"organization": {"net_payment_term": 0, "legal_name": None}}))["organization"]
    assert again["net_payment_term"] == 0 and again["legal_name"] is None  # null clears, absent keeps
    assert again["timezone"] == "America/New_York" and again["billing_configuration"]["invoice_grace_period"] == 3


async def test_taxes_applied_to_the_organization_are_shown(api):
    applied = await api.tax(applied_to_organization=True)
    await api.tax()
    organization = (await api.ok("GET", URL))["organization"]
    assert [t["code"] for t in organization["taxes"]] == [applied["code"]]


async def test_every_update_publishes_the_whole_object(api, org, invora_kafka):
    first = (await api.ok("PUT", URL, {"organization": {"net_payment_term": 7}}))["organization"]
    second = (await api.ok("PUT", URL, {"organization": {"document_number_prefix": "ACME"}}))["organization"]
    events = await read_events(invora_kafka, "invora.organization", lambda e: e.organization_id == org, count=2)
    assert [e.type for e in events] == ["organization.updated"] * 2
    assert [e.aggregate_id for e in events] == [str(org)] * 2 and [e.sequence for e in events] == [1, 2]
    payloads = [parse_event_data(e.type, e.data) for e in events]
    assert all(isinstance(p, OrganizationEvent) for p in payloads)
    assert payloads[0].organization.net_payment_term == 7 == payloads[1].organization.net_payment_term
    assert payloads[1].organization.document_number_prefix == "ACME" == second["document_number_prefix"]
    assert first["document_number_prefix"] == "INV"


@pytest.mark.parametrize(("body", "details"), [
    ({"timezone": "Mars/Olympus"}, {"timezone": ["invalid_timezone"]}),
    ({"document_numbering": "per_planet"}, {"document_numbering": ["value_is_invalid"]}),
    ({"net_payment_term": -1}, {"net_payment_term": ["value_is_out_of_range"]}),
    ({"net_payment_term": "30"}, {"net_payment_term": ["invalid_type"]}),
    ({"document_number_prefix": "ELEVENCHARS"}, {"document_number_prefix": ["value_is_too_long"]}),
    ({"document_number_prefix": "A B"}, {"document_number_prefix": ["value_is_invalid"]}),
    ({"default_currency": "XYZ"}, {"default_currency": ["value_is_invalid"]}),
    ({"country": "XX"}, {"country": ["country_code_invalid"]}),
    ({"email": "not-an-email"}, {"email": ["invalid_email_format"]}),
    ({"email_settings": ["invoice.voided"]}, {"email_settings.0": ["value_is_invalid"]}),
    ({"finalize_zero_amount_invoice": "yes"}, {"finalize_zero_amount_invoice": ["invalid_type"]}),
    ({"webhook_url": "ftp://example.com"}, {"webhook_url": ["value_is_invalid"]}),
    ({"billing_configuration": {"invoice_grace_period": 366}},
     {"billing_configuration.invoice_grace_period": ["value_is_out_of_range"]}),
])
async def test_bad_input_is_a_422_and_changes_nothing(api, body, details):
    error = await api.error("PUT", URL, {"organization": body})
    assert error["code"] == "validation_errors", error
    assert error["error_details"] == details, error
    assert (await api.ok("GET", URL))["organization"]["created_at"] is None  # nothing written


async def test_roles_and_organizations(catalog, api, org):
    await api.ok("PUT", URL, {"organization": {"document_number_prefix": "MINE"}})
    other = catalog.client(uuid.uuid4(), roles=["admin"])
    assert (await other.get(URL)).json()["organization"]["document_number_prefix"] == "INV"
    billing_admin = catalog.client(org, roles=["billing_admin"])
    assert (await billing_admin.put(URL, json={"organization": {"net_payment_term": 1}})).status_code == 200
    service = catalog.client(org, roles=["service"])
    assert (await service.get(URL)).status_code == 200
    assert (await service.put(URL, json={"organization": {"net_payment_term": 2}})).status_code == 403
    tenant = catalog.client(org, roles=["tenant"], customer_id=uuid.uuid4())
    assert (await tenant.get(URL)).status_code == 403
    response = await tenant.put(URL, json={"organization": {"net_payment_term": 2}})
    assert response.status_code == 403 and response.json()["code"] == "forbidden_role"
    assert (await api.ok("GET", URL))["organization"]["net_payment_term"] == 1
