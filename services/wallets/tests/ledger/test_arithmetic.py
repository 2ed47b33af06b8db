"""Property tests of the ledger arithmetic: the consumption order and the cents/credits split."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from wallets.ledger.arithmetic import (
    AppliesTo,
    Block,
    Line,
    allocate_credits,
    allocate_lines,
    consumption_key,
    credits_to_cents,
    in_consumption_order,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WALLETS = [uuid.UUID(int=i) for i in range(1, 4)]
RATES = {WALLETS[0]: Decimal("1"), WALLETS[1]: Decimal("0.37"), WALLETS[2]: Decimal("2.5")}
WALLET_PRIORITY = {WALLETS[0]: 5, WALLETS[1]: 1, WALLETS[2]: 5}


@st.composite
def blocks(draw, max_size: int = 8) -> list[Block]:
    result = []
    for index in range(draw(st.integers(0, max_size))):
        wallet = draw(st.sampled_from(WALLETS))
        credits = Decimal(draw(st.integers(0, 10**7))).scaleb(-draw(st.integers(0, 5)))
        cents = credits_to_cents(credits, RATES[wallet], "EUR")
        result.append(Block(
            id=uuid.UUID(int=1000 + index), wallet_id=wallet, wallet_priority=WALLET_PRIORITY[wallet],
            wallet_created_at=T0 + timedelta(seconds=WALLETS.index(wallet)),
            priority=draw(st.integers(1, 3)),
            expiration_at=draw(st.one_of(st.none(), st.integers(1, 5).map(lambda d: T0 + timedelta(days=d)))),
            category=draw(st.sampled_from(["granted", "purchased"])),
            created_at=T0 + timedelta(minutes=draw(st.integers(0, 5))), remaining_cents=cents,
            remaining_credits=credits, rate=RATES[wallet], currency="EUR",
        ))
    return result


lines = st.lists(st.builds(Line, st.sampled_from(["charge", "subscription", "commitment"]),
                           st.sampled_from([None, "api_calls", "storage"]), st.integers(0, 10**7)), max_size=5)
scopes = st.fixed_dictionaries({w: st.builds(
    AppliesTo, st.frozensets(st.sampled_from(["charge", "subscription"])),
    st.frozensets(st.sampled_from(["api_calls"]))) for w in WALLETS})


@given(blocks(), lines, scopes)
@settings(max_examples=300, deadline=None)
def test_an_application_never_exceeds_what_is_due_nor_what_is_there(bs, ls, applies):
    result = allocate_lines(ls, bs, applies)
    assert result.total_cents == sum(result.applied_per_line)
    for line, applied in zip(ls, result.applied_per_line, strict=True):
        assert 0 <= applied <= line.amount_cents
    for debit in result.debits:
        assert 0 < debit.cents <= debit.block.remaining_cents
        assert 0 <= debit.credits <= debit.block.remaining_credits
        if debit.cents == debit.block.remaining_cents:  # a block emptied in cents is emptied in credits too
            assert debit.credits == debit.block.remaining_credits
    assert len({d.block.id for d in result.debits}) == len(result.debits)


@given(blocks(), lines, scopes)
@settings(max_examples=300, deadline=None)
def test_an_application_takes_as_much_as_it_can(bs, ls, applies):
    """Greedy is complete: a line still due means no block that covers it has cents left."""
    result = allocate_lines(ls, bs, applies)
    taken = {d.block.id: d.cents for d in result.debits}
    for line, applied in zip(ls, result.applied_per_line, strict=True):
        if applied < line.amount_cents:
            for block in bs:
                if applies[block.wallet_id].covers(line):
                    assert block.remaining_cents - taken.get(block.id, 0) == 0


@given(blocks(), lines)
@settings(max_examples=300, deadline=None)
def test_blocks_are_consumed_in_the_documented_order(bs, ls):
    """Every debited block comes before every block left untouched with cents (no restrictions here)."""
    result = allocate_lines(ls, bs, {})
    ordered = in_consumption_order(bs)
    debited = {d.block.id for d in result.debits}
    full = {d.block.id for d in result.debits if d.cents == d.block.remaining_cents}
    positions = [i for i, b in enumerate(ordered) if b.id in debited]
    # debits form a prefix of the blocks with cents, and all but the last one are emptied
    with_cents = [b for b in ordered if b.remaining_cents > 0]
    assert [b.id for b in with_cents[:len(debited)]] == [ordered[i].id for i in positions]
    assert all(b.id in full for b in with_cents[:max(0, len(debited) - 1)])
    assert [d.block.id for d in result.debits] == [ordered[i].id for i in positions]


def test_the_order_is_wallet_priority_then_block_priority_expiry_category_age():
    def block(n: int, **kw) -> Block:
        base = dict(id=uuid.UUID(int=n), wallet_id=WALLETS[0], wallet_priority=5, wallet_created_at=T0, priority=50,
                    expiration_at=None, category="purchased", created_at=T0, remaining_cents=100,
                    remaining_credits=Decimal(1), rate=Decimal(1), currency="EUR")
        return Block(**{**base, **kw})

    expected = [
        block(1, wallet_priority=1, wallet_id=WALLETS[1]),       # a higher-priority wallet first
        block(2, priority=1),                                      # then the block's priority
        block(3, expiration_at=T0 + timedelta(days=1)),            # then the soonest expiry
        block(4, expiration_at=T0 + timedelta(days=2), category="granted"),
        block(5, expiration_at=T0 + timedelta(days=2)),            # granted before purchased
        block(6, category="granted"),                               # never expiring comes after expiring
        block(7, created_at=T0 - timedelta(days=1)),                # then the oldest
        block(8),
    ]
    assert [b.id for b in in_consumption_order(reversed(expected))] == [b.id for b in expected]
    assert consumption_key(expected[0]) < consumption_key(expected[1])


@given(blocks(), st.integers(0, 10**8).map(lambda n: Decimal(n).scaleb(-5)))
@settings(max_examples=300, deadline=None)
def test_a_void_takes_exactly_the_credits_asked_or_everything(bs, credits):
    debits = allocate_credits(credits, bs)
    total = sum((d.credits for d in debits), Decimal(0))
    available = sum((b.remaining_credits for b in bs), Decimal(0))
    assert total == min(credits, available)
    for debit in debits:
        assert 0 <= debit.cents <= debit.block.remaining_cents and debit.credits <= debit.block.remaining_credits


def test_applies_to_restricts_by_fee_type_and_metric():
    scope = AppliesTo(frozenset({"subscription"}), frozenset({"api_calls"}))
    assert scope.covers(Line("subscription", None, 1))
    assert scope.covers(Line("charge", "api_calls", 1))
    assert not scope.covers(Line("charge", "storage", 1))
    assert not scope.covers(Line("commitment", None, 1))
    assert AppliesTo().covers(Line("commitment", None, 1))
