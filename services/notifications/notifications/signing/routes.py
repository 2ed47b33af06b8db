"""The public key that verifies `jwt` webhook signatures (Lago's two endpoints)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from invora.auth.deps import CurrentPrincipal
from notifications.runtime import NotificationsRuntime, get_runtime
from notifications.signing.errors import SigningKeyNotLoaded
from notifications.signing.jwt import JwtSigner
from notifications.signing.schemas import WebhookPublicKey, WebhookPublicKeyObject

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


def _signer(runtime: Annotated[NotificationsRuntime, Depends(get_runtime)]) -> JwtSigner:
    if runtime.jwt_signer is None:
        raise SigningKeyNotLoaded()
    return runtime.jwt_signer


Signer = Annotated[JwtSigner, Depends(_signer)]


@router.get("/json_public_key", response_model=WebhookPublicKey, summary="Retrieve webhook public key (JSON)")
async def json_public_key(_principal: CurrentPrincipal, signer: Signer) -> WebhookPublicKey:
    return WebhookPublicKey(webhook=WebhookPublicKeyObject(public_key=signer.public_key_base64))


@router.get("/public_key", response_class=PlainTextResponse, deprecated=True, summary="Retrieve webhook public key")
async def public_key(_principal: CurrentPrincipal, signer: Signer) -> PlainTextResponse:
    return PlainTextResponse(signer.public_key_base64)
