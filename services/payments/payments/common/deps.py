"""Dependencies the payments routes declare: the clock's now, the runtime."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from payments.runtime import PaymentsRuntime, get_runtime


def _now(request: Request) -> datetime:
    return request.app.state.runtime.clock.now()


Now = Annotated[datetime, Depends(_now)]
Runtime = Annotated[PaymentsRuntime, Depends(get_runtime)]
