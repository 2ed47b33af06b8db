"""Customers: Lago's upsert, reads, filters, deletion, validation, events, roles and isolation."""

from __future__ import annotations

import uuid

import pytest


async def test_create_returns_lago_shape_and_upsert_updates_only_sent_fields(api):
    created = await api.customer(
        "acme", email="billing@acme.test", country="fr", timezone="Europe/Paris", legal_name="Acme SAS",
        billing_configuration={"invoice_grace_period": 3, "document_locale": "fr"},
        shipping_address={"city": "Lyon", "country": "FR"},
        metadata=[{"key": "crm", "value": "42", "display_in_invoice": True}],
        tax_identification_number="FR123", purchase_order_number="PO-1", billing_email="ap@acme.test",
    )
    assert created["external_id"] == "acme" and created["country"] == "FR"
    assert created["applicable_timezone"] == "Europe/Paris"
    assert created["billing_configuration"]["invoice_grace_period"] == 3
    assert created["invoice_grace_period"] == 3 and created["sequential_id"] == 1
    assert created["metadata"][0]["key"] == "crm" and uuid.UUID(created["metadata"][0]["lago_id"])
    assert created["shipping_address"]["city"] == "Lyon"
    updated = (await api.ok("POST", "/api/v1/customers", {"customer": {
        "external_id": "acme", "name": "Acme 2", "metadata": [
            {"key": "crm", "value": "43", "display_in_invoice": False}, {"key": "x", "value": "y"}]}}))["customer"]
    assert updated["lago_id"] == created["lago_id"]
    assert updated["name"] == "Acme 2" and updated["email"] == "billing@acme.test" and updated["currency"] == "EUR"
    assert updated["metadata"][0]["lago_id"] == created["metadata"][0]["lago_id"]
    assert updated["metadata"][0]["value"] == "43" and len(updated["metadata"]) == 2
    fetched = (await api.ok("GET", "/api/v1/customers/acme"))["customer"]
    assert fetched == updated
    second = await api.customer("other")
    assert second["sequential_id"] == 2 and second["applicable_timezone"] == "UTC"


@pytest.mark.parametrize(("field", "value", "code"), [
    ("country", "XX", "country_code_invalid"),
    ("currency", "EURO", "currency_code_invalid"),
    ("currency", "eur", "currency_code_invalid"),
    ("timezone", "Mars/Olympus", "invalid_timezone"),
    ("timezone", "../../etc/passwd", "invalid_timezone"),
    # files of the host's zoneinfo directory or placeholders, not IANA zone names (issue 11 item 8)
    ("timezone", "localtime", "invalid_timezone"),
    ("timezone", "Factory", "invalid_timezone"),
    ("timezone", "posixrules", "invalid_timezone"),
    ("timezone", "posix/Europe/Paris", "invalid_timezone"),
    ("timezone", "europe/paris", "invalid_timezone"),
    ("email", "not-an-email", "invalid_email_format"),
    ("name", "x" * 300, "value_is_too_long"),
    ("name", "nul\x00byte", "invalid_characters"),
    ("net_payment_term", -1, "value_is_out_of_range"),
    ("invoice_grace_period", "3", "invalid_type"),
    ("account_type", "robot", "value_is_invalid"),
])
async def test_field_validation(api, field, value, code):
    body = await api.error("POST", "/api/v1/customers", {"customer": {"external_id": "v", field: value}})
    assert code in body["error_details"][field]
    await api.error("GET", "/api/v1/customers/v", status=404)


@pytest.mark.parametrize("timezone", ["Europe/Paris", "UTC", "Etc/UTC", "Europe/Amsterdam", "Europe/Kyiv",
                                      "Europe/Kiev", "America/Argentina/Buenos_Aires"])
async def test_iana_zone_names_and_their_links_are_accepted(api, timezone):
    """Links stay accepted: `Europe/Amsterdam` is a link of today's database, `Europe/Kiev` is in Lago's list."""
    created = await api.ok("POST", "/api/v1/customers", {"customer": {"external_id": f"tz-{timezone}",
                                                                       "timezone": timezone}})
    assert created["customer"]["timezone"] == timezone


async def test_body_shape_errors(api):
    assert (await api.error("POST", "/api/v1/customers", {}, status=400))["code"] == "missing_param"
    assert "external_id" in (await api.error("POST", "/api/v1/customers", {"customer": {"name": "x"}}))[
        "error_details"]
    await api.error("POST", "/api/v1/customers", {"customer": {"external_id": ""}})
    await api.error("POST", "/api/v1/customers", {"customer": []})
    dup = await api.error("POST", "/api/v1/customers", {"customer": {"external_id": "m", "metadata": [
        {"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}})
    assert dup["error_details"] == {"metadata": ["duplicated_key"]}
    response = await api.client.post("/api/v1/customers", content=b"{not json",
                                     headers={"content-type": "application/json"})
    assert response.status_code == 400


async def test_list_filters_and_pagination(api):
    await api.customer("a1", name="Alpha Corp", country="FR", currency="EUR", tax_identification_number="T1",
                       metadata=[{"key": "tier", "value": "gold"}], customer_type="company")
    await api.customer("b2", name="Beta", country="US", currency="USD", email="ceo@beta.test")
    await api.customer("c3", name="Gamma 100%", country="US", currency="EUR", account_type="partner")

    async def ids(query: str) -> list[str]:
        return sorted(c["external_id"] for c in (await api.ok("GET", f"/api/v1/customers?{query}"))["customers"])

    assert await ids("") == ["a1", "b2", "c3"]
    assert await ids("countries[]=US") == ["b2", "c3"]
    assert await ids("currencies[]=EUR&countries[]=US") == ["c3"]
    assert await ids("search_term=beta.test") == ["b2"]
    assert await ids("search_term=100%25") == ["c3"]
    assert await ids("search_term=_") == []
    assert await ids("metadata[tier]=gold") == ["a1"]
    assert await ids("metadata[tier]=") == ["b2", "c3"]
    assert await ids("has_tax_identification_number=true") == ["a1"]
    assert await ids("has_tax_identification_number=false") == ["b2", "c3"]
    assert await ids("account_type[]=partner") == ["c3"]
    assert await ids("customer_type=company") == ["a1"]
    page = await api.ok("GET", "/api/v1/customers?per_page=2&page=2")
    assert len(page["customers"]) == 1
    assert page["meta"] == {"current_page": 2, "next_page": None, "prev_page": 1, "total_pages": 2, "total_count": 3}
    assert "countries" in (await api.error("GET", "/api/v1/customers?countries[]=ZZ"))["error_details"]
    assert "currencies" in (await api.error("GET", "/api/v1/customers?currencies[]=ABC"))["error_details"]
    await api.error("GET", "/api/v1/customers?per_page=0")
    await api.error("GET", "/api/v1/customers?has_customer_type=maybe")


async def test_delete_frees_external_id_and_hides_customer(api):
    first = await api.customer("gone")
    deleted = (await api.ok("DELETE", "/api/v1/customers/gone"))["customer"]
    assert deleted["deleted_at"] is not None
    await api.error("GET", "/api/v1/customers/gone", status=404)
    await api.error("DELETE", "/api/v1/customers/gone", status=404)
    again = await api.customer("gone")
    assert again["lago_id"] != first["lago_id"]
    assert [c["external_id"] for c in (await api.ok("GET", "/api/v1/customers"))["customers"]] == ["gone"]


async def test_events_published(api, org, wait_for_event):
    customer = await api.customer("evt")
    await api.ok("POST", "/api/v1/customers", {"customer": {"external_id": "evt", "name": "Renamed"}})
    await api.ok("DELETE", "/api/v1/customers/evt")
    for event_type in ("customer.created", "customer.updated", "customer.deleted"):
        event = await wait_for_event("invora.customer",
                                     lambda e, t=event_type: e.organization_id == org and e.type == t)
        assert event.aggregate_id == customer["lago_id"]
        assert event.data["customer"]["external_id"] == "evt"
    updated = await wait_for_event("invora.customer",
                                   lambda e: e.organization_id == org and e.type == "customer.updated")
    assert updated.data["customer"]["name"] == "Renamed"


async def test_roles_and_isolation(make_api, api, org):
    mine = await api.customer("mine")
    other = make_api(uuid.uuid4())
    await other.error("GET", "/api/v1/customers/mine", status=404)
    await other.error("DELETE", "/api/v1/customers/mine", status=404)
    assert (await other.ok("GET", "/api/v1/customers"))["customers"] == []
    other_same_id = await other.customer("mine")
    assert other_same_id["sequential_id"] == 1
    service = make_api(org, roles=["service"])
    await service.ok("GET", "/api/v1/customers/mine")
    await service.error("POST", "/api/v1/customers", {"customer": {"external_id": "x"}}, status=403)
    tenant = make_api(org, roles=["tenant"], customer_id=mine["lago_id"])
    await tenant.ok("GET", "/api/v1/customers/mine")
    await tenant.error("GET", "/api/v1/customers/someone", status=403)
    await tenant.error("GET", "/api/v1/customers", status=403)
    await tenant.error("DELETE", "/api/v1/customers/mine", status=403)
    anonymous = make_api(None)
    await anonymous.error("GET", "/api/v1/customers", status=401)


async def test_concurrent_upserts_of_one_external_id_make_one_customer(api):
    import asyncio

    results = await asyncio.gather(*(api.client.post("/api/v1/customers", json={"customer": {
        "external_id": "race", "name": f"n{i}"}}) for i in range(6)))
    assert {r.status_code for r in results} == {200}
    assert len({r.json()["customer"]["lago_id"] for r in results}) == 1
