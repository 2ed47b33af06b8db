"""Query parameters the activity and API logs share: Lago's `from_date`/`to_date` and text lists."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import StringConstraints

from invora.web.inputs import IsoDay, StorableText

FilterText = Annotated[str, StringConstraints(max_length=255), StorableText()]
Day = IsoDay  # `YYYY-MM-DD` only, shared


def day_bounds(from_date: date | None, to_date: date | None) -> tuple[datetime | None, datetime | None]:
    """Lago's dates are whole UTC days, both inclusive: [from_date 00:00, to_date + 1 day 00:00)."""
    start = datetime.combine(from_date, time(), UTC) if from_date is not None else None
    end = datetime.combine(to_date, time(), UTC) + timedelta(days=1) if to_date is not None and to_date < date.max \
        else None
    return start, end
