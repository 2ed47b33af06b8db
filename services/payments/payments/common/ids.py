"""Parsing ids from paths and queries: a malformed id is simply not found."""

from __future__ import annotations

import uuid


def parse_uuid(value: str | uuid.UUID | None) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value) if value else None
    except (ValueError, TypeError, AttributeError):
        return None
