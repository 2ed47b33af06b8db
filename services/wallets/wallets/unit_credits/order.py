"""The order unit credits are consumed in, and how units split over grants (pure; property-tested).

Grants of one customer and metric, live at the time: priority (1 first) → soonest expiry (never last)
→ oldest → id. A debit takes from each grant in that order as much as it holds, until the units asked
for are covered or nothing is left: never more than asked, never more than a grant holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Grant:
    id: object
    priority: int
    expiration_at: datetime | None
    created_at: datetime
    remaining: Decimal


def order_key(grant: Grant) -> tuple:
    return (grant.priority, grant.expiration_at or NEVER, grant.created_at, str(grant.id))


def allocate(units: Decimal, grants: Iterable[Grant]) -> list[tuple[Grant, Decimal]]:
    """(grant, units taken) in consumption order, for at most `units`."""
    taken: list[tuple[Grant, Decimal]] = []
    left = units
    for grant in sorted(grants, key=order_key):
        if left <= 0:
            break
        take = min(grant.remaining, left)
        if take > 0:
            taken.append((grant, take))
            left -= take
    return taken


def total(taken: Sequence[tuple[Grant, Decimal]]) -> Decimal:
    return sum((units for _, units in taken), Decimal(0))
