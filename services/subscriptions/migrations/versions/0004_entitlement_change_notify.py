"""Tell every replica when an entitlement check's inputs change, so it can keep them in memory.

Row triggers on customers, subscriptions, customer entitlement overrides and grace periods send
the customer's id on the `invora_entitlements` channel; changes to the plans' entitlements send
`*` (every customer). PostgreSQL delivers a NOTIFY only when its transaction commits, and folds
identical payloads of one transaction into one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CUSTOMER_TABLES = ("subscriptions", "customer_entitlement_overrides", "grace_periods")


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION notify_entitlements_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'plan_entitlements' THEN
                PERFORM pg_notify('invora_entitlements', '*');
            ELSIF TG_TABLE_NAME = 'customers' THEN
                IF TG_OP = 'DELETE' THEN
                    PERFORM pg_notify('invora_entitlements', OLD.id::text);
                ELSE
                    PERFORM pg_notify('invora_entitlements', NEW.id::text);
                END IF;
            ELSIF TG_OP = 'DELETE' THEN
                PERFORM pg_notify('invora_entitlements', OLD.customer_id::text);
            ELSE
                PERFORM pg_notify('invora_entitlements', NEW.customer_id::text);
                IF TG_OP = 'UPDATE' AND OLD.customer_id IS DISTINCT FROM NEW.customer_id THEN
                    PERFORM pg_notify('invora_entitlements', OLD.customer_id::text);
                END IF;
            END IF;
            RETURN NULL;
        END $$
    """)
    for table in ("customers", "plan_entitlements", *CUSTOMER_TABLES):
        op.execute(f"CREATE TRIGGER {table}_entitlements_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION notify_entitlements_changed()")


def downgrade() -> None:
    for table in ("customers", "plan_entitlements", *CUSTOMER_TABLES):
        op.execute(f"DROP TRIGGER {table}_entitlements_changed ON {table}")
    op.execute("DROP FUNCTION notify_entitlements_changed()")
