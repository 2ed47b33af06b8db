"""The ledger's balances move once per statement: a statement-level trigger over the inserted entries.

Migration 0004's `ledger_entry_apply` ran once per wallet entry: two `UPDATE`s (the wallet, the
block) per row, so a batch of 200 credit applications ran 400 of each inside its `INSERT`. This
revision replaces it with `ledger_entries_apply`, an `AFTER INSERT … FOR EACH STATEMENT` trigger that
reads the statement's entries from its transition table and moves each wallet and each block once,
by the sum of their entries. The rules do not change: the balances still move in the statement that
writes the entries (so nothing can see entries without their balances), the same `CHECK`s refuse a
wallet or a block below zero after the statement, an entry naming no wallet or a block of another
wallet fails the statement, and the deferred per-movement balance check is untouched.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UPGRADE = [
    "DROP TRIGGER ledger_entry_apply ON ledger_entries",
    "DROP FUNCTION ledger_entry_apply()",
    """
    CREATE FUNCTION ledger_entries_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        named integer;
        moved integer;
    BEGIN
        SELECT count(DISTINCT wallet_id) INTO named FROM inserted_entries WHERE account = 'wallet';
        IF named = 0 THEN
            RETURN NULL;
        END IF;
        UPDATE wallets w SET
            balance_cents = w.balance_cents + s.cents,
            credits_balance = w.credits_balance + s.credits,
            consumed_amount_cents = w.consumed_amount_cents - s.consumed_cents,
            consumed_credits = w.consumed_credits - s.consumed_credits,
            last_consumed_credit_at = coalesce(s.consumed_at, w.last_consumed_credit_at),
            last_balance_sync_at = coalesce(s.synced_at, w.last_balance_sync_at)
        FROM (
            SELECT wallet_id, sum(amount_cents) AS cents, sum(credits) AS credits,
                   coalesce(sum(amount_cents) FILTER (WHERE kind IN ('consumption', 'reversal')), 0)
                       AS consumed_cents,
                   coalesce(sum(credits) FILTER (WHERE kind IN ('consumption', 'reversal')), 0) AS consumed_credits,
                   max(created_at) FILTER (WHERE kind = 'consumption') AS consumed_at,
                   max(created_at) FILTER (WHERE kind IN ('grant', 'purchase')) AS synced_at
            FROM inserted_entries WHERE account = 'wallet' GROUP BY wallet_id
        ) s
        WHERE w.id = s.wallet_id;
        GET DIAGNOSTICS moved = ROW_COUNT;
        IF moved <> named THEN
            RAISE EXCEPTION 'a ledger entry names no wallet' USING ERRCODE = 'foreign_key_violation';
        END IF;
        SELECT count(*) INTO named
        FROM (SELECT DISTINCT block_id, wallet_id FROM inserted_entries WHERE account = 'wallet') pairs;
        UPDATE wallet_transactions t SET
            remaining_cents = t.remaining_cents + s.cents,
            remaining_credits = t.remaining_credits + s.credits
        FROM (
            SELECT block_id, wallet_id, sum(amount_cents) AS cents, sum(credits) AS credits
            FROM inserted_entries WHERE account = 'wallet' GROUP BY block_id, wallet_id
        ) s
        WHERE t.id = s.block_id AND t.is_block AND t.wallet_id = s.wallet_id;
        GET DIAGNOSTICS moved = ROW_COUNT;
        IF moved <> named THEN
            RAISE EXCEPTION 'a ledger entry names no credit block of its wallet'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER ledger_entries_apply AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS inserted_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_apply()
    """,
]

# migration 0004's per-row trigger, as it was
DOWNGRADE = [
    "DROP TRIGGER ledger_entries_apply ON ledger_entries",
    "DROP FUNCTION ledger_entries_apply()",
    """
    CREATE FUNCTION ledger_entry_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE wallets SET
            balance_cents = balance_cents + NEW.amount_cents,
            credits_balance = credits_balance + NEW.credits,
            consumed_amount_cents = consumed_amount_cents
                - CASE WHEN NEW.kind IN ('consumption', 'reversal') THEN NEW.amount_cents ELSE 0 END,
            consumed_credits = consumed_credits
                - CASE WHEN NEW.kind IN ('consumption', 'reversal') THEN NEW.credits ELSE 0 END,
            last_consumed_credit_at = CASE WHEN NEW.kind = 'consumption' THEN NEW.created_at
                                           ELSE last_consumed_credit_at END,
            last_balance_sync_at = CASE WHEN NEW.kind IN ('grant', 'purchase') THEN NEW.created_at
                                        ELSE last_balance_sync_at END
        WHERE id = NEW.wallet_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ledger entry % names no wallet', NEW.id USING ERRCODE = 'foreign_key_violation';
        END IF;
        UPDATE wallet_transactions SET
            remaining_cents = remaining_cents + NEW.amount_cents,
            remaining_credits = remaining_credits + NEW.credits
        WHERE id = NEW.block_id AND is_block AND wallet_id = NEW.wallet_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ledger entry % names no credit block of its wallet', NEW.id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER ledger_entry_apply AFTER INSERT ON ledger_entries
    FOR EACH ROW WHEN (NEW.account = 'wallet') EXECUTE FUNCTION ledger_entry_apply()
    """,
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
