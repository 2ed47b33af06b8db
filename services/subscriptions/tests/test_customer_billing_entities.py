"""A customer's `billing_entity_code` must name one of its organization's billing entities, which
subscriptions knows from the catalog's `billing_entity.created|updated` (a local projection)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

CONSUMERS = True


async def _entity(catalog, org: uuid.UUID, code: str) -> dict:
    client = catalog.client(org, roles=["admin"])
    response = await client.post("/api/v1/billing_entities", json={"billing_entity": {"code": code, "name": code}})
    assert response.status_code == 200, response.text
    return response.json()["billing_entity"]


async def _known(subs, org: uuid.UUID, code: str, tries: int = 150) -> None:
    for _ in range(tries):
        async with subs.database.sessionmaker() as session:
            if (await session.execute(text(
                    "SELECT count(*) FROM known_billing_entities WHERE organization_id = :org AND code = :code"),
                    {"org": org, "code": code})).scalar_one():
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"billing_entity {code} not projected within {tries * 0.2:.0f} s")


async def test_a_known_code_is_kept_and_an_unknown_one_is_lagos_404(subs, catalog, api, org):
    unknown = await api.error("POST", "/api/v1/customers", {"customer": {"external_id": "c1",
                                                                         "billing_entity_code": "eu"}}, status=404)
    assert unknown == {"status": 404, "error": "Not Found", "code": "billing_entity_not_found"}
    await api.error("GET", "/api/v1/customers/c1", status=404)  # nothing written

    await _entity(catalog, org, "eu")
    await _known(subs, org, "eu")
    created = await api.customer("c1", billing_entity_code="eu")
    assert created["billing_entity_code"] == "eu"

    # an update with an unknown code is refused and changes nothing
    await api.error("POST", "/api/v1/customers", {"customer": {"external_id": "c1", "name": "New",
                                                               "billing_entity_code": "us"}}, status=404)
    kept = (await api.ok("GET", "/api/v1/customers/c1"))["customer"]
    assert kept["billing_entity_code"] == "eu" and kept["name"] == "Acme"

    # no code, or an explicit null: the organization's default (returned as null, see docs)
    plain = await api.customer("c2")
    assert plain["billing_entity_code"] is None
    cleared = (await api.ok("POST", "/api/v1/customers", {"customer": {"external_id": "c1",
                                                                       "billing_entity_code": None}}))["customer"]
    assert cleared["billing_entity_code"] is None


async def test_another_organizations_entity_code_is_refused(subs, catalog, make_api):
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    await _entity(catalog, theirs, "their_entity")
    await _known(subs, theirs, "their_entity")
    body = {"customer": {"external_id": "x", "billing_entity_code": "their_entity"}}
    error = await make_api(mine).error("POST", "/api/v1/customers", body, status=404)
    assert error["code"] == "billing_entity_not_found"
    assert (await make_api(theirs).ok("POST", "/api/v1/customers", body))["customer"]["billing_entity_code"] == \
        "their_entity"
