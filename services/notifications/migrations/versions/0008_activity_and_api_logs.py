"""Activity logs and API logs (Lago's `/activity_logs`, `/api_logs`), kept `*_log_retention_days`.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity_logs",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organization_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("activity_type", sa.String(200), nullable=False),
        sa.Column("activity_source", sa.String(20), nullable=False),
        sa.Column("activity_object", JSONB),
        sa.Column("activity_object_changes", JSONB),
        sa.Column("user_email", sa.String(320)),
        sa.Column("resource_id", sa.String(200), nullable=False),
        sa.Column("resource_type", sa.String(100), nullable=False),
        sa.Column("external_customer_id", sa.String(255)),
        sa.Column("external_subscription_id", sa.String(255)),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("activity_source IN ('api', 'front', 'system')", name="ck_activity_logs_source"),
    )
    op.create_index("ix_activity_logs_organization_logged", "activity_logs", ["organization_id", "logged_at"])
    op.create_index("ix_activity_logs_logged", "activity_logs", ["logged_at"])
    op.create_table(
        "api_logs",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("organization_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("service", sa.String(50), nullable=False),
        sa.Column("api_version", sa.String(10), nullable=False),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("principal", sa.Text()),
        sa.Column("http_method", sa.String(10), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("request_path", sa.Text(), nullable=False),
        sa.Column("request_origin", sa.Text(), nullable=False),
        sa.Column("request_body", sa.Text(), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("http_status BETWEEN 100 AND 599", name="ck_api_logs_status"),
    )
    op.create_index("ix_api_logs_organization_logged", "api_logs", ["organization_id", "logged_at"])
    op.create_index("ix_api_logs_logged", "api_logs", ["logged_at"])
    op.create_index("uq_api_logs_organization_request", "api_logs", ["organization_id", "request_id"], unique=True)


def downgrade() -> None:
    op.drop_table("api_logs")
    op.drop_table("activity_logs")
