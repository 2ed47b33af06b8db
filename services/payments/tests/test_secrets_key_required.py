"""Provider credentials are stored encrypted (invora.secrets): without INVORA_SECRETS_KEY the service refuses
to start, rather than answer its first provider connection with a 500."""

import pytest

from invora import secrets


async def test_payments_refuses_to_start_without_a_secrets_key(start_service, monkeypatch):
    monkeypatch.setattr(secrets, "_ring", None)
    with pytest.raises(secrets.SecretsKeyMissing, match="INVORA_SECRETS_KEY is not set"):
        await start_service("payments", secrets_key=None)
