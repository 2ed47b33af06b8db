"""The provider's order of a payment (`provider_order_id`): Cashfree's payment links are paid through orders that
Cashfree creates (`CFPay_…`), and its dispute webhooks name the order, not the link. The order id is written once,
from the link's `PAYMENT_LINK_EVENT`, so a dispute finds its payment; one order is one payment per connection.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("provider_order_id", sa.String(255), nullable=True))
    op.create_index("uq_payments_provider_order_id", "payments", ["payment_provider_id", "provider_order_id"],
                    unique=True, postgresql_where=sa.text("provider_order_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_payments_provider_order_id", table_name="payments")
    op.drop_column("payments", "provider_order_id")
