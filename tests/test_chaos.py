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
import time
from collections import defaultdict
from pathlib import Path

import httpx

from invora.infra.ports import port_open
from invora.testing.dev_run import DevPorts, DevRun
from invora.testing.receiver import WebhookReceiver


async def test_chaos_every_acknowledged_write_takes_effect_once(tmp_path: Path, dev_data_dir: Path) -> None:
    receiver = WebhookReceiver()
    await receiver.start()
    run = DevRun(dev_data_dir, DevPorts.pick(), tmp_path / "dev.out")
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

            # the broker (it comes back empty), the catalog mid-traffic (requests in flight fail: not
            # acknowledged), then the database (crash recovery on the same data); 2 s of traffic after each
            recovery: dict[str, float] = {}  # seconds from the kill until every service is ready again
            for target in ("kafka", "catalog", "postgres"):
                recovery[target] = await run.kill_and_recover(target, summary)
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
