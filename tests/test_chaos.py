"""Chaos under `invora dev`: while writes keep coming, the broker is killed (SIGKILL: it comes back
empty), a service is killed mid-traffic, and PostgreSQL is killed. The supervisor restarts each; the
services reconnect, republish what the lost broker held, and recover on their own. Afterwards every
acknowledged write's event has taken effect exactly once: each tax the catalog acknowledged reached
the webhook endpoint, as exactly one webhook message (one `webhook-id` per event), and no tax was
created twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections import defaultdict
from pathlib import Path

import httpx
import psutil
import pytest

from invora.infra.ports import port_open
from invora.testing.dev_run import DevPorts, DevRun
from invora.testing.receiver import WebhookReceiver


def _recorded_pid(data_dir: Path, name: str) -> int:
    return json.loads((data_dir / "run" / f"{name}.pid").read_text())["pid"]


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0])


async def _until(predicate, timeout: float, what: str, run: DevRun) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{run.diagnostics()}")
        await asyncio.sleep(0.3)


def _all_ready(summary: dict) -> bool:
    with httpx.Client(timeout=2.0) as client:
        for url in summary["services"].values():
            try:
                if client.get(f"{url}/ready").status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
    return True


def _restarted(pid_of, old: int) -> bool:
    try:
        pid = pid_of()
    except (OSError, ValueError, KeyError):
        return False
    return pid != old and psutil.pid_exists(pid)


@pytest.fixture
def data_dir():
    import shutil
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="invora-chaos-"))
    yield directory / "data"
    shutil.rmtree(directory, ignore_errors=True)


async def test_chaos_every_acknowledged_write_takes_effect_once(tmp_path: Path, data_dir: Path) -> None:
    receiver = WebhookReceiver()
    await receiver.start()
    run = DevRun(data_dir, DevPorts.pick(), tmp_path / "dev.out")
    try:
        summary = await asyncio.to_thread(run.wait_for_dev_json)
        headers = {"Authorization": f"Bearer {summary['api_key']}"}
        catalog, notifications = summary["services"]["catalog"], summary["services"]["notifications"]
        async with httpx.AsyncClient(timeout=5.0, headers=headers) as client:
            endpoint = await client.post(f"{notifications}/api/v1/webhook_endpoints", json={"webhook_endpoint": {
                "webhook_url": f"{receiver.url}/hooks", "signature_algo": "hmac", "event_types": ["tax.created"]}})
            assert endpoint.status_code == 200, endpoint.text

            acknowledged: list[str] = []
            attempted = 0
            stop = asyncio.Event()

            async def traffic() -> None:
                nonlocal attempted
                while not stop.is_set():
                    code = f"chaos_{attempted}"
                    attempted += 1
                    with contextlib.suppress(httpx.HTTPError):
                        response = await client.post(f"{catalog}/api/v1/taxes", json={"tax": {
                            "name": code, "code": code, "rate": "10.5"}})
                        if response.status_code == 200:
                            acknowledged.append(code)
                    await asyncio.sleep(0.03)

            writer = asyncio.create_task(traffic())
            await asyncio.sleep(2)

            recovery: dict[str, float] = {}  # seconds from the kill until every service is ready again
            # 1. the broker: SIGKILL; it comes back empty, with a new cluster id
            killed_at = time.monotonic()
            kafka_pid = _recorded_pid(data_dir, "kafka")
            os.kill(kafka_pid, signal.SIGKILL)
            await _until(lambda: _restarted(lambda: _recorded_pid(data_dir, "kafka"), kafka_pid), 30,
                         "the broker to be restarted", run)
            await _until(lambda: _all_ready(summary), 60, "every service ready after the broker restart", run)
            recovery["broker"] = time.monotonic() - killed_at
            await asyncio.sleep(2)

            # 2. a service mid-traffic: the catalog, SIGKILL (requests in flight fail: not acknowledged)
            killed_at = time.monotonic()
            catalog_pid = _recorded_pid(data_dir, "catalog")
            os.killpg(catalog_pid, signal.SIGKILL)
            await _until(lambda: _restarted(lambda: _recorded_pid(data_dir, "catalog"), catalog_pid), 30,
                         "the catalog to be restarted", run)
            await _until(lambda: _all_ready(summary), 60, "every service ready after the catalog restart", run)
            recovery["catalog"] = time.monotonic() - killed_at
            await asyncio.sleep(2)

            # 3. the database: the postmaster SIGKILLed; restarted on the same data (crash recovery)
            killed_at = time.monotonic()
            postmaster = _postmaster_pid(data_dir)
            os.kill(postmaster, signal.SIGKILL)
            await _until(lambda: _restarted(lambda: _postmaster_pid(data_dir), postmaster), 60,
                         "PostgreSQL to be restarted", run)
            await _until(lambda: _all_ready(summary), 60, "every service ready after the database restart", run)
            recovery["postgres"] = time.monotonic() - killed_at
            await asyncio.sleep(2)

            stop.set()
            await writer
            traffic_done = time.monotonic()
            assert len(acknowledged) >= 20, f"too little traffic got through: {len(acknowledged)} of {attempted}"

            async def all_arrived() -> bool:
                return set(acknowledged) <= _received_codes(receiver)

            # an item parked during an outage waits out its back-off (seconds to a few minutes): a
            # write that takes effect late still counts, one that never does fails the test
            deadline = time.monotonic() + 300
            while not await all_arrived():
                if time.monotonic() > deadline:
                    missing = sorted(set(acknowledged) - _received_codes(receiver))
                    raise AssertionError(f"{len(missing)} acknowledged writes never took effect: {missing[:10]}\n"
                                         f"{run.diagnostics()}")
                await asyncio.sleep(0.5)
            caught_up = time.monotonic() - traffic_done
            await asyncio.sleep(3)  # anything in flight would show up now as a second effect

            webhook_ids: dict[str, set[str]] = defaultdict(set)
            events_per_code: dict[str, set[str]] = defaultdict(set)
            for request in receiver.requests:
                body = json.loads(request.body)
                webhook_ids[body["event_id"]].add(request.headers["webhook-id"])
                events_per_code[body["tax"]["code"]].add(body["event_id"])
            assert {e: ids for e, ids in webhook_ids.items() if len(ids) != 1} == {}, "an event fanned out twice"
            assert {c: e for c, e in events_per_code.items() if len(e) != 1} == {}, "a write took effect twice"
            # the catalog holds each acknowledged tax once (and nothing acknowledged was lost by the database)
            codes: list[str] = []
            page: int | None = 1
            while page:
                listed = (await client.get(f"{catalog}/api/v1/taxes", params={"per_page": 100, "page": page})).json()
                codes += [t["code"] for t in listed["taxes"]]
                page = listed["meta"]["next_page"]
            assert len(codes) == len(set(codes)) and set(acknowledged) <= set(codes)

        print(f"chaos: {len(acknowledged)} of {attempted} writes acknowledged; ready again after (s): "
              + ", ".join(f"{k} {v:.1f}" for k, v in recovery.items())
              + f"; every acknowledged event delivered {caught_up:.1f}s after the traffic stopped")
        output = run.output.read_text(errors="replace")
        for part in ("kafka", "catalog", "postgres"):
            assert f"{part} restarted" in output, output[-3000:]
        assert run.terminate() == 0, run.diagnostics()
        assert not any(port_open("127.0.0.1", port) for port in run.ports.all())
    finally:
        if run.process.poll() is None:
            run.kill_everything()
        await receiver.stop()


def _received_codes(receiver: WebhookReceiver) -> set[str]:
    return {json.loads(r.body)["tax"]["code"] for r in receiver.requests}
