"""Unit credits (seed 002: "10,000 API calls"): grants of a metric's units and their own double-entry ledger.

`unit_credit_grants` are the blocks (units granted, units left, priority, expiry); `unit_credit_entries`
the append-only ledger: each movement is a grant leg per block and one counter-account leg, and sums
to zero at commit; a grant leg moves its block's `remaining_units` in the same statement, and CHECKs keep
it between zero and what was granted. `unit_credit_applications` makes an invoice's use of a metric's
units idempotent.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UNITS = sa.Numeric(30, 5)

TRIGGERS = [
    """
    CREATE FUNCTION unit_credit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'unit credit entries are append-only (% refused)', TG_OP USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER unit_credit_entries_append_only BEFORE UPDATE OR DELETE ON unit_credit_entries
    FOR EACH ROW EXECUTE FUNCTION unit_credit_entries_append_only()
    """,
    """
    CREATE TRIGGER unit_credit_entries_no_truncate BEFORE TRUNCATE ON unit_credit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION unit_credit_entries_append_only()
    """,
    # a grant leg moves its block in the same statement (the CHECKs refuse below zero or above the grant)
    """
    CREATE FUNCTION unit_credit_entry_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM set_config('invora.unit_ledger', 'on', true);
        UPDATE unit_credit_grants SET remaining_units = remaining_units + NEW.units
        WHERE id = NEW.grant_id AND organization_id = NEW.organization_id;
        PERFORM set_config('invora.unit_ledger', 'off', true);
        IF NOT FOUND THEN
            RAISE EXCEPTION 'unit credit entry % names no grant', NEW.id USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER unit_credit_entry_apply AFTER INSERT ON unit_credit_entries
    FOR EACH ROW WHEN (NEW.account = 'grant') EXECUTE FUNCTION unit_credit_entry_apply()
    """,
    """
    CREATE FUNCTION unit_credit_movement_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        total numeric;
    BEGIN
        SELECT sum(units) INTO total FROM unit_credit_entries WHERE movement_id = NEW.movement_id;
        IF total <> 0 THEN
            RAISE EXCEPTION 'unit credit movement % does not balance (% units)', NEW.movement_id, total
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER unit_credit_movement_balanced AFTER INSERT ON unit_credit_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION unit_credit_movement_balanced()
    """,
    # what is left starts at zero and changes through the ledger only
    """
    CREATE FUNCTION unit_credit_grants_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' AND NEW.remaining_units <> 0 THEN
            RAISE EXCEPTION 'a unit credit grant starts empty' USING ERRCODE = 'check_violation';
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.remaining_units IS DISTINCT FROM OLD.remaining_units
           AND current_setting('invora.unit_ledger', true) IS DISTINCT FROM 'on' THEN
            RAISE EXCEPTION 'remaining units change through the unit ledger only' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER unit_credit_grants_guard BEFORE INSERT OR UPDATE ON unit_credit_grants
    FOR EACH ROW EXECUTE FUNCTION unit_credit_grants_guard()
    """,
]


def upgrade() -> None:
    op.create_table(
        "unit_credit_grants",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("external_customer_id", sa.String(length=255), nullable=False),
        sa.Column("billable_metric_code", sa.String(length=255), nullable=False),
        sa.Column("units", UNITS, nullable=False),
        sa.Column("remaining_units", UNITS, server_default="0", nullable=False),
        sa.Column("priority", sa.SmallInteger(), server_default="50", nullable=False),
        sa.Column("expiration_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="active", nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=2000), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("units > 0", name=op.f("ck_unit_credit_grants_units_positive")),
        sa.CheckConstraint("remaining_units >= 0 AND remaining_units <= units",
                           name=op.f("ck_unit_credit_grants_remaining_within_grant")),
        sa.CheckConstraint("priority BETWEEN 1 AND 50", name=op.f("ck_unit_credit_grants_priority_range")),
        sa.CheckConstraint("status IN ('active', 'voided', 'expired')",
                           name=op.f("ck_unit_credit_grants_status_known")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_unit_credit_grants_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_credit_grants")),
    )
    op.create_index("ix_unit_credit_grants_customer_metric", "unit_credit_grants",
                    ["organization_id", "customer_id", "billable_metric_code"],
                    postgresql_where=sa.text("status = 'active'"))
    op.create_index("ix_unit_credit_grants_expiration", "unit_credit_grants", ["expiration_at"],
                    postgresql_where=sa.text("status = 'active'"))
    op.create_table(
        "unit_credit_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("movement_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("account", sa.String(length=20), nullable=False),
        sa.Column("grant_id", sa.UUID(), nullable=True),
        sa.Column("invoice_id", sa.UUID(), nullable=True),
        sa.Column("units", UNITS, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('grant', 'consumption', 'reversal', 'void', 'expiry')",
                           name=op.f("ck_unit_credit_entries_kind_known")),
        sa.CheckConstraint("account IN ('grant', 'granted', 'consumed', 'voided', 'expired')",
                           name=op.f("ck_unit_credit_entries_account_known")),
        sa.CheckConstraint("(account = 'grant') = (grant_id IS NOT NULL)",
                           name=op.f("ck_unit_credit_entries_grant_leg_names_its_grant")),
        sa.ForeignKeyConstraint(["grant_id"], ["unit_credit_grants.id"],
                                name=op.f("fk_unit_credit_entries_grant_id_unit_credit_grants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_credit_entries")),
    )
    op.create_index("ix_unit_credit_entries_movement", "unit_credit_entries", ["movement_id"])
    op.create_index("ix_unit_credit_entries_invoice", "unit_credit_entries", ["invoice_id"],
                    postgresql_where=sa.text("invoice_id IS NOT NULL"))
    op.create_table(
        "unit_credit_applications",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("billable_metric_code", sa.String(length=255), nullable=False),
        sa.Column("requested_units", UNITS, nullable=False),
        sa.Column("applied_units", UNITS, nullable=False),
        sa.Column("released_units", UNITS, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("applied_units >= 0 AND applied_units <= requested_units",
                           name=op.f("ck_unit_credit_applications_applied_within_request")),
        sa.PrimaryKeyConstraint("organization_id", "invoice_id", "billable_metric_code",
                                name=op.f("pk_unit_credit_applications")),
    )
    for statement in TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("unit_credit_applications")
    op.drop_table("unit_credit_entries")
    op.drop_table("unit_credit_grants")
    for function in ("unit_credit_entries_append_only", "unit_credit_entry_apply", "unit_credit_movement_balanced",
                     "unit_credit_grants_guard"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
