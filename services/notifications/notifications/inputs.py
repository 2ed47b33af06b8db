"""Input types the notifications API shares across its routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from invora.web.timestamps import TimestampInput

# a query parameter's instant: RFC 3339 (without an offset: UTC), returned in UTC
Moment = Annotated[datetime, TimestampInput(1970, 2999, "invalid_date")]
