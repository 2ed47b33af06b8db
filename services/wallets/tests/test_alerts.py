"""Wallet alerts (Lago's routes and shapes) and their evaluation: `alert.triggered` once per crossing."""

import uuid

from sqlalchemy import text

from invora.events.contracts.invoicing import PrepaidCreditsRequested
from wallets.alerts.evaluate import evaluate_alerts
from wallets.applications import service as applications


def _path(customer: str, code: str = "main") -> str:
    return f"/api/v1/customers/{customer}/wallets/{code}/alerts"


async def _invoice(wallets, org, customer, cents, clock):
    async with wallets.database.sessionmaker() as session:
        await applications.apply(session, org, PrepaidCreditsRequested(
            lago_invoice_id=uuid.uuid4(), external_customer_id=customer, currency="EUR",
            lines=[{"fee_type": "subscription", "amount_cents": cents}]), clock.now())
        await session.commit()


async def _triggered(wallets, alert_id: str) -> list[dict]:
    async with wallets.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = 'alert.triggered' AND message_key = :k "
            "ORDER BY position"), {"k": alert_id})).scalars().all()
    return [row["data"]["triggered_alert"] for row in rows]


async def test_crud_in_lago_shapes(api):
    customer = await api.customer()
    await api.wallet(customer, code="main", granted_credits="50")
    created = (await api.ok("POST", _path(customer), {"alert": {
        "alert_type": "wallet_balance_amount", "code": "low", "name": "Low balance",
        "thresholds": [{"code": "warn", "value": 2000}, {"value": "500.5", "recurring": True}]}}))["alert"]
    assert created["alert_type"] == "wallet_balance_amount" and created["direction"] == "decreasing"
    assert created["wallet_code"] == "main" and created["external_subscription_id"] is None
    assert created["previous_value"] == "5000.0"  # starts from the balance it sees: 50 credits = 5000 cents
    assert created["thresholds"] == [{"code": "warn", "value": "2000", "recurring": False},
                                     {"code": None, "value": "500.5", "recurring": True}]
    assert (await api.ok("GET", f"{_path(customer)}/low"))["alert"]["lago_id"] == created["lago_id"]

    batch = await api.ok("POST", _path(customer), {"alerts": [
        {"alert_type": "wallet_credits_balance", "code": "c1", "thresholds": [{"value": 10}]},
        {"alert_type": "wallet_credits_ongoing_balance", "code": "c2", "thresholds": [{"value": 5}]}]})
    assert [a["code"] for a in batch["alerts"]] == ["c1", "c2"]
    listed = await api.ok("GET", _path(customer))
    assert [a["code"] for a in listed["alerts"]] == ["low", "c1", "c2"] and listed["meta"]["total_count"] == 3

    updated = (await api.ok("PUT", f"{_path(customer)}/low", {"alert": {
        "code": "lower", "thresholds": [{"value": 100}]}}))["alert"]
    assert updated["code"] == "lower" and updated["name"] == "Low balance"
    assert updated["thresholds"] == [{"code": None, "value": "100", "recurring": False}]
    assert (await api.ok("DELETE", f"{_path(customer)}/lower"))["alert"]["code"] == "lower"
    assert (await api.error("GET", f"{_path(customer)}/lower", status=404))["code"] == "alert_not_found"
    deleted = await api.client.delete(_path(customer))
    assert deleted.status_code == 200 and deleted.content == b""
    assert (await api.ok("GET", _path(customer)))["alerts"] == []


async def test_bad_alerts_are_refused_and_change_nothing(api, make_api):
    customer = await api.customer()
    await api.wallet(customer, code="main")
    await api.ok("POST", _path(customer), {"alert": {
        "alert_type": "wallet_balance_amount", "code": "taken", "thresholds": [{"value": 1}]}})
    two_recurring = {"alert_type": "wallet_balance_amount", "code": "x",
                     "thresholds": [{"value": 1, "recurring": True}, {"value": 2, "recurring": True}]}
    body = await api.error("POST", _path(customer), {"alert": two_recurring}, status=422)
    assert body["error_details"] == {"thresholds": ["only_one_recurring_threshold"]}
    body = await api.error("POST", _path(customer), {"alerts": [
        {"alert_type": "wallet_balance_amount", "code": "fine", "thresholds": [{"value": 1}]},
        {"alert_type": "wallet_balance_amount", "code": "taken", "thresholds": [{"value": 1}]},
        {"alert_type": "wallet_balance_amount", "code": "zero", "thresholds": [{"value": 0, "recurring": True}]},
    ]}, status=422)
    assert body["error_details"] == {"alerts.1.code": ["value_already_exist"],
                                     "alerts.2.thresholds.0.value": ["value_is_out_of_range"]}
    await api.error("POST", _path(customer), {"alert": {"alert_type": "wallet_balance_amount", "code": "neg",
                                                        "thresholds": [{"value": -5}]}}, status=422)
    await api.error("POST", _path(customer), {"alert": {"alert_type": "lifetime_usage_amount", "code": "t",
                                                        "thresholds": [{"value": 5}]}}, status=422)
    await api.error("POST", _path(customer), {"alert": {"alert_type": "wallet_balance_amount", "code": "t",
                                                        "thresholds": []}}, status=422)
    await api.error("POST", _path(customer), {}, status=400)
    assert [a["code"] for a in (await api.ok("GET", _path(customer)))["alerts"]] == ["taken"]
    assert (await api.error("GET", _path(customer, "nope"), status=404))["code"] == "wallet_not_found"
    other = make_api(uuid.uuid4())  # another organization sees nothing
    await other.error("GET", f"{_path(customer)}/taken", status=404)
    await other.error("POST", _path(customer), {"alert": {"alert_type": "wallet_balance_amount", "code": "z",
                                                          "thresholds": [{"value": 1}]}}, status=404)
    reader = make_api(api.org, roles=("tenant",), customer_id=str(uuid.uuid4()))
    await reader.error("GET", _path(customer), status=403)


async def test_each_crossing_is_published_once(api, wallets, org, clock):
    customer = await api.customer()
    await api.wallet(customer, code="main", granted_credits="100")  # 10000 cents
    alert = (await api.ok("POST", _path(customer), {"alert": {
        "alert_type": "wallet_balance_amount", "code": "low", "name": "Low",
        "thresholds": [{"code": "half", "value": 5000}, {"code": "step", "value": 1000, "recurring": True}]}}))[
        "alert"]
    credits = (await api.ok("POST", _path(customer), {"alert": {
        "alert_type": "wallet_credits_balance", "code": "credits", "thresholds": [{"value": "30.5"}]}}))["alert"]
    sessionmaker = wallets.database.sessionmaker

    await evaluate_alerts(sessionmaker, clock.now())
    assert await _triggered(wallets, alert["lago_id"]) == []  # nothing moved

    await _invoice(wallets, org, customer, 6500, clock)  # 10000 → 3500: crosses 5000, 4000
    await evaluate_alerts(sessionmaker, clock.now())
    await evaluate_alerts(sessionmaker, clock.now())  # a second pass finds nothing new
    [first] = await _triggered(wallets, alert["lago_id"])
    assert first["previous_value"] == "10000.0" and first["current_value"] == "3500.0"
    assert [t["value"] for t in first["crossed_thresholds"]] == ["5000", "4000"]
    assert first["alert_code"] == "low" and first["wallet_code"] == "main"
    assert first["external_customer_id"] == customer and first["alert_type"] == "wallet_balance_amount"
    assert await _triggered(wallets, credits["lago_id"]) == []  # 35 credits: above 30.5

    await api.top_up((await api.ok("GET", "/api/v1/wallets", params={"external_customer_id": customer}))[
        "wallets"][0]["lago_id"], granted_credits="20")  # 3500 → 5500: a rise re-arms 5000
    await evaluate_alerts(sessionmaker, clock.now())
    await _invoice(wallets, org, customer, 2600, clock)  # 5500 → 2900: 5000 again, 3000 (4000 was above 3500?)
    await evaluate_alerts(sessionmaker, clock.now())
    first_again, second = await _triggered(wallets, alert["lago_id"])
    assert first_again == first
    assert [t["value"] for t in second["crossed_thresholds"]] == ["5000", "4000", "3000"]
    assert second["previous_value"] == "5500.0" and second["current_value"] == "2900.0"
    [credit_hit] = await _triggered(wallets, credits["lago_id"])
    assert credit_hit["crossed_thresholds"] == [{"code": None, "value": "30.5", "recurring": False}]
    assert credit_hit["current_value"] == "29.0"
    got = (await api.ok("GET", f"{_path(customer)}/low"))["alert"]
    assert got["previous_value"] == "2900.0" and got["last_processed_at"] is not None


async def test_an_ongoing_alert_watches_the_balance_minus_current_usage(api, wallets, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer, code="main", granted_credits="10")  # 1000 cents
    alert = (await api.ok("POST", _path(customer), {"alert": {
        "alert_type": "wallet_ongoing_balance_amount", "code": "ongoing",
        "thresholds": [{"value": 500}, {"value": 0}]}}))["alert"]
    credits = (await api.ok("POST", _path(customer), {"alert": {
        "alert_type": "wallet_credits_ongoing_balance", "code": "ongoing_credits",
        "thresholds": [{"value": "2.5"}]}}))["alert"]
    async with wallets.database.sessionmaker() as session:  # what the usage refresh stores (usage/refresh.py)
        await session.execute(text("UPDATE wallets SET ongoing_usage_balance_cents = 1200 WHERE id = :id"),
                              {"id": wallet["lago_id"]})
        await session.commit()
    await evaluate_alerts(wallets.database.sessionmaker, clock.now())
    [hit] = await _triggered(wallets, alert["lago_id"])
    assert hit["current_value"] == "-200.0" and [t["value"] for t in hit["crossed_thresholds"]] == ["500", "0"]
    [credit_hit] = await _triggered(wallets, credits["lago_id"])
    assert credit_hit["current_value"] == "-2.0" and credit_hit["previous_value"] == "10.0"
