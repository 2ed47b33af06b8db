"""Wallets, credit blocks (inbound wallet transactions), the double-entry ledger and its invariants,
the customers projection, credit applications (the invoice saga's key) and the manual-credit audit.

The ledger's rules live in the database (see `wallets/ledger/models.py`): entries are append-only,
each movement sums to zero at commit, and a `wallet` entry moves its wallet's balances and its
block's remaining figures in the same statement, which `CHECK`s keep at or above zero.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TRIGGERS = [
    # append-only: an entry, once written, is never changed nor removed
    """
    CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger entries are append-only (% refused)', TG_OP USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()
    """,
    """
    CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()
    """,
    # a wallet entry moves its wallet's balances and its block's remaining figures in the same statement;
    # the CHECKs on both tables refuse anything below zero
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
    # each movement balances (in cents and in credits) when its transaction commits
    """
    CREATE FUNCTION ledger_movement_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        cents numeric;
        credit_sum numeric;
    BEGIN
        SELECT sum(amount_cents), sum(credits) INTO cents, credit_sum
        FROM ledger_entries WHERE movement_id = NEW.movement_id;
        IF cents <> 0 OR credit_sum <> 0 THEN
            RAISE EXCEPTION 'ledger movement % does not balance (% cents, % credits)', NEW.movement_id, cents,
                credit_sum USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_movement_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_movement_balanced()
    """,
    # balances start at zero and change only through the ledger (the trigger above runs one level down)
    """
    CREATE FUNCTION wallets_balance_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.balance_cents <> 0 OR NEW.credits_balance <> 0 OR NEW.consumed_credits <> 0
               OR NEW.consumed_amount_cents <> 0 THEN
                RAISE EXCEPTION 'a wallet starts empty: credits arrive through the ledger'
                    USING ERRCODE = 'check_violation';
            END IF;
        ELSIF pg_trigger_depth() < 2 AND (NEW.balance_cents, NEW.credits_balance, NEW.consumed_credits,
                NEW.consumed_amount_cents) IS DISTINCT FROM (OLD.balance_cents, OLD.credits_balance,
                OLD.consumed_credits, OLD.consumed_amount_cents) THEN
            RAISE EXCEPTION 'wallet balances change only through ledger entries' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER wallets_balance_guard BEFORE INSERT OR UPDATE ON wallets
    FOR EACH ROW EXECUTE FUNCTION wallets_balance_guard()
    """,
    """
    CREATE FUNCTION wallet_blocks_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.is_block AND (NEW.remaining_cents IS DISTINCT FROM 0 OR NEW.remaining_credits IS DISTINCT FROM 0)
               OR NOT NEW.is_block AND (NEW.remaining_cents IS NOT NULL OR NEW.remaining_credits IS NOT NULL) THEN
                RAISE EXCEPTION 'a credit block starts empty: credits arrive through the ledger'
                    USING ERRCODE = 'check_violation';
            END IF;
        ELSIF pg_trigger_depth() < 2 AND (NEW.remaining_cents, NEW.remaining_credits, NEW.is_block)
                IS DISTINCT FROM (OLD.remaining_cents, OLD.remaining_credits, OLD.is_block) THEN
            RAISE EXCEPTION 'what is left of a credit block changes only through ledger entries'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER wallet_blocks_guard BEFORE INSERT OR UPDATE ON wallet_transactions
    FOR EACH ROW EXECUTE FUNCTION wallet_blocks_guard()
    """,
]

DROP_TRIGGERS = [
    "DROP TRIGGER IF EXISTS wallet_blocks_guard ON wallet_transactions",
    "DROP FUNCTION IF EXISTS wallet_blocks_guard()",
    "DROP TRIGGER IF EXISTS wallets_balance_guard ON wallets",
    "DROP FUNCTION IF EXISTS wallets_balance_guard()",
    "DROP TRIGGER IF EXISTS ledger_movement_balanced ON ledger_entries",
    "DROP FUNCTION IF EXISTS ledger_movement_balanced()",
    "DROP TRIGGER IF EXISTS ledger_entry_apply ON ledger_entries",
    "DROP FUNCTION IF EXISTS ledger_entry_apply()",
    "DROP TRIGGER IF EXISTS ledger_entries_no_truncate ON ledger_entries",
    "DROP TRIGGER IF EXISTS ledger_entries_append_only ON ledger_entries",
    "DROP FUNCTION IF EXISTS ledger_entries_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "credit_applications",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("lago_invoice_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("applied_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("released_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("answer", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('applied', 'released')", name=op.f("ck_credit_applications_status_known")),
        sa.CheckConstraint(
            "applied_amount_cents >= 0 AND released_amount_cents >= 0",
            name=op.f("ck_credit_applications_amounts_not_negative"),
        ),
        sa.PrimaryKeyConstraint("organization_id", "lago_invoice_id", name=op.f("pk_credit_applications")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(
        "uq_customers_organization_external_id",
        "customers",
        ["organization_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "wallets",
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate_amount", sa.Numeric(precision=30, scale=12), nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default="50", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="active", nullable=False),
        sa.Column("expiration_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invoice_requires_successful_payment", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("applies_to_fee_types", postgresql.ARRAY(sa.String(length=50)), server_default="{}", nullable=False),
        sa.Column(
            "applies_to_metric_codes", postgresql.ARRAY(sa.String(length=255)), server_default="{}", nullable=False
        ),
        sa.Column("paid_top_up_min_amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("paid_top_up_max_amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "recurring_transaction_rules", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("purchase_order_number", sa.String(length=255), nullable=True),
        sa.Column("ongoing_usage_balance_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("credits_balance", sa.Numeric(precision=30, scale=5), server_default="0", nullable=False),
        sa.Column("consumed_credits", sa.Numeric(precision=30, scale=5), server_default="0", nullable=False),
        sa.Column("consumed_amount_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_balance_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_consumed_credit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('active', 'terminated')", name=op.f("ck_wallets_status_known")),
        sa.CheckConstraint("balance_cents >= 0", name=op.f("ck_wallets_balance_not_negative")),
        sa.CheckConstraint("credits_balance >= 0", name=op.f("ck_wallets_credits_not_negative")),
        sa.CheckConstraint("priority BETWEEN 1 AND 50", name=op.f("ck_wallets_priority_range")),
        sa.CheckConstraint("rate_amount > 0", name=op.f("ck_wallets_rate_positive")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_wallets_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallets")),
    )
    op.create_index(
        "ix_wallets_expiration",
        "wallets",
        ["expiration_at"],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_wallets_organization_external_customer",
        "wallets",
        ["organization_id", "external_customer_id"],
        unique=False,
    )
    op.create_index(op.f("ix_wallets_organization_id"), "wallets", ["organization_id"], unique=False)
    op.create_index("uq_wallets_customer_code", "wallets", ["organization_id", "customer_id", "code"], unique=True)
    op.create_table(
        "wallet_transactions",
        sa.Column("wallet_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("transaction_type", sa.String(length=10), nullable=False),
        sa.Column("transaction_status", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=20), server_default="manual", nullable=False),
        sa.Column("credit_amount", sa.Numeric(precision=30, scale=5), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("remaining_credits", sa.Numeric(precision=30, scale=5), nullable=True),
        sa.Column("remaining_cents", sa.BigInteger(), nullable=True),
        sa.Column("is_block", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("category", sa.String(length=10), nullable=True),
        sa.Column("priority", sa.SmallInteger(), server_default="50", nullable=False),
        sa.Column("expiration_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("invoice_requires_successful_payment", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("lago_invoice_id", sa.UUID(), nullable=True),
        sa.Column("lago_voided_invoice_id", sa.UUID(), nullable=True),
        sa.Column("purchase_order_number", sa.String(length=255), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "category IS NULL OR category IN ('granted', 'purchased')",
            name=op.f("ck_wallet_transactions_category_known"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'settled', 'failed')", name=op.f("ck_wallet_transactions_status_known")
        ),
        sa.CheckConstraint(
            "transaction_status IN ('purchased', 'granted', 'voided', 'invoiced')",
            name=op.f("ck_wallet_transactions_transaction_status_known"),
        ),
        sa.CheckConstraint(
            "transaction_type IN ('inbound', 'outbound')", name=op.f("ck_wallet_transactions_type_known")
        ),
        sa.CheckConstraint(
            "amount_cents >= 0 AND credit_amount >= 0", name=op.f("ck_wallet_transactions_amounts_not_negative")
        ),
        sa.CheckConstraint("remaining_cents >= 0", name=op.f("ck_wallet_transactions_remaining_cents_not_negative")),
        sa.CheckConstraint(
            "remaining_credits >= 0", name=op.f("ck_wallet_transactions_remaining_credits_not_negative")
        ),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallets.id"], name=op.f("fk_wallet_transactions_wallet_id_wallets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_transactions")),
    )
    op.create_index(
        "ix_wallet_transactions_customer_history",
        "wallet_transactions",
        ["organization_id", "customer_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_wallet_transactions_expiring",
        "wallet_transactions",
        ["expiration_at"],
        unique=False,
        postgresql_where=sa.text(
            "is_block AND (remaining_credits > 0 OR remaining_cents > 0) AND expiration_at IS NOT NULL"
        ),
    )
    op.create_index(
        "ix_wallet_transactions_live_blocks",
        "wallet_transactions",
        ["wallet_id"],
        unique=False,
        postgresql_where=sa.text("is_block AND (remaining_credits > 0 OR remaining_cents > 0)"),
    )
    op.create_index(
        op.f("ix_wallet_transactions_organization_id"), "wallet_transactions", ["organization_id"], unique=False
    )
    op.create_index(
        "ix_wallet_transactions_wallet_created", "wallet_transactions", ["wallet_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("movement_id", sa.UUID(), nullable=False),
        sa.Column("wallet_id", sa.UUID(), nullable=False),
        sa.Column("account", sa.String(length=20), nullable=False),
        sa.Column("block_id", sa.UUID(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("credits", sa.Numeric(precision=30, scale=5), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(account = 'wallet') = (block_id IS NOT NULL)", name=op.f("ck_ledger_entries_wallet_entries_name_a_block")
        ),
        sa.CheckConstraint(
            "account IN ('wallet', 'granted', 'purchased', 'consumed', 'voided', 'expired')",
            name=op.f("ck_ledger_entries_account_known"),
        ),
        sa.ForeignKeyConstraint(
            ["block_id"], ["wallet_transactions.id"], name=op.f("fk_ledger_entries_block_id_wallet_transactions")
        ),
        sa.ForeignKeyConstraint(
            ["movement_id"], ["wallet_transactions.id"], name=op.f("fk_ledger_entries_movement_id_wallet_transactions")
        ),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallets.id"], name=op.f("fk_ledger_entries_wallet_id_wallets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index("ix_ledger_entries_block", "ledger_entries", ["block_id"], unique=False)
    op.create_index("ix_ledger_entries_movement", "ledger_entries", ["movement_id"], unique=False)
    op.create_index("ix_ledger_entries_wallet", "ledger_entries", ["wallet_id"], unique=False)
    op.create_table(
        "manual_credit_audits",
        sa.Column("wallet_transaction_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["wallet_transaction_id"],
            ["wallet_transactions.id"],
            name=op.f("fk_manual_credit_audits_wallet_transaction_id_wallet_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manual_credit_audits")),
    )
    op.create_index(
        op.f("ix_manual_credit_audits_organization_id"), "manual_credit_audits", ["organization_id"], unique=False
    )
    for statement in TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_TRIGGERS:
        op.execute(statement)
    op.drop_index(op.f("ix_manual_credit_audits_organization_id"), table_name="manual_credit_audits")
    op.drop_table("manual_credit_audits")
    op.drop_index("ix_ledger_entries_wallet", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_movement", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_block", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_wallet_transactions_wallet_created", table_name="wallet_transactions")
    op.drop_index(op.f("ix_wallet_transactions_organization_id"), table_name="wallet_transactions")
    op.drop_index(
        "ix_wallet_transactions_live_blocks",
        table_name="wallet_transactions",
        postgresql_where=sa.text("is_block AND (remaining_credits > 0 OR remaining_cents > 0)"),
    )
    op.drop_index(
        "ix_wallet_transactions_expiring",
        table_name="wallet_transactions",
        postgresql_where=sa.text(
            "is_block AND (remaining_credits > 0 OR remaining_cents > 0) AND expiration_at IS NOT NULL"
        ),
    )
    op.drop_index("ix_wallet_transactions_customer_history", table_name="wallet_transactions")
    op.drop_table("wallet_transactions")
    op.drop_index("uq_wallets_customer_code", table_name="wallets")
    op.drop_index(op.f("ix_wallets_organization_id"), table_name="wallets")
    op.drop_index("ix_wallets_organization_external_customer", table_name="wallets")
    op.drop_index("ix_wallets_expiration", table_name="wallets", postgresql_where=sa.text("status = 'active'"))
    op.drop_table("wallets")
    op.drop_index(
        "uq_customers_organization_external_id", table_name="customers", postgresql_where=sa.text("deleted_at IS NULL")
    )
    op.drop_table("customers")
    op.drop_table("credit_applications")
