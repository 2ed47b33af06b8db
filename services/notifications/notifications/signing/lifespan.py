"""Load the `jwt` signing key before anything is sent or the public key is served.

Endpoint secrets and the stored signing key are encrypted at rest, so the service refuses to start
without `INVORA_SECRETS_KEY` rather than fail its first request.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from invora import secrets
from notifications.runtime import NotificationsRuntime
from notifications.signing.service import load_jwt_signer


def signing_key_lifespan(runtime: NotificationsRuntime):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        secrets.keyring()  # raises SecretsKeyMissing, naming the setting
        runtime.jwt_signer = await load_jwt_signer(app.state.database.sessionmaker, runtime.settings)
        yield

    return lifespan
