"""Recurring (interval) top-ups: due times, once per interval whatever the passes, fixed and target rules."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from wallets.transactions.recurring import latest_due, nth_due, run_due_pass

ANCHOR = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


def test_due_times_clamp_to_the_month_s_last_day():
    assert nth_due(ANCHOR, "monthly", 1) == datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
    assert nth_due(ANCHOR, "monthly", 2) == datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
    assert nth_due(ANCHOR, "quarterly", 1) == datetime(2026, 4, 30, 9, 0, tzinfo=UTC)
    assert nth_due(ANCHOR, "yearly", 1) == datetime(2027, 1, 31, 9, 0, tzinfo=UTC)
    assert nth_due(ANCHOR, "weekly", 2) == ANCHOR + timedelta(weeks=2)


@settings(deadline=None)
@given(st.sampled_from(["weekly", "monthly", "quarterly", "semiannual", "yearly"]),
       st.integers(0, 4000).map(lambda hours: ANCHOR + timedelta(hours=hours * 7)))
def test_latest_due_is_the_last_due_time_not_after_now(interval, now):
    due = latest_due(ANCHOR, interval, now)
    if due is None:
        assert now < nth_due(ANCHOR, interval, 1)
        return
    assert ANCHOR < due <= now
    n = next(k for k in range(1, 1000) if nth_due(ANCHOR, interval, k) == due)
    assert nth_due(ANCHOR, interval, n + 1) > now


async def test_an_interval_rule_tops_up_once_per_interval(api, wallets, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer, granted_credits="1", recurring_transaction_rules=[
        {"trigger": "interval", "interval": "weekly", "granted_credits": "5",
         "started_at": clock.now().isoformat()}])
    sessionmaker = wallets.database.sessionmaker

    async def balance_after_pass() -> str:  # passes see every wallet of the module: look at this one
        await run_due_pass(sessionmaker, clock.now())
        return (await api.get_wallet(wallet["lago_id"]))["credits_balance"]

    assert await balance_after_pass() == "1.0"  # not due yet
    clock.advance(days=7)
    assert await balance_after_pass() == "6.0"
    assert await balance_after_pass() == "6.0"  # the same interval: once
    clock.advance(days=3)
    assert await balance_after_pass() == "6.0"
    clock.advance(days=15)  # two intervals later: one top-up for the latest, no catch-up
    assert await balance_after_pass() == "11.0"
    history = await api.ok("GET", f"/api/v1/customers/{customer}/balance_history")
    assert [e["description"] for e in history["balance_history"]].count("Recurring top-up") == 2


async def test_a_target_rule_fills_the_gap(api, wallets, clock):
    customer = await api.customer()
    wallet = await api.wallet(customer, granted_credits="3", recurring_transaction_rules=[
        {"trigger": "interval", "interval": "monthly", "method": "target", "target_ongoing_balance": "10",
         "grants_target_top_up": True, "started_at": clock.now().isoformat()}])
    clock.advance(days=32)
    await run_due_pass(wallets.database.sessionmaker, clock.now())
    await run_due_pass(wallets.database.sessionmaker, clock.now())
    assert (await api.get_wallet(wallet["lago_id"]))["credits_balance"] == "10.0"


async def test_intervals_missed_while_down_are_caught_up_once(api, wallets, clock):
    """The service was down for five months: the first pass tops up once (for the latest due time), not five
    times, and the next month tops up once more."""
    customer = await api.customer()
    started = clock.now()
    wallet = await api.wallet(customer, recurring_transaction_rules=[
        {"trigger": "interval", "interval": "monthly", "granted_credits": "10", "started_at": started.isoformat()}])
    clock.set(started + timedelta(days=5 * 31))  # no pass ran meanwhile
    sessionmaker = wallets.database.sessionmaker
    await run_due_pass(sessionmaker, clock.now())
    await run_due_pass(sessionmaker, clock.now())
    assert (await api.get_wallet(wallet["lago_id"]))["credits_balance"] == "10.0"
    clock.advance(days=31)
    await run_due_pass(sessionmaker, clock.now())
    assert (await api.get_wallet(wallet["lago_id"]))["credits_balance"] == "20.0"


async def test_every_wallet_is_reached_batch_after_batch_once_even_with_concurrent_passes(api, wallets, clock):
    """Passes walk all wallets a batch at a time (the first batch used to be all a pass ever saw), and two
    passes at once still top each wallet up once."""
    import asyncio

    customer = await api.customer()
    ids = [(await api.wallet(customer, code=f"w{i}", recurring_transaction_rules=[
        {"trigger": "interval", "interval": "weekly", "granted_credits": "1",
         "started_at": clock.now().isoformat()}]))["lago_id"] for i in range(7)]
    clock.advance(days=7, minutes=1)
    sessionmaker = wallets.database.sessionmaker
    await asyncio.gather(run_due_pass(sessionmaker, clock.now(), limit=2),
                         run_due_pass(sessionmaker, clock.now(), limit=3))
    await run_due_pass(sessionmaker, clock.now(), limit=2)  # whatever SKIP LOCKED left is done now, once
    assert [(await api.get_wallet(i))["credits_balance"] for i in ids] == ["1.0"] * 7
