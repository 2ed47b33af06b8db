"""Building blocks of request bodies, shared by every service.

Every string is checked for what PostgreSQL cannot store (NUL, lone surrogates) and free-form
JSON is bounded in depth, size and number range, so bad input is a field-level 422, never a 500.
Unknown fields are ignored, as Lago does.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict

MAX_CODE = 255
MAX_JSON_DEPTH = 10
MAX_JSON_SIZE = 50_000  # characters of a free-form JSON value (properties, config, metadata…)
MAX_JSON_INTEGER = 2**63


def check_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("invalid_characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("invalid_characters") from exc
    return value


def check_json(value: Any) -> Any:
    """Free-form JSON: storable text, finite numbers, bounded depth and size."""
    size = 0

    def walk(node: Any, depth: int) -> None:
        nonlocal size
        if depth > MAX_JSON_DEPTH:
            raise ValueError("value_is_too_deep")
        if isinstance(node, str):
            check_text(node)
            size += len(node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise ValueError("value_is_invalid")
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > MAX_JSON_INTEGER:
            raise ValueError("value_is_out_of_range")
        elif isinstance(node, dict):
            for key, item in node.items():
                check_text(str(key))
                size += len(str(key))
                walk(item, depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)
        size += 1
        if size > MAX_JSON_SIZE:
            raise ValueError("value_is_too_long")

    walk(value, 0)
    return value


class InputModel(BaseModel):
    """Base of every request body object: unknown fields are ignored (Lago's behaviour)."""

    model_config = ConfigDict(extra="ignore")

    def given(self, field: str) -> bool:
        """Whether the client sent `field` (updates are partial: absent fields keep their value)."""
        return field in self.model_fields_set


def storable_key(value: str) -> bool:
    """Whether a code or id from a URL could name a stored row (else: not found, without asking the database)."""
    if not value or len(value) > MAX_CODE:
        return False
    try:
        check_text(value)
    except ValueError:
        return False
    return True
