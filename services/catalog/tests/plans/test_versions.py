"""Plan versions: every price change writes a new immutable version; old versions never change."""

from __future__ import annotations


async def test_price_change_creates_a_version_and_the_old_one_stays_exact(api, charge_of):
    api_calls, storage = await api.metric(), await api.metric()
    plan = await api.plan([charge_of(api_calls, "0.5"), charge_of(storage, "2")])
    v1 = (await api.ok("GET", f"/api/v1/plan_versions/{plan['lago_plan_version_id']}"))["plan_version"]
    assert v1["version"] == 1 and v1["is_current"] is True and v1["lago_plan_id"] == plan["lago_id"]
    assert v1["charges"] == plan["charges"] and v1["amount_cents"] == plan["amount_cents"]
    # the plan's name travels with it (subscriptions' webhooks show Lago's plan object from the pinned version)
    assert (v1["plan_name"], v1["plan_description"]) == (plan["name"], plan["description"])

    updated = (await api.ok("PUT", f"/api/v1/plans/{plan['code']}", {"plan": {
        "amount_cents": 12_000,
        "charges": [{"id": plan["charges"][0]["lago_id"], "properties": {"amount": "0.4"}},
                    {"code": storage["code"]}],
    }}))["plan"]
    assert updated["version"] == 2 and updated["lago_id"] == plan["lago_id"]
    assert updated["lago_plan_version_id"] != plan["lago_plan_version_id"]
    assert updated["amount_cents"] == 12_000
    changed, untouched = updated["charges"]
    assert changed["properties"] == {"amount": "0.4"} and changed["lago_id"] != plan["charges"][0]["lago_id"]
    assert untouched == plan["charges"][1]  # an untouched price keeps its lago_id

    again = (await api.ok("GET", f"/api/v1/plan_versions/{plan['lago_plan_version_id']}"))["plan_version"]
    assert again == {**v1, "is_current": False}  # exactly what was sold under version 1

    versions = (await api.ok("GET", f"/api/v1/plans/{plan['code']}/versions"))
    assert [(v["version"], v["is_current"]) for v in versions["plan_versions"]] == [(2, True), (1, False)]
    assert versions["meta"]["total_count"] == 2


async def test_no_version_without_a_price_change(api, charge_of):
    metric = await api.metric()
    plan = await api.plan([charge_of(metric)])
    url = f"/api/v1/plans/{plan['code']}"
    renamed = (await api.ok("PUT", url, {"plan": {"name": "Renamed", "description": "d",
                                                  "invoice_display_name": "Shown"}}))["plan"]
    assert renamed["version"] == 1 and renamed["name"] == "Renamed"
    same = (await api.ok("PUT", url, {"plan": {
        "amount_cents": plan["amount_cents"], "interval": "monthly",
        "charges": [{"id": plan["charges"][0]["lago_id"], "charge_model": "standard",
                     "properties": {"amount": "0.5"}}],
    }}))["plan"]
    assert same["version"] == 1 and same["lago_plan_version_id"] == plan["lago_plan_version_id"]
    recoded = (await api.ok("PUT", url, {"plan": {"code": f"{plan['code']}_v2"}}))["plan"]
    assert recoded["code"] == f"{plan['code']}_v2" and recoded["version"] == 1


async def test_charges_list_in_put_replaces_them(api, charge_of):
    a, b, c = await api.metric(), await api.metric(), await api.metric()
    plan = await api.plan([charge_of(a), charge_of(b)])
    url = f"/api/v1/plans/{plan['code']}"
    updated = (await api.ok("PUT", url, {"plan": {"charges": [
        {"id": plan["charges"][1]["lago_id"]}, charge_of(c, "3"),
    ]}}))["plan"]
    assert [ch["code"] for ch in updated["charges"]] == [b["code"], c["code"]]
    assert updated["charges"][0]["lago_id"] == plan["charges"][1]["lago_id"]
    assert updated["version"] == 2
    # a stale charge id from version 1 still names the same charge
    stale = (await api.ok("PUT", url, {"plan": {"charges": [
        {"id": plan["charges"][1]["lago_id"], "properties": {"amount": "9"}}, {"code": c["code"]},
    ]}}))["plan"]
    assert stale["version"] == 3 and stale["charges"][0]["properties"] == {"amount": "9"}
    cleared = (await api.ok("PUT", url, {"plan": {"charges": []}}))["plan"]
    assert cleared["charges"] == [] and cleared["version"] == 4
    v1 = (await api.ok("GET", f"/api/v1/plan_versions/{plan['lago_plan_version_id']}"))["plan_version"]
    assert [ch["code"] for ch in v1["charges"]] == [a["code"], b["code"]]


async def test_commitment_thresholds_and_fixed_charges_are_versioned(api):
    add_on = await api.add_on("EUR")
    plan = await api.plan(
        minimum_commitment={"amount_cents": 1000},
        usage_thresholds=[{"amount_cents": 500}],
        fixed_charges=[{"add_on_code": add_on["code"], "charge_model": "standard", "properties": {"amount": "1"}}],
    )
    url = f"/api/v1/plans/{plan['code']}"
    commitment = (await api.ok("PUT", url, {"plan": {"minimum_commitment": {"amount_cents": 2000}}}))["plan"]
    assert commitment["version"] == 2 and commitment["minimum_commitment"]["amount_cents"] == 2000
    assert commitment["minimum_commitment"]["lago_id"] == plan["minimum_commitment"]["lago_id"]
    removed = (await api.ok("PUT", url, {"plan": {"minimum_commitment": {}}}))["plan"]
    assert removed["minimum_commitment"] is None and removed["version"] == 3
    thresholds = (await api.ok("PUT", url, {"plan": {"usage_thresholds": [
        {"amount_cents": 500}, {"amount_cents": 900, "recurring": True},
    ]}}))["plan"]
    assert thresholds["version"] == 4
    assert thresholds["usage_thresholds"][0]["lago_id"] == plan["usage_thresholds"][0]["lago_id"]
    units = (await api.ok("PUT", url, {"plan": {"fixed_charges": [
        {"id": plan["fixed_charges"][0]["lago_id"], "units": "3.5"},
    ]}}))["plan"]
    assert units["version"] == 5 and units["fixed_charges"][0]["units"] == 3.5
    assert units["fixed_charges"][0]["lago_id"] != plan["fixed_charges"][0]["lago_id"]
    v1 = (await api.ok("GET", f"/api/v1/plan_versions/{plan['lago_plan_version_id']}"))["plan_version"]
    assert v1["minimum_commitment"]["amount_cents"] == 1000 and v1["fixed_charges"][0]["units"] == 0.0
    assert [t["amount_cents"] for t in v1["usage_thresholds"]] == [500]


async def test_concurrent_price_changes_get_distinct_versions(api, charge_of):
    import asyncio

    metric = await api.metric()
    plan = await api.plan([charge_of(metric)])
    url = f"/api/v1/plans/{plan['code']}"
    responses = await asyncio.gather(*[
        api.client.put(url, json={"plan": {"amount_cents": 1000 + i}}) for i in range(5)
    ])
    assert [r.status_code for r in responses] == [200] * 5
    versions = (await api.ok("GET", f"{url}/versions"))["plan_versions"]
    assert sorted(v["version"] for v in versions) == [1, 2, 3, 4, 5, 6]


async def test_versions_of_unknown_plans_and_versions(api, catalog):
    import uuid

    await api.error("GET", "/api/v1/plans/nope/versions", status=404)
    body = await api.error("GET", f"/api/v1/plan_versions/{uuid.uuid4()}", status=404)
    assert body["code"] == "plan_version_not_found"
    plan = await api.plan()
    other = catalog.client(uuid.uuid4())
    response = await other.get(f"/api/v1/plan_versions/{plan['lago_plan_version_id']}")
    assert response.status_code == 404  # another organization's version does not exist for you


async def test_the_database_refuses_to_change_what_was_sold(api, catalog, charge_of):
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    plan = await api.plan([charge_of(await api.metric())])
    version_id = plan["lago_plan_version_id"]
    for statement in (
        "UPDATE plan_versions SET amount_cents = 1 WHERE id = :v",
        "DELETE FROM plan_versions WHERE id = :v",
        "UPDATE charges SET properties = '{}'::jsonb WHERE id IN "
        "(SELECT charge_id FROM plan_version_charges WHERE plan_version_id = :v)",
        "DELETE FROM plan_version_charges WHERE plan_version_id = :v",
    ):
        async with catalog.database.sessionmaker() as session:
            with pytest.raises(DBAPIError, match="immutable"):
                await session.execute(text(statement), {"v": version_id})
    assert (await api.ok("GET", f"/api/v1/plan_versions/{version_id}"))["plan_version"]["charges"] == plan["charges"]
