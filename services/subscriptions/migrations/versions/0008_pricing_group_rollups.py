"""Rollups keyed by pricing group too (Lago's `pricing_group_keys`, alias `grouped_by`).

`usage_rollups` and `usage_unique_values` get `pricing_group`: the event's values for the pricing
group keys of the charges on its metric, as canonical JSON ('' when no charge groups), and it
joins their primary keys. Existing rows keep '': events received before this revision are in the
group where every key is null (the raw events are not re-read).

Downgrade folds each bucket's pricing groups back into one row: sums add up, the maximum and the
latest value are taken across groups, and a unique value's state is the one its latest event (by
timestamp, then id) decided, from which the bucket's unique count is recounted.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUCKET = ("subscription_id", "code", "period_start", "group_key")


def upgrade() -> None:
    for table, tail in (("usage_rollups", ()), ("usage_unique_values", ("value",))):
        op.add_column(table, sa.Column("pricing_group", sa.Text(), server_default="", nullable=False))
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, [*BUCKET, "pricing_group", *tail])


def downgrade() -> None:
    op.execute("""
        CREATE TEMPORARY TABLE folded_values AS
        SELECT DISTINCT ON (subscription_id, code, period_start, group_key, value)
               subscription_id, code, period_start, group_key, value, present, last_at, last_event_id
        FROM usage_unique_values WHERE (subscription_id, code, period_start, group_key) IN (
            SELECT subscription_id, code, period_start, group_key FROM usage_unique_values WHERE pricing_group <> '')
        ORDER BY subscription_id, code, period_start, group_key, value, last_at DESC, last_event_id DESC
    """)
    op.execute("""
        DELETE FROM usage_unique_values WHERE (subscription_id, code, period_start, group_key) IN (
            SELECT subscription_id, code, period_start, group_key FROM folded_values)
    """)
    op.execute("""
        INSERT INTO usage_unique_values (subscription_id, code, period_start, group_key, pricing_group, value,
                                         present, last_at, last_event_id)
        SELECT subscription_id, code, period_start, group_key, '', value, present, last_at, last_event_id
        FROM folded_values
    """)
    op.execute("""
        CREATE TEMPORARY TABLE folded_rollups AS
        SELECT subscription_id, code, period_start, group_key, min(organization_id::text)::uuid AS organization_id,
               sum(events_count) AS events_count, sum(value_sum) AS value_sum, max(value_max) AS value_max,
               (array_agg(latest_value ORDER BY latest_at DESC) FILTER (WHERE latest_at IS NOT NULL))[1]
                   AS latest_value,
               max(latest_at) AS latest_at, sum(weighted_moment) AS weighted_moment,
               sum(unique_count) AS unique_count, sum(precise_sum) AS precise_sum
        FROM usage_rollups WHERE (subscription_id, code, period_start, group_key) IN (
            SELECT subscription_id, code, period_start, group_key FROM usage_rollups WHERE pricing_group <> '')
        GROUP BY subscription_id, code, period_start, group_key
    """)
    op.execute("""
        UPDATE folded_rollups r SET unique_count = (
            SELECT count(*) FROM usage_unique_values v
            WHERE (v.subscription_id, v.code, v.period_start, v.group_key)
                  = (r.subscription_id, r.code, r.period_start, r.group_key) AND v.present)
        WHERE EXISTS (SELECT FROM usage_unique_values v
                      WHERE (v.subscription_id, v.code, v.period_start, v.group_key)
                            = (r.subscription_id, r.code, r.period_start, r.group_key))
    """)
    op.execute("""
        DELETE FROM usage_rollups WHERE (subscription_id, code, period_start, group_key) IN (
            SELECT subscription_id, code, period_start, group_key FROM folded_rollups)
    """)
    op.execute("""
        INSERT INTO usage_rollups (subscription_id, code, period_start, group_key, pricing_group, organization_id,
                                   events_count, value_sum, value_max, latest_value, latest_at, weighted_moment,
                                   unique_count, precise_sum)
        SELECT subscription_id, code, period_start, group_key, '', organization_id, events_count, value_sum,
               value_max, latest_value, latest_at, weighted_moment, unique_count, precise_sum
        FROM folded_rollups
    """)
    op.execute("DROP TABLE folded_values, folded_rollups")
    for table, tail in (("usage_unique_values", ("value",)), ("usage_rollups", ())):
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.drop_column(table, "pricing_group")
        op.create_primary_key(f"pk_{table}", table, [*BUCKET, *tail])
