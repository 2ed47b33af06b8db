"""Identifiers: UUIDv7 (time-ordered) for rows and events."""

from __future__ import annotations

import uuid

from uuid_utils.compat import uuid7 as _uuid7


def uuid7() -> uuid.UUID:
    return _uuid7()
