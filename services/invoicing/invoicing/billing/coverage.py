"""The billing check: no period billed twice, none missed (Kill Bill's invoice safety net; Lago has none).

A subscription's subscription fees cover [from, to) intervals. A new one must not overlap any
(`overlap`: billed twice), and must start where the latest earlier one ended, or at the
subscription's start when it is the first (`gap`: a period was never billed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime


def coverage_violation(billed: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime,
                       subscription_started_at: datetime | None) -> str | None:
    for billed_start, billed_end in billed:
        if billed_start < end and start < billed_end:
            return "overlap"
    earlier = [billed_end for _, billed_end in billed if billed_end <= start]
    expected = max(earlier) if earlier else subscription_started_at
    if expected is not None and start > expected:
        return "gap"
    return None
