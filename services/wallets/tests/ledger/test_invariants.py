"""What the database itself refuses, whatever the code does: the ledger's invariants live in PostgreSQL.

And the reconciliation: clean on a consistent ledger; drift, once forced past the triggers, is found,
logged and counted.
"""

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from wallets.ledger.reconcile import LEDGER_DRIFT, reconcile


async def _wallet_with_credits(api, credits="10"):
    customer = await api.customer()
    wallet = await api.wallet(customer)
    [block] = await api.top_up(wallet["lago_id"], granted_credits=credits)
    return uuid.UUID(wallet["lago_id"]), uuid.UUID(block["lago_id"])


async def _refused(wallets, statement: str, params: dict, match: str) -> None:
    async with wallets.database.sessionmaker() as session:
        with pytest.raises(DBAPIError, match=match):
            await session.execute(text(statement), params)
            await session.commit()


async def test_entries_are_append_only(api, wallets):
    wallet_id, _ = await _wallet_with_credits(api)
    await _refused(wallets, "UPDATE ledger_entries SET amount_cents = 1 WHERE wallet_id = :w", {"w": wallet_id},
                   "append-only")
    await _refused(wallets, "DELETE FROM ledger_entries WHERE wallet_id = :w", {"w": wallet_id}, "append-only")


async def test_balances_change_only_through_entries(api, wallets):
    wallet_id, block_id = await _wallet_with_credits(api)
    await _refused(wallets, "UPDATE wallets SET balance_cents = 99999 WHERE id = :w", {"w": wallet_id},
                   "only through ledger entries")
    await _refused(wallets, "UPDATE wallet_transactions SET remaining_cents = 5 WHERE id = :b", {"b": block_id},
                   "only through ledger entries")


async def test_a_movement_must_balance(api, wallets, org):
    wallet_id, block_id = await _wallet_with_credits(api)
    entry = ("INSERT INTO ledger_entries (organization_id, movement_id, wallet_id, account, block_id, kind, "
             "amount_cents, credits) VALUES (:org, :m, :w, 'wallet', :b, 'grant', 100, 1)")
    await _refused(wallets, entry, {"org": org, "m": block_id, "w": wallet_id, "b": block_id}, "does not balance")


async def test_no_debit_below_zero(api, wallets, org):
    wallet_id, block_id = await _wallet_with_credits(api, "1")
    async with wallets.database.sessionmaker() as session:
        with pytest.raises(DBAPIError, match="not_negative"):
            for account, block, cents, credits in (("wallet", block_id, -101, Decimal("-1.01")),
                                                   ("consumed", None, 101, Decimal("1.01"))):
                await session.execute(text(
                    "INSERT INTO ledger_entries (organization_id, movement_id, wallet_id, account, block_id, kind, "
                    "amount_cents, credits) VALUES (:org, :m, :w, :a, :b, 'consumption', :c, :cr)"),
                    {"org": org, "m": block_id, "w": wallet_id, "a": account, "b": block, "c": cents, "cr": credits})
            await session.commit()
    assert (await api.get_wallet(str(wallet_id)))["balance_cents"] == 100


_ENTRIES = ("INSERT INTO ledger_entries (organization_id, movement_id, wallet_id, account, block_id, kind, "
            "amount_cents, credits) SELECT :org, :m, w, a, b, 'consumption', c, cr FROM unnest("
            "CAST(:wallets AS uuid[]), CAST(:accounts AS varchar[]), CAST(:blocks AS uuid[]), "
            "CAST(:cents AS bigint[]), CAST(:credits AS numeric[])) AS e(w, a, b, c, cr)")


def _movement(org, movement_id, legs):
    """One statement's rows: (wallet, block, cents) wallet legs and, per wallet, the `consumed` leg."""
    rows = [(wallet, "wallet", block, cents) for wallet, block, cents in legs]
    for wallet in dict.fromkeys(wallet for wallet, _, _ in legs):
        rows.append((wallet, "consumed", None, -sum(c for w, _, c in legs if w == wallet)))
    return {"org": org, "m": movement_id, "wallets": [r[0] for r in rows], "accounts": [r[1] for r in rows],
            "blocks": [r[2] for r in rows], "cents": [r[3] for r in rows],
            "credits": [Decimal(r[3]).scaleb(-2) for r in rows]}


async def test_a_statement_of_many_entries_moves_each_wallet_and_block_by_their_sum(api, wallets, org):
    """The balances move once per statement (one trigger over the statement's entries): two debits of one
    block in one statement take both; entries of two wallets move each."""
    first, first_block = await _wallet_with_credits(api, "10")
    second, second_block = await _wallet_with_credits(api, "10")
    async with wallets.database.sessionmaker() as session:
        await session.execute(text(_ENTRIES), _movement(org, first_block, [
            (first, first_block, -300), (first, first_block, -200), (second, second_block, -50)]))
        await session.commit()
    assert (await api.get_wallet(str(first)))["balance_cents"] == 500
    assert (await api.get_wallet(str(first)))["consumed_amount_cents"] == 500
    assert (await api.get_wallet(str(second)))["balance_cents"] == 950


async def test_debits_of_one_statement_together_beyond_the_block_are_refused(api, wallets, org):
    wallet_id, block_id = await _wallet_with_credits(api, "1")
    async with wallets.database.sessionmaker() as session:
        with pytest.raises(DBAPIError, match="not_negative"):
            await session.execute(text(_ENTRIES), _movement(org, block_id, [
                (wallet_id, block_id, -60), (wallet_id, block_id, -60)]))
    assert (await api.get_wallet(str(wallet_id)))["balance_cents"] == 100


async def test_an_entry_naming_another_wallets_block_is_refused(api, wallets, org):
    wallet_id, block_id = await _wallet_with_credits(api, "1")
    other_wallet, _ = await _wallet_with_credits(api, "1")
    async with wallets.database.sessionmaker() as session:
        with pytest.raises(DBAPIError, match="names no credit block of its wallet"):
            await session.execute(text(_ENTRIES), _movement(org, block_id, [
                (wallet_id, block_id, -10), (other_wallet, block_id, -10)]))
    assert (await api.get_wallet(str(wallet_id)))["balance_cents"] == 100
    assert (await api.get_wallet(str(other_wallet)))["balance_cents"] == 100


async def test_reconciliation_is_clean_then_finds_forced_drift(api, wallets):
    wallet_id, _ = await _wallet_with_credits(api)
    async with wallets.database.sessionmaker() as session:
        assert (await reconcile(session)).clean
        # force drift past the guard, as a bad manual fix-up would (then roll it back)
        await session.execute(text("ALTER TABLE wallets DISABLE TRIGGER wallets_balance_guard"))
        await session.execute(text("UPDATE wallets SET balance_cents = balance_cents + 1 WHERE id = :w"),
                              {"w": wallet_id})
        report = await reconcile(session)
        await session.rollback()
    assert [row["id"] for row in report.findings["wallet_balance"]] == [wallet_id]
    assert [row["id"] for row in report.findings["wallet_blocks"]] == [wallet_id]
    assert LEDGER_DRIFT.labels("wallet_balance")._value.get() == 1  # noqa: SLF001
    async with wallets.database.sessionmaker() as session:
        assert (await reconcile(session)).clean
    assert LEDGER_DRIFT.labels("wallet_balance")._value.get() == 0  # noqa: SLF001
