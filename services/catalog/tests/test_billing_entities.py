"""Billing entities: Lago's CRUD shapes, taxes applied and removed, the default entity, events, access, bad input."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from invora.events.contracts.catalog import BillingEntityEvent, parse_event_data
from invora.testing.events import read_events

URL = "/api/v1/billing_entities"


async def _create(api, **fields) -> dict:
    body = {"code": api.code("entity"), "name": "Acme France", **fields}
    return (await api.ok("POST", URL, {"billing_entity": body}))["billing_entity"]


async def test_create_read_update_with_lagos_defaults(api):
    first = await _create(api)
    assert first["is_default"] is True and first["document_numbering"] == "per_customer"
    assert first["document_number_prefix"] == f"ACM-{first['lago_id'].replace('-', '')[-4:]}".upper()
    assert {first[k] for k in ("default_currency", "timezone")} == {"USD", "UTC"}
    assert (first["net_payment_term"], first["invoice_grace_period"], first["finalize_zero_amount_invoice"]) \
        == (0, 0, True)
    assert first["taxes"] == [] and first["subscription_invoice_issuing_date_anchor"] == "next_period_start"
    second = await _create(api, name="Acme US", default_currency="USD", timezone="America/New_York",
                           document_numbering="per_billing_entity", document_number_prefix="us-1",
                           net_payment_term=15, country="us", legal_name="Acme Inc.",
                           billing_configuration={"invoice_grace_period": 2, "document_locale": "en",
                                                  "invoice_footer": "Thanks"})
    assert second["is_default"] is False and second["document_number_prefix"] == "US-1"
    assert second["country"] == "US" and second["invoice_grace_period"] == 2 and second["invoice_footer"] == "Thanks"

    fetched = (await api.ok("GET", f"{URL}/{second['code']}"))["billing_entity"]
    assert fetched == second
    listed = await api.ok("GET", URL)
    assert [e["code"] for e in listed["billing_entities"]] == [first["code"], second["code"]]
    assert listed["meta"]["total_count"] == 2

    updated = (await api.ok("PUT", f"{URL}/{second['code']}", {"billing_entity": {
        "name": "Acme USA", "legal_name": None, "finalize_zero_amount_invoice": False,
        "billing_configuration": {"invoice_grace_period": 0}}}))["billing_entity"]
    assert updated["name"] == "Acme USA" and updated["legal_name"] is None
    assert updated["finalize_zero_amount_invoice"] is False and updated["invoice_grace_period"] == 0
    assert updated["invoice_footer"] == "Thanks" and updated["net_payment_term"] == 15  # absent keeps


async def test_taxes_are_applied_and_removed_by_tax_codes(api):
    vat, reduced = await api.tax(rate="20"), await api.tax(rate="5.5")
    entity = await _create(api, tax_codes=[vat["code"]])
    assert [t["code"] for t in entity["taxes"]] == [vat["code"]]
    url = f"{URL}/{entity['code']}"
    both = (await api.ok("PUT", url, {"billing_entity": {"tax_codes": [vat["code"], reduced["code"]]}}))
    assert [t["code"] for t in both["billing_entity"]["taxes"]] == [vat["code"], reduced["code"]]
    removed = (await api.ok("PUT", url, {"billing_entity": {"tax_codes": [reduced["code"]]}}))["billing_entity"]
    assert [t["rate"] for t in removed["taxes"]] == [5.5]
    error = await api.error("PUT", url, {"billing_entity": {"tax_codes": ["nope"]}})
    assert error["error_details"] == {"tax_codes": ["tax_not_found"]}
    assert [t["code"] for t in (await api.ok("GET", url))["billing_entity"]["taxes"]] == [reduced["code"]]
    await api.ok("PUT", url, {"billing_entity": {"tax_codes": []}})
    assert (await api.ok("GET", url))["billing_entity"]["taxes"] == []


async def test_every_change_publishes_the_whole_entity(api, org, invora_kafka):
    entity = await _create(api)
    updated = (await api.ok("PUT", f"{URL}/{entity['code']}", {"billing_entity": {"net_payment_term": 9}}))
    events = await read_events(invora_kafka, "invora.billing_entity",
                               lambda e: e.aggregate_id == entity["lago_id"], count=2)
    assert [e.type for e in events] == ["billing_entity.created", "billing_entity.updated"]
    assert all(e.organization_id == org for e in events)
    payloads = [parse_event_data(e.type, e.data) for e in events]
    assert all(isinstance(p, BillingEntityEvent) for p in payloads)
    assert payloads[1].billing_entity.net_payment_term == 9 == updated["billing_entity"]["net_payment_term"]


async def test_concurrent_creations_make_one_default_and_one_code(api):
    codes = [api.code("entity") for _ in range(4)]
    results = await asyncio.gather(*(api.client.post(URL, json={"billing_entity": {"code": c, "name": "E"}})
                                     for c in codes + codes[:1]))
    assert sorted(r.status_code for r in results) == [200, 200, 200, 200, 422]
    listed = (await api.ok("GET", URL))["billing_entities"]
    assert len(listed) == 4 and sum(e["is_default"] for e in listed) == 1 and listed[0]["is_default"]


@pytest.mark.parametrize(("body", "details"), [
    ({"name": "No code"}, {"code": ["value_is_mandatory"]}),
    ({"code": "x"}, {"name": ["value_is_mandatory"]}),
    ({"code": "x", "name": "E", "timezone": "Mars/Olympus"}, {"timezone": ["invalid_timezone"]}),
    ({"code": "x", "name": "E", "document_numbering": "per_organization"},
     {"document_numbering": ["value_is_invalid"]}),
    ({"code": "x", "name": "E", "net_payment_term": -1}, {"net_payment_term": ["value_is_out_of_range"]}),
    ({"code": "x", "name": "E", "document_number_prefix": "TOO-LONG-PREFIX"},
     {"document_number_prefix": ["value_is_too_long"]}),
    ({"code": "x", "name": "E", "tax_codes": ["unknown"]}, {"tax_codes": ["tax_not_found"]}),
    ({"code": "x", "name": "E", "invoice_custom_section_codes": ["s"]},
     {"invoice_custom_section_codes": ["too_many_items"]}),
    ({"code": "x", "name": "E", "email": "nope"}, {"email": ["invalid_email_format"]}),
])
async def test_bad_input_is_a_422_and_changes_nothing(api, body, details):
    error = await api.error("POST", URL, {"billing_entity": body})
    assert error["code"] == "validation_errors" and error["error_details"] == details, error
    assert (await api.ok("GET", URL))["billing_entities"] == []


async def test_codes_are_unique_and_unknown_codes_are_404(api):
    entity = await _create(api)
    error = await api.error("POST", URL, {"billing_entity": {"code": entity["code"], "name": "Again"}})
    assert error["error_details"] == {"code": ["value_already_exist"]}
    body = await api.error("GET", f"{URL}/unknown", status=404)
    assert body == {"status": 404, "error": "Not Found", "code": "billing_entity_not_found"}
    await api.error("PUT", f"{URL}/unknown", {"billing_entity": {"name": "X"}}, status=404)


async def test_roles_and_organizations(catalog, api, org):
    entity = await _create(api)
    other = catalog.client(uuid.uuid4(), roles=["admin"])
    assert (await other.get(f"{URL}/{entity['code']}")).status_code == 404
    assert (await other.get(URL)).json()["billing_entities"] == []
    assert (await other.put(f"{URL}/{entity['code']}", json={"billing_entity": {"name": "Mine"}})).status_code == 404
    tenant = catalog.client(org, roles=["tenant"], customer_id=uuid.uuid4())
    assert (await tenant.get(URL)).status_code == 403
    assert (await tenant.post(URL, json={"billing_entity": {"code": "t", "name": "T"}})).status_code == 403
    service = catalog.client(org, roles=["service"])
    assert (await service.get(f"{URL}/{entity['code']}")).status_code == 200
    assert (await service.put(f"{URL}/{entity['code']}", json={"billing_entity": {"name": "S"}})).status_code == 403
    assert (await api.ok("GET", f"{URL}/{entity['code']}"))["billing_entity"]["name"] == "Acme France"
