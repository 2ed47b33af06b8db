"""The settings of a service that serves documents (invoicing, payments): env vars with the service's prefix,
falling back to `INVORA_` (one `INVORA_PUBLIC_URL` for the suite)."""

from __future__ import annotations

import hashlib
import hmac
import secrets as random

from pydantic import Field, SecretStr, field_validator

from invora.documents.links import DocumentLinks
from invora.logging import get_logger
from invora.settings import ServiceSettings

log = get_logger(__name__)


class DocumentSettings(ServiceSettings):
    public_url: str = Field(
        "http://127.0.0.1:8100", max_length=2000,
        description="The suite's public origin (the gateway), the base of documents' `file_url` links.")
    documents_signing_key: SecretStr | None = Field(
        None, description="Secret (at least 32 characters) that signs documents' public links. Unset: derived from "
                          "the current key of `INVORA_SECRETS_KEY`; with neither, a random key per process (links "
                          "then stop working when the process restarts). Every replica of a service needs the same.")
    documents_link_ttl_seconds: int = Field(
        7 * 24 * 3600, ge=60, le=366 * 24 * 3600,
        description="How long a document link given in a response or webhook works (rounded up to the hour).")
    documents_generate: bool = Field(
        True, description="Render documents in the background once their resource is final (`invoice.finalized`, "
                          "`credit_note.created`, `payment_receipt.created`) and publish `*.generated`. Off: "
                          "invoices' and credit notes' are rendered on their first download only, receipts' not at "
                          "all (Lago has no download of a receipt).")

    @field_validator("documents_signing_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("documents_signing_key must have at least 32 characters")
        return value

    def document_links(self) -> DocumentLinks:
        if self.documents_signing_key is not None:
            key = self.documents_signing_key.get_secret_value().encode()
        elif (ring := self.secrets_keyring) is not None:
            # a key of its own, derived from the ring's current one: never the encryption key itself
            key = hmac.new(ring.keys[0][1], b"invora document links", hashlib.sha256).digest()
        else:
            log.warning("documents_signing_key_missing", detail="document links are signed with a random key "
                                                                "and stop working when this process restarts")
            key = random.token_bytes(32)
        return DocumentLinks(key=key, public_url=self.public_url, ttl_seconds=self.documents_link_ttl_seconds)
