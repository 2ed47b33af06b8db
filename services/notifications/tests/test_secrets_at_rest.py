"""Secrets at rest: endpoint signing secrets and the stored JWT key never sit in the tables in clear; the
migration encrypts what older versions stored; `invora secrets rotate` moves everything to a new key
while deliveries keep being signed; the API shows a secret only where Lago does."""

from __future__ import annotations

import base64
import contextlib
import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from invora import secrets
from invora.db.engine import Database
from invora.db.migrate import downgrade, upgrade
from invora.secrets.column import context_of
from invora.secrets.rotation import rotate_database
from invora.testing.infrastructure import TEST_SECRETS_KEY


async def _table_bytes(database_url: str, table: str) -> bytes:
    """What a dump of the table holds: `COPY table TO STDOUT`, byte for byte."""
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    chunks: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        chunks.append(bytes(chunk))

    try:
        await conn.copy_from_table(table, output=sink)
        # and the heap file itself, where readable (the embedded server's files belong to its own user)
        await conn.execute("CHECKPOINT")
        data_dir = await conn.fetchval("SHOW data_directory")
        relative = await conn.fetchval("SELECT pg_relation_filepath($1::regclass)", table)
        with contextlib.suppress(OSError):
            chunks.append((Path(data_dir) / relative).read_bytes())
    finally:
        await conn.close()
    return b"".join(chunks)


async def test_no_secret_in_clear_in_the_tables(notifications, kit):
    client = notifications.client(uuid.uuid4())
    created = await kit.create_endpoint(client, "http://127.0.0.1:9/at-rest", signature_algo="hmac")
    rotated = (await client.post(f"/api/v1/webhook_endpoints/{created['lago_id']}/rotate_secret")).json()
    new_secret, old_secret = rotated["webhook_endpoint"]["secret"], created["secret"]
    public_key = await kit.public_key_pem(client)  # the JWT key exists (generated and stored at start-up)

    endpoints = await _table_bytes(notifications.database_url, "webhook_endpoints")
    assert created["lago_id"].encode() in endpoints  # the row is there...
    for secret in (new_secret, old_secret):  # ...but neither secret, in any encoding it could take
        assert secret.encode() not in endpoints
        assert secret.removeprefix("whsec_").encode() not in endpoints
        assert base64.b64decode(secret.removeprefix("whsec_")) not in endpoints
    assert endpoints.count(b"enc:v1:") >= 2

    keys = await _table_bytes(notifications.database_url, "webhook_signing_keys")
    assert b"installation" in keys and b"PRIVATE KEY" not in keys and b"enc:v1:" in keys
    assert public_key.startswith(b"-----BEGIN PUBLIC KEY")

    # the API shows a secret on creation and rotation only (as Lago does)
    fetched = await client.get(f"/api/v1/webhook_endpoints/{created['lago_id']}")
    listed = await client.get("/api/v1/webhook_endpoints")
    for body in (fetched.text, listed.text):
        assert new_secret not in body and old_secret not in body and "enc:v1:" not in body


async def test_the_service_refuses_to_start_without_a_key(start_notifications, monkeypatch):
    monkeypatch.setattr(secrets, "_ring", None)
    with pytest.raises(secrets.SecretsKeyMissing, match="INVORA_SECRETS_KEY is not set"):
        await start_notifications(secrets_key=None)


async def test_the_migration_encrypts_what_was_stored_in_plain_text_and_the_downgrade_restores_it(
    migrated_database,
):
    url = migrated_database("notifications")
    downgrade("notifications", url, "0005")
    endpoint_id, pem = uuid.uuid4(), "-----BEGIN PRIVATE KEY-----x"
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            await session.execute(text(
                "INSERT INTO webhook_endpoints (id, organization_id, webhook_url, signature_algo, enabled, secret, "
                "previous_secret) VALUES (:id, :org, 'https://example.com/h', 'hmac', true, :secret, :previous)"),
                {"id": endpoint_id, "org": uuid.uuid4(), "secret": secret, "previous": secret + "old"})
            await session.execute(text(
                "INSERT INTO webhook_signing_keys (name, algorithm, private_key_pem) "
                "VALUES ('installation', 'RS256', :p)"),
                {"p": pem})
            await session.commit()

        upgrade("notifications", url)
        await database.dispose()  # the pool's cached statement plans predate the column types
        async with database.sessionmaker() as session:
            stored = (await session.execute(text(
                "SELECT secret, previous_secret FROM webhook_endpoints WHERE id = :id"), {"id": endpoint_id})).one()
            stored_pem = (await session.execute(text("SELECT private_key_pem FROM webhook_signing_keys"))).scalar_one()
        assert stored.secret.startswith("enc:v1:test:") and secret not in stored.secret
        assert secrets.decrypt(stored.secret, context_of("webhook_endpoints", "secret")) == secret
        assert secrets.decrypt(stored.previous_secret, context_of("webhook_endpoints", "previous_secret")) == (
            secret + "old")
        assert secrets.decrypt(stored_pem, context_of("webhook_signing_keys", "private_key_pem")) == pem
        # a value moved to another column does not open there (it is bound to where it lives)
        with pytest.raises(secrets.UndecryptableSecret):
            secrets.decrypt(stored.secret, context_of("webhook_endpoints", "previous_secret"))

        upgrade("notifications", url)  # at head already: nothing encrypted twice
        downgrade("notifications", url, "0005")
        await database.dispose()
        async with database.sessionmaker() as session:
            restored = (await session.execute(text(
                "SELECT secret, previous_secret FROM webhook_endpoints WHERE id = :id"), {"id": endpoint_id})).one()
        assert (restored.secret, restored.previous_secret) == (secret, secret + "old")
        upgrade("notifications", url)
    finally:
        await database.dispose()


async def test_rotation_re_encrypts_everything_online_and_resumably(
    start_notifications, producer, receivers, kit, monkeypatch,
):
    old_ring = secrets.KeyRing.parse(TEST_SECRETS_KEY)
    new_entry = secrets.generate_key_entry("next")
    both = secrets.KeyRing.parse(f"{new_entry},{TEST_SECRETS_KEY}")
    receiver = await receivers()
    org = uuid.uuid4()

    # secrets written under the old key
    service = await start_notifications()
    client = service.client(org)
    endpoints = [await kit.create_endpoint(client, f"{receiver.url}/{i}", signature_algo="hmac") for i in range(5)]
    rotated = (await client.post(f"/api/v1/webhook_endpoints/{endpoints[0]['lago_id']}/rotate_secret")).json()
    endpoints[0] = rotated["webhook_endpoint"]

    # step 1: every process gets the new key first, the old one still readable
    monkeypatch.setattr(secrets, "_ring", both)
    dsn = service.database_url.replace("postgresql+asyncpg://", "postgresql://")
    # step 2: the rotation, interrupted after one batch of one row per column...
    partial = await rotate_database(dsn, both, batch_size=1, max_batches=1)
    assert partial.rewritten == 3 and partial.remaining > 0  # secret, previous_secret, the JWT key: one each
    # ...while the service keeps signing with what it reads (rows under either key)
    await producer.emit(org, "invoice.created")
    requests = await receiver.wait_for(5)
    for request in requests:
        endpoint = next(e for e in endpoints if request.path.endswith(e["webhook_url"].rsplit("/", 1)[1]))
        kit.verify_request(request, secret=endpoint["secret"])
    # ...and finished by the next run, which rewrites only what is left
    finished = await rotate_database(dsn, both)
    assert finished.rewritten == partial.remaining and finished.remaining == 0
    again = await rotate_database(dsn, both)
    assert again.rewritten == 0 and again.remaining == 0  # idempotent

    conn = await asyncpg.connect(dsn)
    try:
        # this organization's endpoints (the shared fan-out group may register other tests' organization
        # webhooks from the broker's backlog) and the service's JWT key; every stored secret is re-encrypted
        stored = [r[0] for r in await conn.fetch(
            "SELECT secret FROM webhook_endpoints WHERE organization_id = $1 UNION ALL SELECT previous_secret "
            "FROM webhook_endpoints WHERE organization_id = $1 AND previous_secret IS NOT NULL UNION ALL "
            "SELECT private_key_pem FROM webhook_signing_keys", org)]
        everything = [r[0] for r in await conn.fetch(
            "SELECT secret FROM webhook_endpoints UNION ALL SELECT previous_secret FROM webhook_endpoints "
            "WHERE previous_secret IS NOT NULL UNION ALL SELECT private_key_pem FROM webhook_signing_keys")]
    finally:
        await conn.close()
    assert len(stored) == 5 + 1 + 1 and all(v.startswith("enc:v1:next:") for v in everything)

    # step 3: the old key can go; a service with only the new key reads everything
    monkeypatch.setattr(secrets, "_ring", both.only_current())
    await producer.emit(org, "invoice.created")
    later = (await receiver.wait_for(10))[5:]
    for request in later:
        endpoint = next(e for e in endpoints if request.path.endswith(e["webhook_url"].rsplit("/", 1)[1]))
        kit.verify_request(request, secret=endpoint["secret"])
    # and the old key alone no longer opens anything
    with pytest.raises(secrets.UnknownKeyId):
        old_ring.decrypt(stored[0], context_of("webhook_endpoints", "secret"))
