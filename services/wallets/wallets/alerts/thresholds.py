"""Which thresholds a falling value crosses (pure; property-tested in `tests/alerts/test_thresholds.py`).

Wallet alerts watch a balance go down (Lago's `direction: decreasing`). Going from `previous` to
`current`, a fixed threshold `t` is crossed when `current <= t < previous` (reaching it counts).
A recurring threshold of value `v` repeats every `v` below the lowest fixed threshold `B`
(`B - v`, `B - 2v`, … down to zero), or, with no fixed threshold, at every multiple of `v`
(… `2v`, `v`, `0`); each point crossed is reported once, its `value` the point. A rise crosses
nothing; it only re-arms the thresholds it passes back over.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

MAX_HITS = 1000  # a recurring threshold far below a large drop: report the first (highest) points only


def recurring_points(step: Decimal, base: Decimal | None, low: Decimal, high: Decimal) -> list[Decimal]:
    """The recurring points p with `low <= p < high`, highest first."""
    if step <= 0 or high <= low:
        return []
    points: list[Decimal] = []
    if base is None:  # p = k·step, k >= 0
        k = math.ceil(high / step) - 1
        while k >= 0 and k * step >= low and len(points) < MAX_HITS:
            points.append(k * step)
            k -= 1
    else:  # p = base - k·step, k >= 1, p >= 0
        k = max(1, math.floor((base - high) / step) + 1)
        while base - k * step >= max(low, Decimal(0)) and len(points) < MAX_HITS:
            if base - k * step < high:
                points.append(base - k * step)
            k += 1
    return points


def crossed(thresholds: list[dict[str, Any]], previous: Decimal, current: Decimal) -> list[dict[str, Any]]:
    """The thresholds crossed going from `previous` down to `current`, highest first."""
    if current >= previous:
        return []
    fixed = [t for t in thresholds if not t.get("recurring")]
    hits = [dict(t) for t in sorted(fixed, key=lambda t: Decimal(t["value"]), reverse=True)
            if current <= Decimal(t["value"]) < previous]
    base = min((Decimal(t["value"]) for t in fixed), default=None)
    for threshold in (t for t in thresholds if t.get("recurring")):
        hits.extend({**threshold, "value": format(point, "f")}
                    for point in recurring_points(Decimal(threshold["value"]), base, current, previous))
    return hits
