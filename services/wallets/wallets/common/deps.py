"""Route dependencies of the wallets service: the service clock's time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends

from wallets.runtime import now

Now = Annotated[datetime, Depends(now)]
