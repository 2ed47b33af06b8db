"""invora.secrets: AES-GCM values bound to their column, key rings with ids, the settings that carry
them, and `invora secrets` (generate-key, add-key, rotate) against a real database."""

from __future__ import annotations

import base64
import uuid

import asyncpg
import pydantic
import pytest
from typer.testing import CliRunner

from invora import secrets
from invora.cli.main import app
from invora.db.migrate import upgrade
from invora.secrets.column import context_of
from invora.settings import ServiceSettings

CONTEXT = "webhook_endpoints.secret"


def test_round_trip_and_every_encryption_differs():
    ring = secrets.KeyRing.parse(secrets.generate_key_entry("a"))
    first, second = ring.encrypt("whsec_abc", CONTEXT), ring.encrypt("whsec_abc", CONTEXT)
    assert first != second and first.startswith("enc:v1:a:") and "whsec_abc" not in first
    assert ring.decrypt(first, CONTEXT) == ring.decrypt(second, CONTEXT) == "whsec_abc"


def test_a_value_opens_only_in_its_own_column_and_only_unaltered():
    ring = secrets.KeyRing.parse(secrets.generate_key_entry("a"))
    token = ring.encrypt("whsec_abc", CONTEXT)
    with pytest.raises(secrets.UndecryptableSecret, match="webhook_endpoints.previous_secret"):
        ring.decrypt(token, "webhook_endpoints.previous_secret")
    kid, payload = secrets.split_token(token)
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[-1] ^= 1
    altered = f"enc:v1:{kid}:{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
    with pytest.raises(secrets.UndecryptableSecret):
        ring.decrypt(altered, CONTEXT)
    with pytest.raises(secrets.UndecryptableSecret, match="not in the encrypted form"):
        ring.decrypt("whsec_plain", CONTEXT)


def test_a_ring_reads_old_keys_and_writes_with_the_first():
    old, new = secrets.generate_key_entry("old"), secrets.generate_key_entry("new")
    before = secrets.KeyRing.parse(old).encrypt("s", CONTEXT)
    ring = secrets.KeyRing.parse(f"{new},{old}")
    assert ring.current_id == "new" and ring.decrypt(before, CONTEXT) == "s"
    assert not ring.is_current(before) and ring.is_current(ring.encrypt("s", CONTEXT))
    with pytest.raises(secrets.UnknownKeyId, match="key 'old', which is not in INVORA_SECRETS_KEY"):
        ring.only_current().decrypt(before, CONTEXT)


def test_a_ring_from_a_file(tmp_path):
    old, new = secrets.generate_key_entry("old"), secrets.generate_key_entry("new")
    path = tmp_path / "secrets.keys"
    path.write_text(f"# current first\n{new}\n\n{old}\n")
    assert secrets.KeyRing.parse(str(path)).key_ids == ("new", "old")


@pytest.mark.parametrize(("value", "message"), [
    ("a:" + base64.b64encode(b"short").decode(), "not the base64 of 32 bytes"),
    ("a:not base64!", "not the base64 of 32 bytes"),
    ("bad id:" + base64.b64encode(bytes(range(32))).decode(), "entries look like"),  # fixed: ids stable across workers
    ("/nowhere/secrets.keys", "nor a file at /nowhere/secrets.keys"),
])
def test_bad_keys_stop_start_up_without_echoing_them(monkeypatch, value, message):
    monkeypatch.setenv("INVORA_SECRETS_KEY", value)
    with pytest.raises(pydantic.ValidationError) as failure:
        ServiceSettings()
    assert message in str(failure.value)
    if ":" in value:
        assert value.split(":", 1)[1] not in str(failure.value)


def test_the_same_key_id_twice_is_refused():
    entry = secrets.generate_key_entry("a")
    with pytest.raises(secrets.InvalidSecretsKey, match="twice"):
        secrets.KeyRing.parse(f"{entry},{secrets.generate_key_entry('a')}")


async def _stored(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r[0] for r in await conn.fetch(
            "SELECT secret FROM webhook_endpoints UNION ALL SELECT private_key_pem FROM webhook_signing_keys")]
    finally:
        await conn.close()


async def _insert_endpoints(dsn: str, ring: secrets.KeyRing, count: int, plaintext_too: bool = False) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for i in range(count):
            value = f"whsec_{i}" if plaintext_too and i == 0 else ring.encrypt(
                f"whsec_{i}", context_of("webhook_endpoints", "secret"))
            await conn.execute(
                "INSERT INTO webhook_endpoints (id, organization_id, webhook_url, signature_algo, enabled, secret) "
                "VALUES ($1, $2, $3, 'hmac', true, $4)", uuid.uuid4(), uuid.uuid4(), f"https://e.example/{i}", value)
    finally:
        await conn.close()


def test_cli_rotate_with_the_ring_in_the_environment(migrated_database, monkeypatch):
    url = migrated_database("notifications")
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    old, new = secrets.generate_key_entry("old"), secrets.generate_key_entry("new")
    import asyncio

    asyncio.run(_insert_endpoints(dsn, secrets.KeyRing.parse(old), 7, plaintext_too=True))
    monkeypatch.setenv("INVORA_NOTIFICATIONS_DATABASE_URL", url)
    monkeypatch.setenv("INVORA_SECRETS_KEY", f"{new},{old}")
    runner = CliRunner()
    result = runner.invoke(app, ["secrets", "rotate", "notifications", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert "notifications: 7 re-encrypted under new, 0 left" in result.output
    stored = asyncio.run(_stored(dsn))
    assert len(stored) == 7 and all(v.startswith("enc:v1:new:") for v in stored)
    ring = secrets.KeyRing.parse(new)
    assert sorted(ring.decrypt(v, context_of("webhook_endpoints", "secret")) for v in stored) == sorted(
        f"whsec_{i}" for i in range(7))  # the one stored in clear is encrypted on the way
    again = runner.invoke(app, ["secrets", "rotate", "notifications"])
    assert again.exit_code == 0 and "0 re-encrypted under new, 0 left" in again.output
    monkeypatch.setenv("INVORA_SECRETS_KEY", new)  # without the old key a value under it cannot be read
    asyncio.run(_insert_endpoints(dsn, secrets.KeyRing.parse(old), 1))
    failed = runner.invoke(app, ["secrets", "rotate", "notifications"])
    assert failed.exit_code == 1 and "encrypted under key 'old', which is not in INVORA_SECRETS_KEY" in failed.output


def test_cli_dev_flow_add_key_rotate_drop_old_keys(migrated_database, monkeypatch, tmp_path):
    url = migrated_database("notifications")
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    monkeypatch.delenv("INVORA_SECRETS_KEY", raising=False)
    monkeypatch.setenv("INVORA_NOTIFICATIONS_DATABASE_URL", url)
    runner = CliRunner()
    missing = runner.invoke(app, ["secrets", "rotate", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 2 and "INVORA_SECRETS_KEY is not set" in missing.output

    from invora.cli.dev_files import DevFiles
    from invora.cli.secrets import ensure_dev_key_file

    key_file = ensure_dev_key_file(DevFiles.at(tmp_path))
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    first = secrets.KeyRing.parse(str(key_file))
    import asyncio

    asyncio.run(_insert_endpoints(dsn, first, 3))
    added = runner.invoke(app, ["secrets", "add-key", "--data-dir", str(tmp_path)])
    assert added.exit_code == 0, added.output
    ring = secrets.KeyRing.parse(str(key_file))
    assert len(ring.keys) == 2 and ring.key_ids[1] == first.current_id
    rotated = runner.invoke(app, ["secrets", "rotate", "notifications", "--drop-old-keys", "--data-dir", str(tmp_path)])
    assert rotated.exit_code == 0, rotated.output
    assert f"3 re-encrypted under {ring.current_id}" in rotated.output
    after = secrets.KeyRing.parse(str(key_file))
    assert after.key_ids == (ring.current_id,)
    for value in asyncio.run(_stored(dsn)):
        after.decrypt(value, context_of("webhook_endpoints", "secret"))


def test_upgrade_then_rotation_finds_the_encrypted_columns(migrated_database):
    import asyncio

    from invora.secrets.rotation import encrypted_columns

    url = migrated_database("notifications")
    upgrade("notifications", url)

    async def columns():
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return await encrypted_columns(conn)
        finally:
            await conn.close()

    assert asyncio.run(columns()) == [
        ("webhook_endpoints", "previous_secret", ["id"]), ("webhook_endpoints", "secret", ["id"]),
        ("webhook_signing_keys", "private_key_pem", ["name"]),
    ]


def test_rotation_finds_the_payment_provider_credentials(migrated_database):
    import asyncio

    from invora.secrets.rotation import encrypted_columns

    url = migrated_database("payments")

    async def columns():
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return await encrypted_columns(conn)
        finally:
            await conn.close()

    found = asyncio.run(columns())
    assert ("payment_providers", "secret_key") in [(t, c) for t, c, _ in found]
    assert ("payment_providers", "webhook_secret") in [(t, c) for t, c, _ in found]
