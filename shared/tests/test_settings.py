"""Settings: `INVORA_<SERVICE>_*` beats `INVORA_*`, the environment beats `.env`, keys parse every way."""

from __future__ import annotations

import json
import os
import uuid
from typing import ClassVar

import pydantic
import pytest

from invora.auth.keys import generate_private_key_pem, public_key_pem, sign_token
from invora.auth.verify import TokenVerifier
from invora.settings import ServiceSettings


class AlphaSettings(ServiceSettings):
    service_name: ClassVar[str] = "alpha"
    default_port: ClassVar[int] = 8191


class BetaSettings(ServiceSettings):
    service_name: ClassVar[str] = "beta"
    default_port: ClassVar[int] = 8192


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No INVORA_* variable and no .env from the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.upper().startswith("INVORA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults():
    settings = AlphaSettings()
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.auth_public_keys == []
    assert settings.listen_port == 8191
    assert settings.idempotency_ttl_hours == 24.0


def test_service_prefix_beats_suite_prefix(monkeypatch):
    monkeypatch.setenv("INVORA_ALPHA_DATABASE_URL", "postgresql+asyncpg://db/alpha")
    monkeypatch.setenv("INVORA_DATABASE_URL", "postgresql+asyncpg://db/shared")
    monkeypatch.setenv("INVORA_ALPHA_PORT", "9001")
    assert AlphaSettings().database_url == "postgresql+asyncpg://db/alpha"
    assert AlphaSettings().listen_port == 9001
    # another service does not see alpha's own variables
    assert BetaSettings().database_url == "postgresql+asyncpg://db/shared"
    assert BetaSettings().listen_port == 8192


def test_suite_prefix_is_the_fallback(monkeypatch):
    monkeypatch.setenv("INVORA_KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("INVORA_LOG_JSON", "false")
    monkeypatch.setenv("INVORA_RELAY_BATCH_SIZE", "250")
    for settings in (AlphaSettings(), BetaSettings()):
        assert settings.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"
        assert settings.log_json is False
        assert settings.relay_batch_size == 250


def test_unprefixed_variables_are_ignored(monkeypatch):
    # the test harness and `invora dev` read DATABASE_URL; a service must not pick it up by accident
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://elsewhere/db")
    monkeypatch.setenv("PORT", "1234")
    settings = AlphaSettings()
    assert settings.database_url != "postgresql+asyncpg://elsewhere/db"
    assert settings.listen_port == 8191


def test_explicit_arguments_beat_the_environment(monkeypatch):
    monkeypatch.setenv("INVORA_ALPHA_LOG_LEVEL", "ERROR")
    assert AlphaSettings(log_level="DEBUG").log_level == "DEBUG"


def test_dotenv_file_is_read(monkeypatch, clean_environment):
    (clean_environment / ".env").write_text(
        "INVORA_ALPHA_DATABASE_URL=postgresql+asyncpg://db/from-dotenv-alpha\n"
        "INVORA_DATABASE_URL=postgresql+asyncpg://db/from-dotenv-suite\n"
        "INVORA_KAFKA_BOOTSTRAP_SERVERS=dotenv-kafka:9092\n"
        "INVORA_ALPHA_LOG_LEVEL=DEBUG\n"
        "UNRELATED=1\n"
    )
    alpha, beta = AlphaSettings(), BetaSettings()
    assert alpha.database_url == "postgresql+asyncpg://db/from-dotenv-alpha"
    assert beta.database_url == "postgresql+asyncpg://db/from-dotenv-suite"
    assert alpha.kafka_bootstrap_servers == beta.kafka_bootstrap_servers == "dotenv-kafka:9092"
    assert alpha.log_level == "DEBUG" and beta.log_level == "INFO"

    # a real environment variable wins over the same variable in .env
    monkeypatch.setenv("INVORA_ALPHA_LOG_LEVEL", "WARNING")
    assert AlphaSettings().log_level == "WARNING"


def test_invalid_values_are_refused(monkeypatch):
    monkeypatch.setenv("INVORA_ALPHA_IDEMPOTENCY_TTL_HOURS", "1")  # Stripe's rule: at least 24 h
    with pytest.raises(pydantic.ValidationError):
        AlphaSettings()
    monkeypatch.setenv("INVORA_ALPHA_IDEMPOTENCY_TTL_HOURS", "48")
    monkeypatch.setenv("INVORA_ALPHA_PORT", "70000")
    with pytest.raises(pydantic.ValidationError):
        AlphaSettings()


# -- auth_public_keys --------------------------------------------------------------------------------------


@pytest.fixture
def key_pairs(clean_environment):
    """Three key pairs, their public keys written to files: [(private_pem, public_pem, path)]."""
    pairs = []
    for i in range(3):
        private = generate_private_key_pem()
        public = public_key_pem(private)
        path = clean_environment / f"public-{i}.pem"
        path.write_bytes(public)
        pairs.append((private, public, path))
    return pairs


def _accepts(settings: ServiceSettings, private_pem: bytes) -> bool:
    verifier = TokenVerifier.from_settings(settings.auth_public_keys, settings.auth_issuer)
    try:
        verifier.verify(sign_token(private_pem, organization_id=uuid.uuid4(), roles=["admin"]))
    except Exception:  # noqa: BLE001
        return False
    return True


def test_public_keys_single_path(monkeypatch, key_pairs):
    private, _public, path = key_pairs[0]
    monkeypatch.setenv("INVORA_AUTH_PUBLIC_KEYS", str(path))
    settings = AlphaSettings()
    assert settings.auth_public_keys == [str(path)]
    assert _accepts(settings, private) and not _accepts(settings, key_pairs[1][0])


def test_public_keys_comma_separated(monkeypatch, key_pairs):
    monkeypatch.setenv("INVORA_AUTH_PUBLIC_KEYS", f" {key_pairs[0][2]} ,{key_pairs[1][2]},")
    settings = AlphaSettings()
    assert settings.auth_public_keys == [str(key_pairs[0][2]), str(key_pairs[1][2])]
    assert _accepts(settings, key_pairs[0][0]) and _accepts(settings, key_pairs[1][0])
    assert not _accepts(settings, key_pairs[2][0])


def test_public_keys_json_list(monkeypatch, key_pairs):
    monkeypatch.setenv("INVORA_AUTH_PUBLIC_KEYS", json.dumps([str(key_pairs[0][2]), str(key_pairs[2][2])]))
    settings = AlphaSettings()
    assert settings.auth_public_keys == [str(key_pairs[0][2]), str(key_pairs[2][2])]
    assert _accepts(settings, key_pairs[2][0]) and not _accepts(settings, key_pairs[1][0])


def test_public_key_inline_pem(monkeypatch, key_pairs):
    private, public, _path = key_pairs[0]
    monkeypatch.setenv("INVORA_AUTH_PUBLIC_KEYS", public.decode())
    settings = AlphaSettings()
    assert settings.auth_public_keys == [public.decode().strip()]
    assert _accepts(settings, private)


def test_public_keys_json_list_of_inline_pems(monkeypatch, key_pairs):
    monkeypatch.setenv("INVORA_AUTH_PUBLIC_KEYS", json.dumps([key_pairs[0][1].decode(), key_pairs[1][1].decode()]))
    settings = AlphaSettings()
    assert len(settings.auth_public_keys) == 2
    assert _accepts(settings, key_pairs[0][0]) and _accepts(settings, key_pairs[1][0])


def test_public_keys_several_inline_pems(monkeypatch, key_pairs):
    both = key_pairs[0][1].decode() + key_pairs[1][1].decode()
    monkeypatch.setenv("INVORA_AUTH_PUBLIC_KEYS", both)
    settings = AlphaSettings()
    assert len(settings.auth_public_keys) == 2
    assert _accepts(settings, key_pairs[0][0]) and _accepts(settings, key_pairs[1][0])


def test_public_key_inline_pem_with_escaped_newlines(monkeypatch, key_pairs):
    # how a PEM usually arrives through a one-line variable (.env files, CI secrets)
    private, public, _path = key_pairs[0]
    monkeypatch.setenv("INVORA_AUTH_PUBLIC_KEYS", public.decode().replace("\n", "\\n"))
    assert _accepts(AlphaSettings(), private)


def test_public_keys_from_dotenv_and_empty(monkeypatch, key_pairs, clean_environment):
    (clean_environment / ".env").write_text(f"INVORA_ALPHA_AUTH_PUBLIC_KEYS={key_pairs[1][2]},{key_pairs[2][2]}\n")
    assert AlphaSettings().auth_public_keys == [str(key_pairs[1][2]), str(key_pairs[2][2])]
    monkeypatch.setenv("INVORA_ALPHA_AUTH_PUBLIC_KEYS", "  ")
    assert AlphaSettings().auth_public_keys == []


def test_unreadable_public_key_fails_at_start_up(monkeypatch, clean_environment):
    monkeypatch.setenv("INVORA_AUTH_PUBLIC_KEYS", str(clean_environment / "missing.pem"))
    with pytest.raises(FileNotFoundError):
        TokenVerifier.from_settings(AlphaSettings().auth_public_keys, "invora")
