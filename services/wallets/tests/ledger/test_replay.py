"""Random grants, expiries, voids, applications and releases against the real service and database: balances
equal a brute-force replay of the documented rules, never go below zero, and the reconciliation stays clean."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invora.events.contracts.invoicing import PrepaidCreditsReleaseRequested, PrepaidCreditsRequested
from wallets.applications import service as applications
from wallets.ledger.reconcile import reconcile
from wallets.transactions import service as transactions
from wallets.transactions.expiry import expire_due
from wallets.wallets import service as wallets_service


@dataclass
class ModelBlock:
    id: uuid.UUID
    wallet: int
    priority: int
    expires_day: int | None
    category: str
    order: int
    left: int  # cents (rate 1 EUR, so 100 cents = 1 credit)
    voided: bool = False


grant = st.tuples(st.just("grant"), st.integers(0, 1), st.integers(1, 5000), st.integers(1, 3),
                  st.one_of(st.none(), st.integers(1, 6)), st.sampled_from(["granted", "purchased"]))
apply_op = st.tuples(st.just("apply"), st.integers(1, 8000))
release_op = st.tuples(st.just("release"), st.integers(0, 20))
void_op = st.tuples(st.just("void"), st.integers(0, 20))
advance = st.tuples(st.just("advance"), st.integers(1, 3))
operations = st.lists(st.one_of(grant, grant, apply_op, apply_op, release_op, void_op, advance), min_size=1,
                      max_size=14)


def model_order(block: ModelBlock, wallet_priority: dict[int, int]) -> tuple:
    """The documented order, written independently of the service: wallet priority (then creation), block
    priority, soonest expiry (never last), granted first, oldest."""
    return (wallet_priority[block.wallet], block.wallet, block.priority,
            block.expires_day if block.expires_day is not None else 10**9, block.category != "granted", block.order)


@given(ops=operations)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_random_histories_match_a_brute_force_replay(api, wallets, org, clock, ops):
    clock.set(clock.now().replace(year=2026, month=3, day=15, hour=10))
    start = clock.now()
    customer = await api.customer()
    created = [await api.wallet(customer, code="w0", priority=2), await api.wallet(customer, code="w1", priority=1)]
    wallet_ids = [uuid.UUID(w["lago_id"]) for w in created]
    wallet_priority = {0: 2, 1: 1}
    model: list[ModelBlock] = []
    applied: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {}  # invoice → [(block, cents)]
    released: set[uuid.UUID] = set()
    invoices: list[uuid.UUID] = []
    sessionmaker = wallets.database.sessionmaker

    def day() -> int:
        return (clock.now() - start).days

    def live(block: ModelBlock) -> bool:
        return not block.voided and (block.expires_day is None or block.expires_day > day())

    for n, op in enumerate(ops):
        async with sessionmaker() as session:
            if op[0] == "grant":
                _, w, cents, priority, expires, category = op
                wallet = await wallets_service.get_row(session, org, wallet_ids[w], lock=True)
                expiry = start + timedelta(days=expires) if expires is not None and expires > day() else None
                row = await transactions.add_block(
                    session, wallet, credits=Decimal(cents).scaleb(-2), category=category, now=clock.now(),
                    description="grant", priority=priority, expiration_at=expiry)
                model.append(ModelBlock(row["id"], w, priority, expires if expiry else None, category, n, cents))
            elif op[0] == "apply":
                invoice = uuid.uuid4()
                invoices.append(invoice)
                answer = await applications.apply(session, org, PrepaidCreditsRequested(
                    lago_invoice_id=invoice, external_customer_id=customer, currency="EUR",
                    lines=[{"fee_type": "subscription", "amount_cents": op[1]}]), clock.now())
                due, taken = op[1], []
                for block in sorted((b for b in model if live(b) and b.left), key=lambda b: model_order(
                        b, wallet_priority)):
                    take = min(due, block.left)
                    block.left -= take
                    due -= take
                    taken.append((block.id, take))
                    if due == 0:
                        break
                applied[invoice] = taken
                assert answer.applied_amount_cents == op[1] - due
            elif op[0] == "release" and invoices:
                invoice = invoices[op[1] % len(invoices)]
                answer = await applications.release(session, org, PrepaidCreditsReleaseRequested(
                    lago_invoice_id=invoice), clock.now())
                if invoice not in released:
                    back = 0
                    for block_id, cents in applied[invoice]:
                        block = next(b for b in model if b.id == block_id)
                        if live(block):
                            block.left += cents
                            back += cents
                    released.add(invoice)
                    assert answer.released_amount_cents == back
            elif op[0] == "void":
                candidates = [b for b in model if not b.voided]
                if candidates:
                    block = candidates[op[1] % len(candidates)]
                    wallet = await wallets_service.get_row(session, org, wallet_ids[block.wallet], lock=True)
                    row = await transactions.repository.by_id(session, org, block.id)
                    await transactions.void_block(session, wallet, row, reason="test", now=clock.now())
                    block.voided, block.left = True, 0
            elif op[0] == "advance":
                clock.advance(days=op[1])
            await session.commit()
        if op[0] == "advance":
            await expire_due(sessionmaker, clock.now())
            for block in model:
                if block.expires_day is not None and block.expires_day <= day():
                    block.left = 0

        for index, wallet_id in enumerate(wallet_ids):
            balance = (await api.get_wallet(str(wallet_id)))["balance_cents"]
            expected = sum(b.left for b in model if b.wallet == index)
            assert balance == expected >= 0, (op, index)
    async with sessionmaker() as session:
        assert (await reconcile(session)).clean
