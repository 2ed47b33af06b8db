"""An endpoint's event-type filter: normalised as Lago does, matched at fan-out.

Normalisation: each element trimmed and lower-cased, blanks dropped, duplicates removed
(first kept); exactly `["*"]` is stored as NULL. NULL means every event; `[]` means none.
Beyond Lago, `invoice.*` matches every `invoice.` event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from notifications.endpoints.errors import InvalidEventTypes

_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_PREFIX = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.\*$")


def normalize_event_types(value: Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    cleaned: list[str] = []
    for item in value:
        text = str(item).strip().lower()
        if text and text not in cleaned:
            cleaned.append(text)
    if cleaned == ["*"]:
        return None
    invalid = [t for t in cleaned if not (_TYPE.match(t) or _PREFIX.match(t))]
    if invalid:
        raise InvalidEventTypes()
    return cleaned


def matches(event_types: list[str] | None, event_type: str) -> bool:
    if event_types is None:
        return True
    for pattern in event_types:
        if pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False
