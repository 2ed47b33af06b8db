"""Webhook fan-out benchmark: deliveries/s, and latency from the producing commit to receipt.

    uv run python bench/webhooks.py            # full run (~3 minutes), prints one JSON document
    uv run python bench/webhooks.py --quick    # short smoke run

What runs, each in its own process as in production: PostgreSQL and Kafka (embedded ones
unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS are set), the notifications service (uvicorn,
default settings but dev mode so it may call the local receiver), a fast local receiver
(aiohttp), and this script as the producing service: it writes each event with `add_event`
in its own committed transaction and its outbox relay publishes them, so the measured path
is commit -> relay -> Kafka -> fan-out consumer -> delivery row -> worker -> HTTP -> receipt.

Scenarios:
  throughput             a burst of events (committed `events_per_transaction` at a time, so the producer
                         is not the limit), each to `fanout` endpoints; deliveries/s over the whole burst
  throughput_one_endpoint  the same burst to a single endpoint
  steady                 `rate` deliveries/s to one endpoint for `duration` s; p50/p99 commit -> receipt
  steady_two_endpoints   the same events, each also sent to a second, fast endpoint of the organization;
                         the first endpoint's p50/p99 (the baseline for the next one)
  steady_hanging         the same, but the second endpoint never answers (15 s timeouts, 32 slots held);
                         the first endpoint's p50/p99, compared with both baselines
  The steady phases alternate for `rounds` rounds and their latencies are pooled per condition,
  so drift in the machine's load hits all alike.

Targets (issue 3): >= 500 deliveries/s; p99 < 1 s at 250/s; with one endpoint hanging, the
others' p99 within 20 % (of the same set-up with no endpoint hanging).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

TARGETS = {"deliveries_per_second": 500, "steady_p99_seconds": 1.0, "hanging_p99_ratio": 1.2}


# -- the receiver (a child process) ------------------------------------------------------------------------


def run_receiver(port: int, hang_seconds: float) -> None:
    from aiohttp import web

    records: list[tuple[str, str, float]] = []

    async def ok(request: web.Request) -> web.Response:
        await request.read()
        records.append((request.headers.get("webhook-id", ""), request.path, time.time()))
        return web.Response(status=200)

    async def hang(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(hang_seconds)
        return web.Response(status=200)

    async def stats(request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")
        return web.json_response([r for r in records if r[1].startswith(prefix)])

    async def count(request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")
        return web.json_response(sum(1 for r in records if r[1].startswith(prefix)))

    app = web.Application()
    app.router.add_post("/ok/{tail:.*}", ok)
    app.router.add_post("/hang/{tail:.*}", hang)
    app.router.add_get("/stats", stats)
    app.router.add_get("/count", count)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, shutdown_timeout=1)


# -- helpers -------------------------------------------------------------------------------------------------


def machine() -> dict:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError):
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory": memory, "python": platform.python_version(),
            "platform": platform.platform()}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarize(latencies: list[float]) -> dict:
    return {
        "count": len(latencies),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p90_ms": round(percentile(latencies, 90) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
    }


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.commits: dict[str, float] = {}
        self.stack = contextlib.AsyncExitStack()

    # -- set-up ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        from invora.auth.keys import generate_private_key_pem, public_key_pem, sign_token
        from invora.bus.connection import BrokerConnection
        from invora.db.engine import Database
        from invora.db.migrate import upgrade
        from invora.events.topics import ALL_TOPICS
        from invora.infra.ports import free_port, wait_for_port
        from invora.infra.postgres import database_urls, ensure_databases
        from invora.outbox.relay import OutboxRelay

        workdir = Path(tempfile.mkdtemp(prefix="invora-bench-webhooks-"))
        self.stack.callback(shutil.rmtree, workdir, True)
        admin_dsn = os.environ.get("DATABASE_URL", "").replace("postgresql+asyncpg://", "postgresql://")
        if not admin_dsn:
            from invora.infra.postgres import EmbeddedPostgres

            postgres = EmbeddedPostgres(workdir / "pg")
            postgres.start()
            self.stack.callback(postgres.stop)
            admin_dsn = postgres.dsn
        kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if not kafka:
            from invora.infra.kafka import EmbeddedKafka

            broker = EmbeddedKafka(log_file=workdir / "kafka.log")
            broker.start()
            self.stack.callback(broker.stop)
            kafka = broker.bootstrap_servers

        suffix = uuid.uuid4().hex[:8]
        names = [f"bench_notifications_{suffix}", f"bench_producer_{suffix}"]
        await ensure_databases(admin_dsn, names)
        urls = database_urls(admin_dsn, names)
        for name in names:  # the producer only needs the platform (outbox) tables; any service migration has them
            await asyncio.to_thread(upgrade, "notifications", urls[name])

        private = generate_private_key_pem()
        (workdir / "public.pem").write_bytes(public_key_pem(private))
        self.organization_key = lambda org: sign_token(private, organization_id=org, roles=["admin"])

        # the receiver
        self.receiver_port = free_port("127.0.0.1")
        receiver = _spawn(
            [sys.executable, __file__, "--receiver", str(self.receiver_port), str(self.args.hang_seconds)],
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.stack.callback(_stop_process, receiver)
        wait_for_port("127.0.0.1", self.receiver_port, 20)

        # the notifications service
        self.service_port = free_port("127.0.0.1")
        env = {
            **os.environ,
            "INVORA_NOTIFICATIONS_DATABASE_URL": urls[names[0]],
            "INVORA_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "INVORA_AUTH_PUBLIC_KEYS": str(workdir / "public.pem"),
            "INVORA_DEV_MODE": "true",
            "INVORA_LOG_LEVEL": "WARNING",
            "INVORA_NOTIFICATIONS_PORT": str(self.service_port),
        }
        log = _open_log(workdir / "notifications.log")
        self.stack.callback(log.close)
        service = _spawn(
            [sys.executable, "-m", "uvicorn", "notifications.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.service_port), "--no-access-log", "--log-level", "warning"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        self.stack.callback(_stop_process, service)
        self.service_log = workdir / "notifications.log"

        import httpx

        self.http = httpx.AsyncClient(timeout=30)
        self.stack.push_async_callback(self.http.aclose)
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await self.http.get(f"http://127.0.0.1:{self.service_port}/ready")).status_code == 200:
                    break
            if time.monotonic() > deadline or service.poll() is not None:
                raise RuntimeError(f"the notifications service did not start; see {self.service_log}")
            await asyncio.sleep(0.2)

        # this process as the producing service
        self.notifications_dsn = urls[names[0]].replace("postgresql+asyncpg://", "postgresql://")
        self.database = Database(urls[names[1]], pool_size=20)
        self.stack.push_async_callback(self.database.dispose)
        broker_link = BrokerConnection(kafka, client_id="bench-producer", topics=ALL_TOPICS, partitions=3,
                                       replication_factor=1)
        await broker_link.start()
        self.stack.push_async_callback(broker_link.stop)
        relay = OutboxRelay(self.database.asyncpg_dsn, broker_link, service="bench-producer", poll_interval=0.5)
        await relay.start()
        self.stack.push_async_callback(relay.stop)

    async def stop(self) -> None:
        await self.stack.aclose()

    # -- actions -----------------------------------------------------------------------------------------
    async def endpoints(self, org: uuid.UUID, paths: list[str]) -> list[str]:
        headers = {"Authorization": f"Bearer {self.organization_key(org)}"}
        created = []
        for path in paths:
            response = await self.http.post(
                f"http://127.0.0.1:{self.service_port}/api/v1/webhook_endpoints", headers=headers,
                json={"webhook_endpoint": {"webhook_url": f"http://127.0.0.1:{self.receiver_port}{path}",
                                           "signature_algo": self.args.signature_algo}},
            )
            response.raise_for_status()
            created.append(response.json()["webhook_endpoint"]["lago_id"])
        return created

    async def delete_endpoint(self, org: uuid.UUID, lago_id: str) -> None:
        response = await self.http.delete(
            f"http://127.0.0.1:{self.service_port}/api/v1/webhook_endpoints/{lago_id}",
            headers={"Authorization": f"Bearer {self.organization_key(org)}"},
        )
        response.raise_for_status()

    async def emit(self, org: uuid.UUID, count: int = 1) -> None:
        """`count` events in one transaction; each one's latency starts at that commit."""
        from invora.outbox import add_event

        async with self.database.sessionmaker() as session:
            envelopes = [
                await add_event(
                    session, type="invoice.finalized", organization_id=org, aggregate_type="invoice",
                    aggregate_id=str(uuid.uuid4()),
                    data={"invoice": {"lago_id": str(uuid.uuid4()), "total_amount_cents": 12345, "currency": "EUR"}},
                    source="bench-producer",
                )
                for _ in range(count)
            ]
            await session.commit()
        committed = time.time()
        for envelope in envelopes:
            self.commits[str(envelope.id)] = committed

    async def received(self, prefix: str) -> list[tuple[str, str, float]]:
        response = await self.http.get(f"http://127.0.0.1:{self.receiver_port}/stats", params={"prefix": prefix})
        return [tuple(r) for r in response.json()]

    async def wait_received(self, prefix: str, expected: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = await self.http.get(f"http://127.0.0.1:{self.receiver_port}/count", params={"prefix": prefix})
            if response.json() >= expected:
                return True
            await asyncio.sleep(0.2)
        return False

    async def breakdown(self, org: uuid.UUID, endpoint_path_prefix: str) -> dict:
        """Where the time went, from the service's own records: commit -> fanned out -> first attempt."""
        import asyncpg

        conn = await asyncpg.connect(self.notifications_dsn)
        try:
            rows = await conn.fetch(
                """
                SELECT m.event_id::text AS event_id, m.created_at AS fanned_out_at,
                       (SELECT min(a.attempted_at) FROM webhook_attempts a WHERE a.delivery_id = d.id) AS attempted_at
                FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
                JOIN webhook_endpoints e ON e.id = d.endpoint_id
                WHERE d.organization_id = $1 AND e.webhook_url LIKE '%' || $2 || '%'
                """,
                org, endpoint_path_prefix,
            )
        finally:
            await conn.close()
        to_fanout = [r["fanned_out_at"].timestamp() - self.commits[r["event_id"]] for r in rows
                     if r["event_id"] in self.commits]
        to_attempt = [(r["attempted_at"] - r["fanned_out_at"]).total_seconds() for r in rows if r["attempted_at"]]
        return {"commit_to_fanout": summarize(to_fanout), "fanout_to_first_attempt": summarize(to_attempt)}

    def latencies(self, records) -> list[float]:
        return [max(0.0, arrived - self.commits[wid]) for wid, _path, arrived in records if wid in self.commits]

    # -- scenarios -----------------------------------------------------------------------------------------
    async def warm_up(self) -> None:
        org = uuid.uuid4()
        await self.endpoints(org, ["/ok/warmup"])
        for _ in range(50):
            await self.emit(org)
        await self.wait_received("/ok/warmup", 50, 60)

    async def throughput(self, events: int, fanout: int) -> dict:
        org = uuid.uuid4()
        tag = f"/ok/tp{fanout}-{org.hex[:6]}"
        await self.endpoints(org, [f"{tag}/{i}" for i in range(fanout)])
        started = time.time()
        per_transaction = self.args.events_per_transaction
        queue = iter(range(0, events, per_transaction))

        async def producer_task() -> None:
            for first in queue:
                await self.emit(org, min(per_transaction, events - first))

        await asyncio.gather(*(producer_task() for _ in range(8)))
        produced = time.time()
        expected = events * fanout
        complete = await self.wait_received(tag, expected, 300)
        records = await self.received(tag)
        last = max(r[2] for r in records) if records else time.time()
        elapsed = last - started
        return {
            "events": events, "events_per_transaction": per_transaction, "endpoints_per_event": fanout,
            "deliveries_expected": expected,
            "deliveries_received": len(records), "complete": complete,
            "produce_seconds": round(produced - started, 2), "elapsed_seconds": round(elapsed, 2),
            "deliveries_per_second": round(len(records) / elapsed, 1) if elapsed > 0 else None,
            "events_per_second": round(len(records) / fanout / elapsed, 1) if elapsed > 0 else None,
            "latency_commit_to_receipt": summarize(self.latencies(records)),
            "breakdown": await self.breakdown(org, tag),
        }

    async def steady(self, rate: float, duration: float, second: str | None = None) -> dict:
        """One phase of `rate` events/s to the measured endpoint, plus (`second`) another endpoint of the
        organization receiving every event: "fast" or "hanging". The raw latencies ride along to be pooled."""
        org = uuid.uuid4()
        hanging = second == "hanging"
        tag = f"/ok/steady-{second or 'alone'}-{org.hex[:6]}"
        paths = [tag]
        if second == "fast":
            paths.append(f"/ok/second-{org.hex[:6]}")
        elif hanging:
            paths.append(f"/hang/{org.hex[:6]}")
        endpoint_ids = await self.endpoints(org, paths)
        count = int(rate * duration)
        started = time.monotonic()
        tasks: list[asyncio.Task] = []
        behind = 0.0
        for i in range(count):
            due = started + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                behind = max(behind, -delay)
            tasks.append(asyncio.create_task(self.emit(org)))
        await asyncio.gather(*tasks)
        complete = await self.wait_received(tag, count, 120)
        if second == "fast":
            await self.wait_received(f"/ok/second-{org.hex[:6]}", count, 60)
        if hanging:  # its backlog of retries must not weigh on the phases after this one
            await self.delete_endpoint(org, endpoint_ids[1])
        records = await self.received(tag)
        latencies = self.latencies(records)
        result = {
            "target_rate_per_second": rate, "duration_seconds": duration, "deliveries_expected": count,
            "deliveries_received": len(records), "complete": complete,
            "producer_max_lag_seconds": round(behind, 3),
            "latency_commit_to_receipt": summarize(latencies),
            "breakdown": await self.breakdown(org, tag),
            "_latencies": latencies,
        }
        if hanging:
            result["hanging_endpoint"] = {"receives_every_event": True,
                                          "answers_after_seconds": self.args.hang_seconds,
                                          "service_timeout_seconds": 15}
        return result


def _pool(runs: list[dict]) -> dict:
    pooled = [latency for run in runs for latency in run.pop("_latencies")]
    return {
        "runs": len(runs),
        "deliveries_expected": sum(r["deliveries_expected"] for r in runs),
        "deliveries_received": sum(r["deliveries_received"] for r in runs),
        "complete": all(r["complete"] for r in runs),
        "latency_commit_to_receipt": summarize(pooled),
        "per_run": runs,
        **({"hanging_endpoint": runs[0]["hanging_endpoint"]} if "hanging_endpoint" in runs[0] else {}),
    }


def _spawn(command: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(command, **kwargs)


def _open_log(path: Path):
    return open(path, "wb")  # noqa: SIM115 - closed by the exit stack


def _stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


async def main(args: argparse.Namespace) -> dict:
    from invora.logging import configure_logging

    configure_logging("WARNING")  # stdout carries the JSON result only
    load_before = os.getloadavg()
    bench = Bench(args)
    await bench.start()
    try:
        await bench.warm_up()
        results: dict = {}
        only = set(args.only.split(",")) if args.only else None
        scenarios = {
            "throughput": lambda: bench.throughput(args.events, args.fanout),
            "throughput_one_endpoint": lambda: bench.throughput(args.events, 1),
        }
        for name, scenario in scenarios.items():
            if only is None or name in only:
                results[name] = await scenario()
        # the steady phases alternate (steady, two fast endpoints, one hanging, steady, ...) so that drift in
        # the machine's load (a shared 2-core box) hits all alike; latencies are pooled per condition
        runs: dict[str, list[dict]] = {"steady": [], "steady_two_endpoints": [], "steady_hanging": []}
        second = {"steady": None, "steady_two_endpoints": "fast", "steady_hanging": "hanging"}
        for _round in range(args.rounds):
            for name in runs:
                if only is None or name in only:
                    runs[name].append(await bench.steady(args.rate, args.duration, second[name]))
        for name, phase_runs in runs.items():
            if phase_runs:
                results[name] = _pool(phase_runs)
    finally:
        await bench.stop()
    host = {**machine(), "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}
    return {"benchmark": "webhooks", "machine": host, "parameters": _parameters(args), "results": results,
            "targets": _verdict(args, results)}


def _verdict(args: argparse.Namespace, results: dict) -> dict:
    verdict: dict = {}
    for name, key in (("throughput", "deliveries_per_second"),
                      ("throughput_one_endpoint", "deliveries_per_second_one_endpoint_per_event")):
        if name in results:
            measured = results[name]["deliveries_per_second"] or 0
            verdict[key] = {"target": f">= {TARGETS['deliveries_per_second']}", "measured": measured,
                            "met": measured >= TARGETS["deliveries_per_second"]}
    if "steady" in results:
        steady_p99 = results["steady"]["latency_commit_to_receipt"]["p99_ms"] / 1000
        verdict["steady_p99"] = {"target": f"< {TARGETS['steady_p99_seconds']} s at {args.rate}/s",
                                 "measured_seconds": steady_p99, "met": steady_p99 < TARGETS["steady_p99_seconds"]}
    if "steady_hanging" in results:
        hanging_p99 = results["steady_hanging"]["latency_commit_to_receipt"]["p99_ms"] / 1000
        limit = TARGETS["hanging_p99_ratio"]
        for baseline, label in (("steady_two_endpoints", "the same two endpoints, both answering"),
                                ("steady", "one endpoint alone")):
            if baseline not in results:
                continue
            base_p99 = results[baseline]["latency_commit_to_receipt"]["p99_ms"] / 1000
            verdict[f"hanging_endpoint_p99_vs_{baseline}"] = {
                "target": f"healthy endpoint's p99 within {round((limit - 1) * 100)} % of {label}",
                "baseline_seconds": base_p99, "measured_seconds": hanging_p99,
                "ratio": round(hanging_p99 / base_p99, 3) if base_p99 else None,
                "met": hanging_p99 <= base_p99 * limit,
            }
    return verdict


def _parameters(args: argparse.Namespace) -> dict:
    return {
        "events": args.events, "events_per_transaction": args.events_per_transaction, "fanout": args.fanout,
        "rate_per_second": args.rate,
        "duration_seconds": args.duration, "rounds": args.rounds, "signature_algo": args.signature_algo,
        "hang_seconds": args.hang_seconds,
        "infrastructure": {"postgres": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded",
                           "kafka": "KAFKA_BOOTSTRAP_SERVERS" if os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
                           else "embedded (Tansu)"},
        "notifications_settings": "defaults (worker_concurrency 256, per_endpoint_concurrency 32, "
                                  "timeout 15 s) + dev mode for the loopback receiver",
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (smaller burst, 5 s steady phases)")
    parser.add_argument("--events", type=int, default=2000, help="events in the throughput burst")
    parser.add_argument("--fanout", type=int, default=4, help="endpoints per event in the throughput burst")
    parser.add_argument("--events-per-transaction", type=int, default=10,
                        help="events per producing transaction in the bursts (the steady phases commit one by one)")
    parser.add_argument("--rate", type=float, default=250.0, help="deliveries per second in the steady phases")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of each steady phase")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the alternated steady phases")
    parser.add_argument("--signature-algo", default="hmac", choices=["hmac", "jwt"])
    parser.add_argument("--hang-seconds", type=float, default=60.0, help="how long the hanging endpoint stalls")
    parser.add_argument("--only", help="comma-separated scenarios: throughput, throughput_one_endpoint, steady, "
                        "steady_two_endpoints, steady_hanging")
    parser.add_argument("--receiver", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.events, args.duration, args.rounds = min(args.events, 500), min(args.duration, 5.0), 1
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.receiver:
        run_receiver(int(arguments.receiver[0]), float(arguments.receiver[1]))
    else:
        print(json.dumps(asyncio.run(main(arguments)), indent=2))
