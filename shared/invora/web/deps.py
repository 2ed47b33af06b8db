"""Dependencies routes declare: the request's database session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from invora.db.engine import session_dependency

# scope="function": the session's commit runs before the response is sent
DbSession = Annotated[AsyncSession, Depends(session_dependency, scope="function")]
