"""`GET /api/v1/webhooks/json_public_key`: `{"webhook": {"public_key": "<base64 of the PEM>"}}` (Lago)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class WebhookPublicKeyObject(BaseModel):
    public_key: str = Field(description="Base64 (MIME, 60-character lines) of the PEM public key for `jwt`.")


class WebhookPublicKey(BaseModel):
    webhook: WebhookPublicKeyObject
