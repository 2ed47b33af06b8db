"""Applying credits to invoices: order, applies_to, idempotency per invoice, no double spend under concurrency,
release on void (and a release before its request), the answer published every time."""

import asyncio
import uuid

from sqlalchemy import text

from invora.events.contracts.invoicing import PrepaidCreditsReleaseRequested, PrepaidCreditsRequested
from wallets.applications import service
from wallets.ledger.reconcile import reconcile


def request(customer: str, *lines: tuple, invoice: uuid.UUID | None = None, number: str = "F-2026-12-00042"):
    return PrepaidCreditsRequested(
        lago_invoice_id=invoice or uuid.uuid4(), invoice_number=number, external_customer_id=customer,
        currency="EUR", lines=[{"fee_type": fee_type, "billable_metric_code": metric, "amount_cents": cents}
                               for fee_type, metric, cents in lines])


async def apply(wallets, org, req, clock):
    async with wallets.database.sessionmaker() as session:
        answer = await service.apply(session, org, req, clock.now())
        await session.commit()
    return answer


async def release(wallets, org, invoice, clock):
    async with wallets.database.sessionmaker() as session:
        answer = await service.release(session, org, PrepaidCreditsReleaseRequested(lago_invoice_id=invoice),
                                       clock.now())
        await session.commit()
    return answer


async def test_credits_pay_the_invoice_in_order_across_wallets(api, wallets, org, clock):
    customer = await api.customer()
    low = await api.wallet(customer, code="low", priority=10, granted_credits="50")
    high = await api.wallet(customer, code="high", priority=1)
    await api.top_up(high["lago_id"], granted_credits="30")
    answer = await apply(wallets, org, request(customer, ("subscription", None, 6000), ("charge", "api", 1000)), clock)
    assert answer.applied_amount_cents == 7000 and answer.requested_amount_cents == 7000
    assert [line.applied_amount_cents for line in answer.lines] == [6000, 1000]
    assert {(t.lago_wallet_id, t.amount_cents) for t in answer.wallet_transactions} == {
        (uuid.UUID(high["lago_id"]), 3000), (uuid.UUID(low["lago_id"]), 4000)}
    assert (await api.get_wallet(high["lago_id"]))["balance_cents"] == 0
    low_now = await api.get_wallet(low["lago_id"])
    assert low_now["balance_cents"] == 1000 and low_now["consumed_credits"] == "40.0"
    assert low_now["last_consumed_credit_at"] is not None
    history = await api.ok("GET", f"/api/v1/customers/{customer}/balance_history")
    assert "Applied credit balance to invoice F-2026-12-00042" in [e["description"] for e in history["balance_history"]]
    # fundings: which block paid for the low wallet's debit
    debit = next(t for t in answer.wallet_transactions if t.lago_wallet_id == uuid.UUID(low["lago_id"]))
    fundings = await api.ok("GET", f"/api/v1/wallet_transactions/{debit.lago_wallet_transaction_id}/fundings")
    assert [f["amount_cents"] for f in fundings["wallet_transaction_fundings"]] == [4000]
    block_id = fundings["wallet_transaction_fundings"][0]["wallet_transaction"]["lago_id"]
    consumptions = await api.ok("GET", f"/api/v1/wallet_transactions/{block_id}/consumptions")
    assert consumptions["wallet_transaction_consumptions"][0]["wallet_transaction"]["lago_id"] == \
        str(debit.lago_wallet_transaction_id)


async def test_applies_to_limits_what_a_wallet_pays(api, wallets, org, clock):
    customer = await api.customer()
    await api.wallet(customer, granted_credits="100", applies_to={"billable_metric_codes": ["api"]})
    answer = await apply(wallets, org, request(customer, ("subscription", None, 5000), ("charge", "api", 700),
                                               ("charge", "storage", 900)), clock)
    assert [line.applied_amount_cents for line in answer.lines] == [0, 700, 0]


async def test_an_invoice_is_paid_once_and_every_request_gets_the_same_answer(api, wallets, org, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer, granted_credits="10")
    req = request(customer, ("subscription", None, 400))
    first = await apply(wallets, org, req, clock)
    second = await apply(wallets, org, req, clock)
    assert first == second and first.applied_amount_cents == 400
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 600


async def test_sixteen_concurrent_invoices_consume_exactly_the_balance(api, wallets, org, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer, granted_credits="10")  # 1,000 cents
    requests = [request(customer, ("subscription", None, 130)) for _ in range(16)]
    answers = await asyncio.gather(*(apply(wallets, org, r, clock) for r in requests))
    applied = [a.applied_amount_cents for a in answers]
    assert sum(applied) == 1000  # 7 × 130 + one 90, the rest 0: never more, never less
    assert sorted(applied, reverse=True)[:8] == [130] * 7 + [90]
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 0
    # and the same 16 again, concurrently with themselves: no second effect
    again = await asyncio.gather(*(apply(wallets, org, r, clock) for r in requests * 2))
    assert sorted(a.applied_amount_cents for a in again) == sorted(applied * 2)
    async with wallets.database.sessionmaker() as session:
        assert (await reconcile(session)).clean


async def test_void_gives_the_credits_back_once_and_expired_ones_stay_gone(api, wallets, org, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer)
    await api.top_up(wallet["lago_id"], granted_credits="3", expiration_at="2026-03-16T00:00:00Z")
    await api.top_up(wallet["lago_id"], granted_credits="5")
    req = request(customer, ("subscription", None, 600))
    assert (await apply(wallets, org, req, clock)).applied_amount_cents == 600  # 300 expiring + 300 of the other
    clock.advance(days=2)  # the first block has expired since
    released = await release(wallets, org, req.lago_invoice_id, clock)
    assert released.released_amount_cents == 300 and released.lost_amount_cents == 300
    again = await release(wallets, org, req.lago_invoice_id, clock)
    assert again.released_amount_cents == 300 and again.wallet_transactions == []
    refreshed = await api.get_wallet(wallet["lago_id"])
    assert refreshed["balance_cents"] == 500 + 300 - 300 and refreshed["consumed_credits"] == "3.0"
    # a new request for the voided invoice applies nothing
    late = await apply(wallets, org, req, clock)
    assert late.status == "released" and late.applied_amount_cents == 0


async def test_a_release_before_its_request_makes_the_request_apply_nothing(api, wallets, org, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer, granted_credits="5")
    invoice = uuid.uuid4()
    assert (await release(wallets, org, invoice, clock)).released_amount_cents == 0
    answer = await apply(wallets, org, request(customer, ("subscription", None, 100), invoice=invoice), clock)
    assert answer.applied_amount_cents == 0 and answer.status == "released"
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 500


async def test_an_unknown_customer_or_currency_applies_nothing(api, wallets, org, clock):
    customer = await api.customer()
    await api.wallet(customer, granted_credits="5")
    assert (await apply(wallets, org, request("nobody", ("subscription", None, 100)), clock)).applied_amount_cents == 0
    other = request(customer, ("subscription", None, 100)).model_copy(update={"currency": "USD"})
    assert (await apply(wallets, org, other, clock)).applied_amount_cents == 0
    # another organization's request for the same external id touches nothing here
    assert (await apply(wallets, uuid.uuid4(), request(customer, ("subscription", None, 100)), clock)
            ).applied_amount_cents == 0
    async with wallets.database.sessionmaker() as session:
        total = (await session.execute(text(
            "SELECT sum(balance_cents) FROM wallets WHERE organization_id = :org"), {"org": org})).scalar_one()
    assert total == 500


async def test_a_batch_applies_each_request_as_alone_and_a_duplicate_gets_the_first_answer(api, wallets, org, clock):
    first_customer, second_customer = await api.customer(), await api.customer()
    one = await api.wallet(first_customer, granted_credits="5")
    two = await api.wallet(second_customer, granted_credits="5")
    a = request(first_customer, ("subscription", None, 300))
    b = request(first_customer, ("subscription", None, 300))  # the same wallet: only 200 left after `a`
    c = request(second_customer, ("charge", "api", 100))
    async with wallets.database.sessionmaker() as session:
        answers = await service.apply_many(session, [(org, a), (org, b), (org, c), (org, a)], clock.now())
        await session.commit()
    assert [x.applied_amount_cents for x in answers] == [300, 200, 100, 300]
    assert answers[0] == answers[3]
    assert (await api.get_wallet(one["lago_id"]))["balance_cents"] == 0
    assert (await api.get_wallet(two["lago_id"]))["balance_cents"] == 400
    # the same batch again: every answer is the recorded one, nothing moves
    async with wallets.database.sessionmaker() as session:
        again = await service.apply_many(session, [(org, a), (org, b), (org, c)], clock.now())
        await session.commit()
    assert again == answers[:3]
    assert (await api.get_wallet(two["lago_id"]))["balance_cents"] == 400


async def _events_of(wallets, event_type: str, aggregate_id) -> list[dict]:
    async with wallets.database.sessionmaker() as session:
        return [row.envelope for row in (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = :t AND message_key = :k ORDER BY position"),
            {"t": event_type, "k": str(aggregate_id)})).all()]


async def test_a_batch_publishes_depletion_only_for_the_wallets_it_empties(api, wallets, org, clock):
    """`apply_many` reads a wallet again after its debit only where a depletion or a recharge may follow:
    the wallet the batch empties publishes `credits.balance_depleted` (once), the one whose ongoing balance
    (balance minus unbilled usage) reaches zero `wallet.depleted_ongoing_balance`, the one left with credits
    (and usage below them) neither."""
    emptied, drained, left = await api.customer(), await api.customer(), await api.customer()
    emptied_wallet = await api.wallet(emptied, granted_credits="5")
    drained_wallet = await api.wallet(drained, granted_credits="10")
    left_wallet = await api.wallet(left, granted_credits="10")
    async with wallets.database.sessionmaker() as session:  # 600 cents of unbilled usage, as the refresh records it
        await session.execute(text("UPDATE wallets SET ongoing_usage_balance_cents = 600 WHERE id = :w"),
                              {"w": uuid.UUID(drained_wallet["lago_id"])})
        await session.commit()
    async with wallets.database.sessionmaker() as session:
        answers = await service.apply_many(session, [
            (org, request(emptied, ("subscription", None, 300))), (org, request(left, ("subscription", None, 100))),
            (org, request(emptied, ("subscription", None, 300))), (org, request(drained, ("subscription", None, 400))),
            (org, request(emptied, ("subscription", None, 300)))], clock.now())
        await session.commit()
    assert [a.applied_amount_cents for a in answers] == [300, 100, 200, 400, 0]
    depleted = await _events_of(wallets, "credits.balance_depleted", emptied_wallet["lago_id"])
    assert len(depleted) == 1 and depleted[0]["data"]["wallet"]["balance_cents"] == 0
    ongoing = await _events_of(wallets, "wallet.depleted_ongoing_balance", drained_wallet["lago_id"])
    assert len(ongoing) == 1 and ongoing[0]["data"]["wallet"]["balance_cents"] == 600
    for wallet in (drained_wallet, left_wallet):
        assert await _events_of(wallets, "credits.balance_depleted", wallet["lago_id"]) == []
    assert await _events_of(wallets, "wallet.depleted_ongoing_balance", left_wallet["lago_id"]) == []
    # the emptied wallet had no unbilled usage: its ongoing balance reached zero with it, once
    assert len(await _events_of(wallets, "wallet.depleted_ongoing_balance", emptied_wallet["lago_id"])) == 1
