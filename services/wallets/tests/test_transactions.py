"""Wallet transactions: grants as blocks (priority, expiry, category), voids, expiry, history, credit view, manual
credits and the audit row, consumptions and fundings."""

import uuid
from datetime import timedelta

from sqlalchemy import text

from wallets.transactions.expiry import expire_due


async def test_top_up_creates_one_block_per_kind_with_its_terms(api, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer, rate_amount="0.5")
    paid, granted = await api.top_up(wallet["lago_id"], paid_credits="20", granted_credits="10", priority=2,
                                     expiration_at="2026-04-01T00:00:00Z", reason="Welcome credit",
                                     metadata=[{"key": "k", "value": "v"}])
    assert paid["transaction_status"] == "purchased" and paid["category"] == "purchased"
    assert granted["transaction_status"] == "granted" and granted["category"] == "granted"
    for block in (paid, granted):
        assert block["status"] == "settled" and block["transaction_type"] == "inbound"
        assert block["priority"] == 2 and block["expiration_at"].startswith("2026-04-01")
        assert block["description"] == "Welcome credit" and block["metadata"] == [{"key": "k", "value": "v"}]
    assert paid["amount_cents"] == 1000 and paid["remaining_amount_cents"] == 1000 and paid["amount"] == "10.00"
    assert granted["credit_amount"] == "10.0" and granted["remaining_credit_amount"] == "10.0"
    refreshed = await api.get_wallet(wallet["lago_id"])
    assert refreshed["credits_balance"] == "30.0" and refreshed["balance_cents"] == 1500


async def test_paid_credits_wait_for_payment_when_the_wallet_requires_it(api):
    customer = await api.customer()
    wallet = await api.wallet(customer, invoice_requires_successful_payment=True)
    [paid] = await api.top_up(wallet["lago_id"], paid_credits="5")
    assert paid["status"] == "pending" and paid["remaining_amount_cents"] == 0
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 0
    pending = await api.ok("GET", f"/api/v1/wallets/{wallet['lago_id']}/wallet_transactions",
                           params={"status": "pending"})
    assert [t["lago_id"] for t in pending["wallet_transactions"]] == [paid["lago_id"]]


async def test_voided_credits_follow_the_consumption_order_and_cannot_exceed_the_balance(api):
    customer = await api.customer()
    wallet = await api.wallet(customer)
    [late] = await api.top_up(wallet["lago_id"], granted_credits="5", expiration_at="2026-06-01T00:00:00Z")
    [soon] = await api.top_up(wallet["lago_id"], granted_credits="5", expiration_at="2026-04-01T00:00:00Z")
    [voided] = await api.top_up(wallet["lago_id"], voided_credits="7")
    assert voided["transaction_status"] == "voided" and voided["transaction_type"] == "outbound"
    assert voided["amount_cents"] == 700
    assert (await api.ok("GET", f"/api/v1/wallet_transactions/{soon['lago_id']}"))["wallet_transaction"][
        "remaining_amount_cents"] == 0
    assert (await api.ok("GET", f"/api/v1/wallet_transactions/{late['lago_id']}"))["wallet_transaction"][
        "remaining_amount_cents"] == 300
    error = await api.error("POST", "/api/v1/wallet_transactions", {"wallet_transaction": {
        "wallet_id": wallet["lago_id"], "voided_credits": "3.5"}}, status=409)
    assert error["code"] == "insufficient_credits"
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 300


async def test_voiding_a_grant_removes_what_is_left_once(api):
    customer = await api.customer()
    wallet = await api.wallet(customer)
    [grant] = await api.top_up(wallet["lago_id"], granted_credits="10")
    await api.top_up(wallet["lago_id"], voided_credits="4")
    voided = await api.ok("POST", f"/api/v1/wallet_transactions/{grant['lago_id']}/void",
                          {"wallet_transaction": {"reason": "Granted by mistake"}})
    assert voided["wallet_transaction"]["void_reason"] == "Granted by mistake"
    assert voided["wallet_transaction"]["remaining_amount_cents"] == 0
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 0
    again = await api.error("POST", f"/api/v1/wallet_transactions/{grant['lago_id']}/void",
                            {"wallet_transaction": {"reason": "twice"}}, status=405)
    assert again["code"] == "wallet_transaction_not_voidable"
    await api.error("POST", f"/api/v1/wallet_transactions/{grant['lago_id']}/void",
                    {"wallet_transaction": {"reason": "   "}})
    history = await api.ok("GET", f"/api/v1/customers/{customer}/balance_history")
    assert [e["description"] for e in history["balance_history"]][:1] == ["Voided credit grant: Granted by mistake"]
    assert [e["amount_cents"] for e in history["balance_history"]] == [-600, -400, 1000]


async def test_expired_blocks_are_removed_automatically_and_only_once(api, wallets, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer)
    await api.top_up(wallet["lago_id"], granted_credits="3", expiration_at="2026-03-20T00:00:00Z")
    await api.top_up(wallet["lago_id"], granted_credits="2")
    clock.advance(days=10)
    sessionmaker = wallets.database.sessionmaker
    await expire_due(sessionmaker, clock.now())
    await expire_due(sessionmaker, clock.now())
    refreshed = await api.get_wallet(wallet["lago_id"])
    assert refreshed["balance_cents"] == 200
    expired = await api.ok("GET", f"/api/v1/wallets/{wallet['lago_id']}/wallet_transactions",
                           params={"transaction_status": "voided"})
    assert [(t["source"], t["amount_cents"]) for t in expired["wallet_transactions"]] == [("expiration", 300)]


async def test_an_expired_wallet_is_terminated(api, wallets, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer, granted_credits="4", expiration_at="2026-03-16T00:00:00Z")
    clock.advance(days=2)
    await expire_due(wallets.database.sessionmaker, clock.now())
    refreshed = await api.get_wallet(wallet["lago_id"])
    assert refreshed["status"] == "terminated" and refreshed["balance_cents"] == 0


async def test_credit_view_and_manual_credit_with_audit(api, wallets, clock):
    customer = await api.customer()
    issued = await api.ok("POST", f"/api/v1/customers/{customer}/credits", {"credit": {
        "amount_cents": 2500, "currency": "EUR", "reason": "Goodwill after outage INC-42",
        "expiration_at": (clock.now() + timedelta(days=20)).isoformat()}})
    assert issued["wallet_transaction"]["amount_cents"] == 2500
    assert issued["wallet_transaction"]["source"] == "console"
    [wallet] = (await api.ok("GET", f"/api/v1/customers/{customer}/wallets"))["wallets"]
    await api.top_up(wallet["lago_id"], granted_credits="10")  # rate 1: 1,000 cents, never expiring
    view = await api.ok("GET", f"/api/v1/customers/{customer}/credits")
    [eur] = view["credits"]
    assert eur["available_amount_cents"] == 3500 and eur["expiring_amount_cents"] == 2500
    assert eur["pending_amount_cents"] == 0
    async with wallets.database.sessionmaker() as session:
        audit = (await session.execute(text("SELECT * FROM manual_credit_audits WHERE id = :id"),
                                       {"id": issued["lago_audit_id"]})).mappings().one()
    assert audit["reason"] == "Goodwill after outage INC-42" and audit["amount_cents"] == 2500
    assert audit["wallet_transaction_id"] == uuid.UUID(issued["wallet_transaction"]["lago_id"])
    history = await api.ok("GET", f"/api/v1/customers/{customer}/balance_history")
    assert "Goodwill after outage INC-42" in [e["description"] for e in history["balance_history"]]
    await api.error("POST", f"/api/v1/customers/{customer}/credits", {"credit": {
        "amount_cents": 0, "currency": "EUR", "reason": "x"}})
    await api.error("POST", f"/api/v1/customers/{customer}/credits", {"credit": {
        "amount_cents": 100, "currency": "EUR", "reason": ""}})


async def test_balance_history_pages_by_keyset_and_filters(api, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer)
    for n in range(5):
        clock.advance(minutes=1)
        await api.top_up(wallet["lago_id"], granted_credits=str(n + 1))
    clock.advance(minutes=1)
    await api.top_up(wallet["lago_id"], voided_credits="1")
    seen, cursor = [], None
    while True:
        page = await api.ok("GET", f"/api/v1/customers/{customer}/balance_history",
                            params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        seen += page["balance_history"]
        cursor = page["meta"]["next_cursor"]
        if cursor is None:
            break
    assert [e["amount_cents"] for e in seen] == [-100, 500, 400, 300, 200, 100]
    outbound = await api.ok("GET", f"/api/v1/customers/{customer}/balance_history",
                            params={"transaction_type": "outbound"})
    assert [e["amount_cents"] for e in outbound["balance_history"]] == [-100]
    await api.error("GET", f"/api/v1/customers/{customer}/balance_history", params={"cursor": "garbage"})


async def test_added_usage_credits_are_bounded_and_pending_until_paid(api):
    customer = await api.customer()
    url = f"/api/v1/customers/{customer}/usage_credits"
    added = await api.ok("POST", url, {"usage_credits": {"amount_cents": 2000, "currency": "EUR",
                                                         "payment_method_id": "pm_card_visa"}})
    transaction = added["wallet_transaction"]
    assert transaction["status"] == "pending" and transaction["transaction_status"] == "purchased"
    assert transaction["amount_cents"] == 2000 and transaction["description"] == "Added usage credits"
    assert transaction["metadata"] == [{"key": "payment_method_id", "value": "pm_card_visa"}]
    assert (await api.get_wallet(transaction["lago_wallet_id"]))["balance_cents"] == 0
    for cents in (499, 500_001):  # seed 003: between $5 and $5,000
        error = await api.error("POST", url, {"usage_credits": {"amount_cents": cents, "currency": "EUR",
                                                                "payment_method_id": "pm"}})
        assert error["error_details"] == {"amount_cents": ["value_is_out_of_range"]}
    await api.error("POST", url, {"usage_credits": {"amount_cents": 1000, "currency": "EUR"}})
