"""Load the `jwt` signing key before anything is sent or the public key is served.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from notifications.runtime import NotificationsRuntime
from notifications.signing.service import load_jwt_signer


def signing_key_lifespan(runtime: NotificationsRuntime):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.jwt_signer = await load_jwt_signer(app.state.database.sessionmaker, runtime.settings)
        yield

    return lifespan
