"""An acknowledged event survives `kill -9` of the service: the service runs as its own process
(uvicorn, as in production), clients send batches, the process is killed mid-stream, and the
database is read: every batch answered 2xx is stored whole, every other batch wholly or not at
all, and the rollups count exactly the events stored."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import httpx
from sqlalchemy import text

from invora.infra.ports import free_port, wait_for_port

from .test_usage_events import make_setup  # noqa: TID252

BATCH = 50


async def test_acknowledged_batches_survive_kill_9(api, plans, subs, org, invora_keys, invora_kafka):
    setup = await make_setup(api, plans)
    code = setup.metrics["sum_agg"]
    # one event through the in-process app caches the plan version and metric in the database, so the
    # killed process needs no catalog
    await api.ok("POST", "/api/v1/events", {"event": {
        "transaction_id": "warm", "code": code, "external_subscription_id": setup.external_id,
        "properties": {"value": 1}}})
    port = free_port("127.0.0.1")
    environment = {**os.environ, "INVORA_SUBSCRIPTIONS_DATABASE_URL": subs.database_url,
                   "INVORA_KAFKA_BOOTSTRAP_SERVERS": invora_kafka,
                   "INVORA_AUTH_PUBLIC_KEYS": str(invora_keys.public_path),
                   "INVORA_SUBSCRIPTIONS_SCHEDULER_ENABLED": "false",
                   "INVORA_SUBSCRIPTIONS_CONSUMERS_ENABLED": "false", "INVORA_LOG_LEVEL": "WARNING"}
    # subprocess.Popen, not asyncio's: its exit status does not depend on the loop's child watcher
    server = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-m", "uvicorn", "subscriptions.app:create_app", "--factory", "--host",
                           "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    acknowledged: list[str] = []
    sent: list[str] = []
    enough = asyncio.Event()  # some batches acknowledged: time to kill
    try:
        await asyncio.to_thread(wait_for_port, "127.0.0.1", port, 60)
        headers = {"Authorization": f"Bearer {invora_keys.sign(org, ['admin'])}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
            await client.post("/api/v1/events/batch", json={"events": []})  # the app is up

            async def sender(n: int) -> None:
                for i in range(10_000):
                    batch = f"c{n}-{i}"
                    sent.append(batch)
                    try:
                        response = await client.post("/api/v1/events/batch", json={"events": [
                            {"transaction_id": f"{batch}-{k}", "external_subscription_id": setup.external_id,
                             "code": code, "properties": {"value": k}} for k in range(BATCH)]})
                    except httpx.HTTPError:
                        return  # killed
                    assert response.status_code == 200, response.text
                    acknowledged.append(batch)
                    if len(acknowledged) >= 20:
                        enough.set()

            async def killer() -> None:
                await enough.wait()
                os.kill(server.pid, signal.SIGKILL)

            await asyncio.gather(killer(), *(sender(n) for n in range(4)))
    finally:
        if server.poll() is None:
            server.kill()
        await asyncio.to_thread(server.wait, 10)
    assert server.returncode == -signal.SIGKILL
    async with subs.database.sessionmaker() as session:
        stored = (await session.execute(text(
            "SELECT split_part(transaction_id, '-', 1) || '-' || split_part(transaction_id, '-', 2) AS batch, count(*)"
            " FROM usage_events WHERE organization_id = :org AND transaction_id <> 'warm' GROUP BY 1"),
            {"org": org})).all()
        counted, total = (await session.execute(text(
            "SELECT sum(events_count), sum(value_sum) FROM usage_rollups"
            " WHERE organization_id = :org AND code = :code"), {"org": org, "code": code})).one()
    by_batch = dict(stored)
    assert set(acknowledged) <= set(by_batch), "an acknowledged batch was lost"
    assert all(count == BATCH for count in by_batch.values()), "a batch was stored in part"
    assert set(by_batch) <= set(sent)
    assert counted == 1 + BATCH * len(by_batch)  # the rollups agree with the events, the warm one included
    assert total == 1 + sum(range(BATCH)) * len(by_batch)
