"""Auto recharge on a threshold rule, and its guards: one in flight per wallet, back-off after a decline,
a daily cap with its alert."""

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from invora.events.contracts.invoicing import PrepaidCreditsRequested
from wallets.applications import service as applications
from wallets.transactions import repository as transactions_repository
from wallets.transactions import service as transactions
from wallets.wallets import service as wallets_service


async def _invoice(wallets, org, customer, cents, clock):
    async with wallets.database.sessionmaker() as session:
        answer = await applications.apply(session, org, PrepaidCreditsRequested(
            lago_invoice_id=uuid.uuid4(), external_customer_id=customer, currency="EUR",
            lines=[{"fee_type": "subscription", "amount_cents": cents}]), clock.now())
        await session.commit()
    return answer


async def _recharges(api, wallet_id):
    page = await api.ok("GET", f"/api/v1/wallets/{wallet_id}/wallet_transactions",
                        params={"transaction_type": "inbound", "per_page": 100})
    return [t for t in page["wallet_transactions"] if t["source"] == "threshold"]


async def test_one_paid_recharge_in_flight_then_back_off_after_a_decline(api, wallets, org, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer, granted_credits="8", recurring_transaction_rules=[
        {"trigger": "threshold", "threshold_credits": "5", "paid_credits": "10"}])
    await _invoice(wallets, org, customer, 400, clock)  # 4 credits left: at the threshold
    [pending] = await _recharges(api, wallet["lago_id"])
    assert pending["status"] == "pending" and pending["credit_amount"] == "10.0"
    assert pending["description"] == "Auto recharge"
    await _invoice(wallets, org, customer, 100, clock)
    assert len(await _recharges(api, wallet["lago_id"])) == 1  # one in flight: no second

    async with wallets.database.sessionmaker() as session:  # the payment is declined
        row = await transactions_repository.by_id(session, org, uuid.UUID(pending["lago_id"]))
        locked = await wallets_service.get_row(session, org, wallet["lago_id"], lock=True)
        failed = await transactions.fail(session, locked, row, clock.now())
        await session.commit()
    assert failed["status"] == "failed" and failed["failed_at"] is not None
    clock.advance(minutes=30)
    await _invoice(wallets, org, customer, 100, clock)
    assert len(await _recharges(api, wallet["lago_id"])) == 1  # backing off
    clock.advance(minutes=31)
    await _invoice(wallets, org, customer, 100, clock)
    assert [t["status"] for t in await _recharges(api, wallet["lago_id"])].count("pending") == 1
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 100  # nothing paid: nothing credited


async def test_granted_recharges_stop_at_the_daily_cap_with_one_alert(api, wallets, org, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer, granted_credits="6", recurring_transaction_rules=[
        {"trigger": "threshold", "threshold_credits": "5", "granted_credits": "1"}])
    for _ in range(8):
        await _invoice(wallets, org, customer, 100, clock)
        clock.advance(minutes=1)
    recharges = await _recharges(api, wallet["lago_id"])
    assert len(recharges) == 5 and all(r["status"] == "settled" for r in recharges)
    async with wallets.database.sessionmaker() as session:
        alerts = (await session.execute(text(
            "SELECT count(*) FROM outbox_events WHERE event_type = 'wallet.auto_recharge_limit_reached' "
            "AND message_key = :w"), {"w": wallet["lago_id"]})).scalar_one()
    assert alerts == 1
    clock.advance(days=1)
    await _invoice(wallets, org, customer, 100, clock)
    assert len(await _recharges(api, wallet["lago_id"])) == 6  # a new day


async def test_the_database_refuses_a_second_recharge_in_flight(api, wallets, org, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer)
    async with wallets.database.sessionmaker() as session:
        locked = await wallets_service.get_row(session, org, wallet["lago_id"], lock=True)
        await transactions.add_block(session, locked, credits=1, category="purchased", now=clock.now(),
                                     description="Auto recharge", source="threshold", settled=False)
        with pytest.raises(IntegrityError, match="recharge_in_flight"):
            await transactions.add_block(session, locked, credits=1, category="purchased", now=clock.now(),
                                         description="Auto recharge", source="threshold", settled=False)
