"""Identifiers: UUIDv7 (time-ordered) for rows and events."""

from __future__ import annotations

import uuid

from uuid_utils.compat import uuid7 as _uuid7


def uuid7() -> uuid.UUID:
    return _uuid7()


def parse_uuid(value: str | uuid.UUID | None) -> uuid.UUID | None:
    """An id from a path or a query: None when it is missing or malformed (a malformed id names nothing,
    so the caller answers 404, never 500)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value) if value else None
    except (ValueError, TypeError, AttributeError):
        return None
