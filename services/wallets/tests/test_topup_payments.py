"""Pending purchases and payments: every pending purchase asks payments to charge it
(`wallet_transaction.payment_requested`, with the purchase), and payments' answer settles or fails it, once.
The answers are applied here as the consumer applies them; `tests/test_wallet_topups_end_to_end.py` goes
through Kafka, the payments service and localstripe."""

import uuid
from decimal import Decimal

from sqlalchemy import text

from invora.events.contracts.invoicing import PrepaidCreditsRequested
from invora.events.envelope import EventEnvelope
from wallets.applications import service as applications
from wallets.transactions.payments_consumer import apply_answer


async def _outbox(wallets, event_type: str, key: str) -> list[dict]:
    async with wallets.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = :t AND message_key = :k ORDER BY position"),
            {"t": event_type, "k": key})).scalars().all()
    return [row["data"] for row in rows]


def _answer(org, transaction: dict, status: str, **failure) -> EventEnvelope:
    charge_id = uuid.uuid4()
    payment = {"lago_id": str(charge_id), "lago_wallet_transaction_id": transaction["lago_id"],
               "lago_wallet_id": transaction["lago_wallet_id"], "lago_customer_id": str(uuid.uuid4()),
               "amount_cents": transaction["amount_cents"], "currency": "EUR", "payment_status": status,
               "failure": ({"category": "soft", "code": "card_declined", **failure} if status == "failed" else None)}
    return EventEnvelope(type=f"wallet_topup_payment.{status}", source="payments", organization_id=org,
                         aggregate_type="wallet_topup_payment", aggregate_id=str(charge_id), sequence=1,
                         data={"wallet_topup_payment": payment})


async def _apply(wallets, envelope) -> str:
    async with wallets.database.sessionmaker() as session:
        outcome = await apply_answer(session, envelope, wallets.app.state.runtime)
        await session.commit()
    return outcome


async def test_usage_credits_ask_for_a_charge_then_settle_once(api, wallets, org):
    customer = await api.customer()
    await api.wallet(customer, code="main")
    purchase = (await api.ok("POST", f"/api/v1/customers/{customer}/usage_credits", {"usage_credits": {
        "amount_cents": 2_500, "currency": "EUR", "payment_method_id": "pm_card_visa"}}))["wallet_transaction"]
    assert purchase["status"] == "pending"
    [request] = await _outbox(wallets, "wallet_transaction.payment_requested", purchase["lago_id"])
    assert request["amount_cents"] == 2_500 and request["payment_method_id"] == "pm_card_visa"
    assert request["external_customer_id"] == customer and request["currency"] == "EUR"
    wallet_id = purchase["lago_wallet_id"]
    assert (await api.get_wallet(wallet_id))["balance_cents"] == 0  # nothing until paid

    succeeded = _answer(org, purchase, "succeeded")
    assert await _apply(wallets, succeeded) == "settled"
    assert await _apply(wallets, succeeded) == "already_settled"  # a repeated answer moves nothing
    assert await _apply(wallets, _answer(org, purchase, "failed")) == "already_settled"  # nor a late contrary one
    assert (await api.get_wallet(wallet_id))["balance_cents"] == 2_500
    settled = (await api.ok("GET", f"/api/v1/wallet_transactions/{purchase['lago_id']}"))["wallet_transaction"]
    assert settled["status"] == "settled" and settled["settled_at"] is not None
    assert len(await _outbox(wallets, "credits.granted", purchase["lago_id"])) == 1


async def test_a_declined_top_up_fails_publishes_payment_failure_and_credits_nothing(api, wallets, org):
    customer = await api.customer()
    wallet = await api.wallet(customer, invoice_requires_successful_payment=True)
    [purchase] = await api.top_up(wallet["lago_id"], paid_credits="10")
    assert purchase["status"] == "pending"
    assert len(await _outbox(wallets, "wallet_transaction.payment_requested", purchase["lago_id"])) == 1
    assert await _apply(wallets, _answer(org, purchase, "failed")) == "failed"
    assert await _apply(wallets, _answer(org, purchase, "succeeded")) == "already_failed"
    [failure] = await _outbox(wallets, "wallet_transaction.payment_failure", purchase["lago_id"])
    assert failure["wallet_transaction"]["status"] == "failed"
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 0


async def test_an_answer_for_another_organization_or_wallet_changes_nothing(api, wallets, org):
    customer = await api.customer()
    wallet = await api.wallet(customer, invoice_requires_successful_payment=True)
    [purchase] = await api.top_up(wallet["lago_id"], paid_credits="5")
    assert await _apply(wallets, _answer(uuid.uuid4(), purchase, "succeeded")) == "unknown"
    assert await _apply(wallets, _answer(org, {**purchase, "lago_wallet_id": str(uuid.uuid4())},
                                         "succeeded")) == "unknown"
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 0


async def test_a_paid_auto_recharge_asks_for_a_charge_and_a_decline_backs_off(api, wallets, org, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer, granted_credits="8", recurring_transaction_rules=[
        {"trigger": "threshold", "threshold_credits": "5", "paid_credits": "10"}])
    async with wallets.database.sessionmaker() as session:
        await applications.apply(session, org, PrepaidCreditsRequested(
            lago_invoice_id=uuid.uuid4(), external_customer_id=customer, currency="EUR",
            lines=[{"fee_type": "subscription", "amount_cents": 400}]), clock.now())
        await session.commit()
    page = await api.ok("GET", f"/api/v1/wallets/{wallet['lago_id']}/wallet_transactions",
                        params={"transaction_type": "inbound", "per_page": 100})
    [recharge] = [t for t in page["wallet_transactions"] if t["source"] == "threshold"]
    [request] = await _outbox(wallets, "wallet_transaction.payment_requested", recharge["lago_id"])
    assert request["amount_cents"] == 1_000 and request["payment_method_id"] is None  # the customer's default
    assert await _apply(wallets, _answer(org, recharge, "failed")) == "failed"
    failed = (await api.ok("GET", f"/api/v1/wallet_transactions/{recharge['lago_id']}"))["wallet_transaction"]
    assert failed["status"] == "failed" and failed["failed_at"] is not None


async def test_lagos_payment_method_decides_how_a_paid_top_up_is_collected(api, wallets, org):
    """`payment_method_type: manual`: payments is asked to collect it on its page (never off-session);
    `provider` with an id: that method is charged; a manual method naming an id is refused, nothing recorded."""
    customer = await api.customer()
    wallet = await api.wallet(customer, code="main", invoice_requires_successful_payment=True)
    [manual] = await api.top_up(wallet["lago_id"], paid_credits="12.00",
                                payment_method={"payment_method_type": "manual"})
    [request] = await _outbox(wallets, "wallet_transaction.payment_requested", manual["lago_id"])
    assert request["manual"] is True and request["payment_method_id"] is None and request["amount_cents"] == 1_200
    assert manual["status"] == "pending"
    [named] = await api.top_up(wallet["lago_id"], paid_credits="3.00",
                               payment_method={"payment_method_type": "provider", "payment_method_id": "pm_123"})
    [request] = await _outbox(wallets, "wallet_transaction.payment_requested", named["lago_id"])
    assert request["manual"] is False and request["payment_method_id"] == "pm_123"
    [plain] = await api.top_up(wallet["lago_id"], paid_credits="1.00")
    [request] = await _outbox(wallets, "wallet_transaction.payment_requested", plain["lago_id"])
    assert request["manual"] is False and request["payment_method_id"] is None
    before = (await api.ok("GET", f"/api/v1/wallets/{wallet['lago_id']}/wallet_transactions"))["meta"]["total_count"]
    for bad in ({"payment_method_type": "manual", "payment_method_id": "pm_123"}, {"payment_method_type": "card"},
                {"payment_method_type": "provider", "payment_method_id": ""}):
        error = await api.error("POST", "/api/v1/wallet_transactions", {"wallet_transaction": {
            "wallet_id": wallet["lago_id"], "paid_credits": "5.00", "payment_method": bad}})
        assert error["status"] == 422, bad
    after = (await api.ok("GET", f"/api/v1/wallets/{wallet['lago_id']}/wallet_transactions"))["meta"]["total_count"]
    assert after == before


async def test_paid_credits_granted_at_once_are_invoiced_and_those_awaiting_payment_are_charged(api, wallets, org):
    customer = await api.customer()
    # paid credits at wallet creation (rate 2.00 €), a paid top-up, a granted one: credits at once
    wallet = await api.wallet(customer, code="main", rate_amount="2", paid_credits="12.5")
    assert wallet["balance_cents"] == 2_500
    [top_up, grant] = await api.top_up(wallet["lago_id"], paid_credits="3", granted_credits="4")
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 2_500 + 600 + 800
    asked = await _outbox(wallets, "wallet.paid_credits_invoice_requested", wallet["lago_id"])
    assert [(r["amount_cents"], Decimal(r["credit_amount"]), Decimal(r["rate_amount"]), r["external_customer_id"])
            for r in asked] == [(2_500, Decimal("12.5"), 2, customer), (600, 3, 2, customer)]
    assert asked[1]["lago_wallet_transaction_id"] == top_up["lago_id"]
    assert grant["lago_id"] not in {r["lago_wallet_transaction_id"] for r in asked}
    # a top-up that requires a successful payment is charged by payments instead, not invoiced
    [pending] = await api.top_up(wallet["lago_id"], paid_credits="5", invoice_requires_successful_payment=True)
    assert pending["status"] == "pending"
    assert len(await _outbox(wallets, "wallet.paid_credits_invoice_requested", wallet["lago_id"])) == 2
    assert len(await _outbox(wallets, "wallet_transaction.payment_requested", pending["lago_id"])) == 1
