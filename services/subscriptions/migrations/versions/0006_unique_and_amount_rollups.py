"""Rollups for the last aggregations that read events: unique count and the events' own amounts.

`usage_unique_values` keeps, per rollup bucket, the state of every distinct value of a unique-count
metric (present unless its latest operation was `remove`), and `usage_rollups.unique_count` the
number present; `usage_rollups.precise_sum` is Σ `precise_total_amount_cents` (dynamic charges).
Existing events are folded in here, so a current-usage read never falls back to them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)
UUID = postgresql.UUID(as_uuid=True)


def _group_key(filters: dict[str, set[str]], properties: dict[str, Any]) -> str:
    # the rollup key of an event as ingestion computed it when this revision was written
    group = {key: str(properties[key]) for key in filters if key in properties and str(properties[key]) in filters[key]}
    return json.dumps(group, sort_keys=True, separators=(",", ":")) if group else ""


def upgrade() -> None:
    op.add_column("usage_rollups", sa.Column("unique_count", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("usage_rollups", sa.Column("precise_sum", sa.Numeric(), server_default="0", nullable=False))
    op.create_table(
        "usage_unique_values",
        sa.Column("subscription_id", UUID, primary_key=True),
        sa.Column("code", sa.String(255), primary_key=True),
        sa.Column("period_start", TIMESTAMPTZ, primary_key=True),
        sa.Column("group_key", sa.String(2000), primary_key=True),
        sa.Column("value", sa.Text(), primary_key=True),
        sa.Column("present", sa.Boolean(), nullable=False),
        # the event that decided `present`: the latest by (timestamp, id)
        sa.Column("last_at", TIMESTAMPTZ, nullable=False),
        sa.Column("last_event_id", UUID, nullable=False),
    )
    bind = op.get_bind()
    bind.execute(sa.text("""
        UPDATE usage_rollups r SET precise_sum = s.total FROM (
            SELECT subscription_id, code, period_start, sum(precise_total_amount_cents) AS total FROM usage_events
            WHERE precise_total_amount_cents IS NOT NULL GROUP BY subscription_id, code, period_start
        ) s
        WHERE r.subscription_id = s.subscription_id AND r.code = s.code AND r.period_start = s.period_start
          AND r.group_key = ''
    """))
    # events of filtered metrics: amounts by filter group, recomputed below from their properties
    metrics = bind.execute(sa.text(
        "SELECT DISTINCT ON (organization_id, code) organization_id, code, body FROM cached_billable_metrics"
        " ORDER BY organization_id, code, fetched_at DESC")).all()
    for organization_id, code, body in metrics:
        filters = {f["key"]: {str(v) for v in f.get("values") or []} for f in body.get("filters") or []}
        unique = body.get("aggregation_type") == "unique_count_agg"
        if not filters and not unique:
            continue
        states: dict[tuple[Any, ...], tuple[Any, Any, bool]] = {}
        amounts: dict[tuple[Any, ...], Any] = {}
        events = bind.execute(sa.text("""
            SELECT subscription_id, period_start, properties, precise_total_amount_cents, timestamp, id
            FROM usage_events WHERE organization_id = :org AND code = :code ORDER BY timestamp, id
        """).execution_options(yield_per=10_000), {"org": organization_id, "code": code})
        for subscription_id, period_start, properties, precise, timestamp, event_id in events:
            bucket = (subscription_id, period_start, _group_key(filters, properties))
            if precise is not None:
                amounts[bucket] = amounts.get(bucket, 0) + precise
            if unique and (field := body.get("field_name")) and properties.get(field) is not None:
                present = str(properties.get("operation_type") or "add") != "remove"
                states[(*bucket, str(properties[field]))] = (timestamp, event_id, present)
        if filters:
            bind.execute(sa.text(
                "UPDATE usage_rollups SET precise_sum = 0 WHERE organization_id = :org AND code = :code"),
                {"org": organization_id, "code": code})
            for (subscription_id, period_start, group), total in amounts.items():
                bind.execute(sa.text("""
                    UPDATE usage_rollups SET precise_sum = :total WHERE subscription_id = :sub AND code = :code
                      AND period_start = :start AND group_key = :group
                """), {"total": total, "sub": subscription_id, "code": code, "start": period_start, "group": group})
        if states:
            bind.execute(sa.text("""
                INSERT INTO usage_unique_values (subscription_id, code, period_start, group_key, value, present,
                                                 last_at, last_event_id)
                VALUES (:sub, :code, :start, :group, :value, :present, :at, :event)
            """), [{"sub": s, "code": code, "start": p, "group": g, "value": v, "present": present, "at": at,
                    "event": event} for (s, p, g, v), (at, event, present) in states.items()])
    bind.execute(sa.text("""
        UPDATE usage_rollups r SET unique_count = u.present FROM (
            SELECT subscription_id, code, period_start, group_key, count(*) FILTER (WHERE present) AS present
            FROM usage_unique_values GROUP BY subscription_id, code, period_start, group_key
        ) u
        WHERE r.subscription_id = u.subscription_id AND r.code = u.code AND r.period_start = u.period_start
          AND r.group_key = u.group_key
    """))


def downgrade() -> None:
    op.drop_table("usage_unique_values")
    op.drop_column("usage_rollups", "precise_sum")
    op.drop_column("usage_rollups", "unique_count")
