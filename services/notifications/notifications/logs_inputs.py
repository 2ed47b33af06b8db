"""Query parameters the activity and API logs share: Lago's `from_date`/`to_date` and text lists."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import AfterValidator, StringConstraints, WithJsonSchema

from invora.web.inputs import StorableText

FilterText = Annotated[str, StringConstraints(max_length=255), StorableText()]


def _day(value: str) -> date:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("invalid_date")
    return date.fromisoformat(value)  # ValueError (a 422) for 2026-02-30


# `YYYY-MM-DD` only (pydantic alone would also take a Unix time such as `0`)
Day = Annotated[str, AfterValidator(_day), WithJsonSchema({"type": "string", "format": "date"})]


def day_bounds(from_date: date | None, to_date: date | None) -> tuple[datetime | None, datetime | None]:
    """Lago's dates are whole UTC days, both inclusive: [from_date 00:00, to_date + 1 day 00:00)."""
    start = datetime.combine(from_date, time(), UTC) if from_date is not None else None
    end = datetime.combine(to_date, time(), UTC) + timedelta(days=1) if to_date is not None and to_date < date.max \
        else None
    return start, end
