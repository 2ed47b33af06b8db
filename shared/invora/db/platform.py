"""The platform tables every service database has: outbox, aggregate sequences, inbox, idempotency keys,
parked items and the outbox's broker identity.

They are declared as mixins so each service binds them to its own declarative base
(`declare_platform_models(Base)`), and created by the service's first migration through
`create_platform_tables()` (explicit, versioned DDL, not `create_all`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class OutboxMixin:
    __tablename__ = "outbox_events"

    position: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True, nullable=False)
    topic: Mapped[str] = mapped_column(String(200), nullable=False)
    message_key: Mapped[str] = mapped_column(String(200), nullable=False)
    event_type: Mapped[str] = mapped_column(String(200), nullable=False)
    envelope: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()
    )
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        return (
            Index("ix_outbox_events_unpublished", "position", postgresql_where=text("published_at IS NULL")),
            Index("ix_outbox_events_published_at", "published_at"),
        )


class AggregateSequenceMixin:
    __tablename__ = "aggregate_sequences"

    aggregate_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    aggregate_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(BigInteger, nullable=False)


class InboxMixin:
    __tablename__ = "inbox_events"

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        return (Index("ix_inbox_events_processed_at", "processed_at"),)  # pruning (`OutboxRelay`)

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(200), nullable=False)
    topic: Mapped[str] = mapped_column(String(200), nullable=False)
    partition: Mapped[int] = mapped_column(Integer, nullable=False)
    offset: Mapped[int] = mapped_column(BigInteger, nullable=False)
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class IdempotencyKeyMixin:
    __tablename__ = "idempotency_keys"

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # `Principal.fingerprint` of the caller: a key is the caller's own, as Stripe's is the account's
    principal: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # processing | executed | completed
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[list | None] = mapped_column(JSONB)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)


class ParkedItemMixin:
    """An item a background loop set aside after it failed (`invora.parking`)."""

    __tablename__ = "parked_items"

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        return (Index("ix_parked_items_due", "loop", "next_attempt_at"),)

    loop: Mapped[str] = mapped_column(String(100), primary_key=True)
    item_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    group_key: Mapped[str | None] = mapped_column(String(400))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    error: Mapped[str] = mapped_column(Text, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    first_parked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class OutboxBrokerMixin:
    """The cluster id of the broker the outbox was last published to: one row (`invora.outbox.relay`)."""

    __tablename__ = "outbox_broker"

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        return (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False, server_default=text("1"))
    cluster_id: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def declare_platform_models(base: type) -> dict[str, type]:
    """Bind the platform mixins to a service's declarative base."""
    return {
        mixin.__name__.removesuffix("Mixin"): type(mixin.__name__.removesuffix("Mixin"), (mixin, base), {})
        for mixin in (OutboxMixin, AggregateSequenceMixin, InboxMixin, IdempotencyKeyMixin, ParkedItemMixin,
                      OutboxBrokerMixin)
    }


def create_platform_tables() -> None:
    """Version 1 of the platform tables; call from a service's first Alembic revision."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "outbox_events",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("message_key", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("envelope", JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_events_event_id")),
    )
    op.create_index(
        "ix_outbox_events_unpublished", "outbox_events", ["position"], postgresql_where=sa.text("published_at IS NULL")
    )
    op.create_index("ix_outbox_events_published_at", "outbox_events", ["published_at"])
    op.create_table(
        "aggregate_sequences",
        sa.Column("aggregate_type", sa.String(100), nullable=False),
        sa.Column("aggregate_id", sa.String(200), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("aggregate_type", "aggregate_id", name=op.f("pk_aggregate_sequences")),
    )
    op.create_table(
        "inbox_events",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox_events")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("organization_id", UUID(as_uuid=True), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_headers", JSONB(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def create_inbox_pruning_index() -> None:
    """For a service's migration: the index that lets old inbox rows be deleted without a scan."""
    from alembic import op

    op.create_index("ix_inbox_events_processed_at", "inbox_events", ["processed_at"])


def drop_inbox_pruning_index() -> None:
    from alembic import op

    op.drop_index("ix_inbox_events_processed_at", table_name="inbox_events")


def scope_idempotency_keys_to_principal() -> None:
    """For a service's migration: an Idempotency-Key belongs to (organization, principal), not the organization.

    Keys stored before have no principal: they are dropped (they are replay records kept 24 hours, and
    replaying one to a principal that cannot be told was exactly the flaw).
    """
    import sqlalchemy as sa
    from alembic import op

    op.execute("DELETE FROM idempotency_keys")
    op.add_column("idempotency_keys", sa.Column("principal", sa.String(64), nullable=False))
    op.drop_constraint("pk_idempotency_keys", "idempotency_keys", type_="primary")
    op.create_primary_key("pk_idempotency_keys", "idempotency_keys", ["organization_id", "principal", "key"])


def unscope_idempotency_keys() -> None:
    from alembic import op

    op.execute("DELETE FROM idempotency_keys")  # (organization, key) may no longer be unique
    op.drop_constraint("pk_idempotency_keys", "idempotency_keys", type_="primary")
    op.drop_column("idempotency_keys", "principal")
    op.create_primary_key("pk_idempotency_keys", "idempotency_keys", ["organization_id", "key"])


def drop_platform_tables() -> None:
    from alembic import op

    for table in ("idempotency_keys", "inbox_events", "aggregate_sequences", "outbox_events"):
        op.drop_table(table)


def create_parked_items_table() -> None:
    """For a service's migration: the table of items its background loops parked (`invora.parking`)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "parked_items",
        sa.Column("loop", sa.String(100), nullable=False),
        sa.Column("item_key", sa.String(200), nullable=False),
        sa.Column("group_key", sa.String(400), nullable=True),
        sa.Column("organization_id", UUID(as_uuid=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("loop", "item_key", name=op.f("pk_parked_items")),
    )
    op.create_index("ix_parked_items_due", "parked_items", ["loop", "next_attempt_at"])


def drop_parked_items_table() -> None:
    from alembic import op

    op.drop_index("ix_parked_items_due", table_name="parked_items")
    op.drop_table("parked_items")


def create_outbox_broker_table() -> None:
    """For a service's migration: the cluster id of the broker its outbox was last published to (one row), so
    that a relay started after the broker was replaced (while the service was down) republishes what the old
    broker may not have delivered (`invora.outbox.relay`)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "outbox_broker",
        sa.Column("id", sa.SmallInteger(), nullable=False, server_default=sa.text("1")),
        sa.Column("cluster_id", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_broker")),
        sa.CheckConstraint("id = 1", name=op.f("ck_outbox_broker_one_row")),
    )


def drop_outbox_broker_table() -> None:
    from alembic import op

    op.drop_table("outbox_broker")
