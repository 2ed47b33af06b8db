"""Webhook fan-out benchmark: deliveries/s, and latency from the producing commit to receipt.

    flock /tmp/bench.lock uv run python bench/webhooks.py           # full run (~12 minutes), one JSON document
    flock /tmp/bench.lock uv run python bench/webhooks.py \
        --only steady,steady_two_endpoints,steady_hanging,steady_hanging_long   # the steady runs alone (~11 minutes)
    uv run python bench/webhooks.py --quick                         # short smoke run (not a measurement)

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
                         the first endpoint's latency (the baseline of the isolation target)
  steady_hanging         the same, but the second endpoint never answers (15 s timeouts, its 32 slots held,
                         its backlog growing by `rate`/s); the first endpoint's latency
  steady_hanging_long    the same, with an endpoint that has been hanging for `long_hang_minutes` (10) already:
                         its due backlog (150,000 rows at 250/s) is in place when the run starts. A cost that
                         grows with the backlog shows here, not in a 30 s run of `steady_hanging`

How the steady figures are made robust (a 2-core machine shared with other work: the p99 of
one 15 s run is set by the two or three worst stalls in it, a GC pause, a checkpoint, another
process's burst, so single runs of the same condition differ by a factor of 1.5):
  - each condition runs `rounds` times (default 4 x 30 s: 7,500 deliveries, so a run's p99 is
    its 75th-worst latency), and the conditions are interleaved: round r runs them in an order
    rotated by r, so with 4 conditions and 4 rounds each takes each place (first, after the
    hanging run, ...) once and slow drift of the machine's load falls on all of them alike;
  - what a run leaves behind is paid for before the next starts (the hanging endpoint is deleted
    with its backlog, then the webhook tables are vacuumed and a checkpoint written), so a run
    does not inherit its predecessor's cleanup;
  - every run is reported (`per_run`, and a line on stderr as it finishes) with the 1-minute load
    average at its start, its p99 by thirds of the run (a cost that grows with the hanging
    endpoint's backlog shows as a rising third), and the service's claim queries in the run with
    the rows of the due-deliveries index they read (PostgreSQL statistics, flushed about once a
    second, so approximate at the edges);
  - a condition's figure is the **median of its per-run p99s** (one disturbed run cannot move it),
    shown with the min and max; the isolation target compares medians (`ratio_of_medians`), and
    the ratios of the runs paired by round are listed too (their spread is the noise to expect);
  - the latency is also split, from the service's own rows, into the pipeline before the worker
    (commit -> fanned out: relay, Kafka, consumer, the same work in every condition and where a
    busy machine's stalls land) and the worker's share (fanned out -> first attempt: claim and
    send, the only place another endpoint could cost anything); `worker_share_ratio_of_medians`
    compares the latter.

Targets (issue 3): >= 500 deliveries/s; p99 < 1 s at 250/s; with one endpoint hanging (just
started, or for a while), the others' p99 within 20 % (of the same set-up with no endpoint
hanging, `steady_two_endpoints`).
Compared with that baseline the hanging case sends half the requests (the hanging endpoint
gets 32 every 15 s), so a ratio below 1 is expected; `steady` (one endpoint alone) is the
other bound: the same requests, but half the delivery rows.
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
# condition -> what the measured endpoint's organization has besides it
STEADY = {"steady": None, "steady_two_endpoints": "fast", "steady_hanging": "hanging",
          "steady_hanging_long": "hanging_long"}
_DUE_INDEX = "ix_webhook_deliveries_due"


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
        from invora.secrets import generate_key_entry

        env = {
            **os.environ,
            "INVORA_NOTIFICATIONS_DATABASE_URL": urls[names[0]],
            "INVORA_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "INVORA_AUTH_PUBLIC_KEYS": str(workdir / "public.pem"),
            "INVORA_DEV_MODE": "true",
            "INVORA_LOG_LEVEL": "WARNING",
            "INVORA_NOTIFICATIONS_PORT": str(self.service_port),
            "INVORA_SECRETS_KEY": os.environ.get("INVORA_SECRETS_KEY") or generate_key_entry(),
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
        scans_before, rows_before = await self.claim_counters()
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
        scans_after, rows_after = await self.claim_counters()
        last = max(r[2] for r in records) if records else time.time()
        elapsed = last - started
        scans = scans_after - scans_before
        return {
            "events": events, "events_per_transaction": per_transaction, "endpoints_per_event": fanout,
            "deliveries_expected": expected,
            "deliveries_received": len(records), "complete": complete,
            "produce_seconds": round(produced - started, 2), "elapsed_seconds": round(elapsed, 2),
            "deliveries_per_second": round(len(records) / elapsed, 1) if elapsed > 0 else None,
            "events_per_second": round(len(records) / fanout / elapsed, 1) if elapsed > 0 else None,
            "latency_commit_to_receipt": summarize(self.latencies(records)),
            "claim_queries": scans,
            "due_index_rows_read_per_claim": round((rows_after - rows_before) / scans, 1) if scans else None,
            "breakdown": await self.breakdown(org, tag),
        }

    async def between_runs(self) -> float:
        """Pay for the last run before the next one starts: vacuum what it left (a deleted hanging endpoint's
        backlog: 150,000 rows after `steady_hanging_long`) and write the dirty pages out, then settle."""
        import asyncpg

        started = time.monotonic()
        conn = await asyncpg.connect(self.notifications_dsn)
        try:
            await conn.execute("VACUUM (ANALYZE) webhook_deliveries, webhook_attempts, webhook_messages")
            with contextlib.suppress(asyncpg.PostgresError):  # needs the pg_checkpoint role on a shared server
                await conn.execute("CHECKPOINT")
        finally:
            await conn.close()
        await asyncio.sleep(self.args.settle)
        return time.monotonic() - started

    async def claim_counters(self) -> tuple[int, int]:
        """(scans, index rows read) of the due-deliveries index so far: one scan per claim query."""
        import asyncpg

        conn = await asyncpg.connect(self.notifications_dsn)
        try:
            row = await conn.fetchrow(
                "SELECT idx_scan, idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = $1", _DUE_INDEX
            )
        finally:
            await conn.close()
        return (int(row["idx_scan"]), int(row["idx_tup_read"])) if row else (0, 0)

    async def steady(self, rate: float, duration: float, second: str | None = None) -> dict:
        """One run of `rate` events/s to the measured endpoint, plus (`second`) another endpoint of the
        organization receiving every event: "fast" or "hanging"."""
        org = uuid.uuid4()
        hanging = second in ("hanging", "hanging_long")
        tag = f"/ok/steady-{second or 'alone'}-{org.hex[:6]}"
        paths = [tag]
        if second == "fast":
            paths.append(f"/ok/second-{org.hex[:6]}")
        elif hanging:
            paths.append(f"/hang/{org.hex[:6]}")
        endpoint_ids = await self.endpoints(org, paths)
        backlog = int(rate * self.args.long_hang_minutes * 60) if second == "hanging_long" else 0
        if backlog:
            await self.seed_backlog(org, uuid.UUID(endpoint_ids[1]), backlog, self.args.long_hang_minutes * 60)
        load = os.getloadavg()[0]
        scans_before, rows_before = await self.claim_counters()
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
        scans_after, rows_after = await self.claim_counters()
        if second == "fast":
            await self.wait_received(f"/ok/second-{org.hex[:6]}", count, 60)
        if hanging:  # its backlog of retries must not weigh on the runs after this one
            await self.delete_endpoint(org, endpoint_ids[1])
        records = await self.received(tag)
        latencies = self.latencies(records)
        scans = scans_after - scans_before
        result = {
            "condition": _condition_of(second), "target_rate_per_second": rate, "duration_seconds": duration,
            "deliveries_expected": count, "deliveries_received": len(records), "complete": complete,
            "producer_max_lag_seconds": round(behind, 3), "load_average_1m_at_start": round(load, 2),
            "latency_commit_to_receipt": summarize(latencies),
            "p99_ms_by_third": self.p99_by_third(records),
            "claim_queries": scans,
            "due_index_rows_read_per_claim": round((rows_after - rows_before) / scans, 1) if scans else None,
            "breakdown": await self.breakdown(org, tag),
        }
        if hanging:
            result["hanging_endpoint"] = {"receives_every_event": True,
                                          "answers_after_seconds": self.args.hang_seconds,
                                          "service_timeout_seconds": 15, "due_backlog_at_start": backlog}
        return result

    async def seed_backlog(self, org: uuid.UUID, endpoint_id: uuid.UUID, count: int, span_seconds: float) -> None:
        """What a hang of `span_seconds` leaves: `count` pending deliveries, due since then, never attempted."""
        from datetime import UTC, datetime, timedelta

        import asyncpg

        now = datetime.now(UTC)
        message_id = uuid.uuid4()
        conn = await asyncpg.connect(self.notifications_dsn)
        try:
            await conn.execute(
                "INSERT INTO webhook_messages (id, organization_id, event_id, event_type, object_type, aggregate_id, "
                "sequence, payload, occurred_at, created_at) VALUES ($1, $2, $3, 'invoice.finalized', 'invoice', "
                "'backlog', 1, '{}', $4, $4)", message_id, org, uuid.uuid4(), now - timedelta(seconds=span_seconds))
            step = span_seconds / count
            records = []
            for i in range(count):
                at = now - timedelta(seconds=span_seconds - i * step)
                records.append((uuid.uuid4(), org, message_id, endpoint_id, "invoice.finalized", "pending", 0, at, at,
                                at))
            await conn.copy_records_to_table(
                "webhook_deliveries", records=records,
                columns=["id", "organization_id", "message_id", "endpoint_id", "event_type", "status", "attempt_count",
                         "next_attempt_at", "created_at", "updated_at"])
        finally:
            await conn.close()

    def p99_by_third(self, records) -> list[float]:
        """p99 (ms) of the events committed in each third of the run, in commit order."""
        timed = sorted((self.commits[wid], max(0.0, arrived - self.commits[wid]))
                       for wid, _path, arrived in records if wid in self.commits)
        size = max(1, len(timed) // 3)
        thirds = [timed[:size], timed[size : 2 * size], timed[2 * size :]]
        return [round(percentile([latency for _c, latency in third], 99) * 1000, 1) for third in thirds]


def _condition_of(second: str | None) -> str:
    return next(name for name, kind in STEADY.items() if kind == second)


def _rotated(names: list[str], round_index: int) -> list[str]:
    """Round r runs the conditions rotated by r: over len(names) rounds each takes each place once."""
    shift = round_index % len(names) if names else 0
    return names[shift:] + names[:shift]


def _ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 3) if value is not None and base else None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _condition_summary(runs: list[dict]) -> dict:
    p99s = [r["latency_commit_to_receipt"]["p99_ms"] for r in runs]
    p50s = [r["latency_commit_to_receipt"]["p50_ms"] for r in runs]
    summary = {
        "runs": len(runs),
        "p99_ms_median": _median(p99s), "p99_ms_min": min(p99s), "p99_ms_max": max(p99s), "p99_ms_per_run": p99s,
        "p50_ms_median": _median(p50s),
        # the two shares of the latency, from the service's rows: the pipeline before the worker (relay, Kafka,
        # fan-out: the same work in every condition) and the worker's (claim, send), where an endpoint could cost
        "fanout_to_first_attempt_p99_ms_median": _median(
            [r["breakdown"]["fanout_to_first_attempt"]["p99_ms"] for r in runs]),
        "commit_to_fanout_p99_ms_median": _median([r["breakdown"]["commit_to_fanout"]["p99_ms"] for r in runs]),
        "deliveries_expected": sum(r["deliveries_expected"] for r in runs),
        "deliveries_received": sum(r["deliveries_received"] for r in runs),
        "complete": all(r["complete"] for r in runs),
        "claim_queries_per_run_median": _median([r["claim_queries"] for r in runs]),
        "due_index_rows_read_per_claim_median": _median(
            [r["due_index_rows_read_per_claim"] for r in runs if r["due_index_rows_read_per_claim"] is not None]),
        "per_run": runs,
    }
    if "hanging_endpoint" in runs[0]:
        summary["hanging_endpoint"] = runs[0]["hanging_endpoint"]
    return summary


def _run_line(round_index: int, rounds: int, run: dict) -> str:
    latency = run["latency_commit_to_receipt"]
    return (f"round {round_index + 1}/{rounds} {run['condition']:<21} p50 {latency['p50_ms']:7.1f} ms  "
            f"p99 {latency['p99_ms']:7.1f} ms  max {latency['max_ms'] or 0:7.1f} ms  "
            f"p99 by third {run['p99_ms_by_third']}  n={latency['count']}  load {run['load_average_1m_at_start']}  "
            f"claims {run['claim_queries']} ({run['due_index_rows_read_per_claim']} rows each)  "
            f"cleanup {run['cleanup_seconds_after']} s")


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
        names = [name for name in STEADY if only is None or name in only]
        runs: dict[str, list[dict]] = {name: [] for name in names}
        if names:
            await bench.between_runs()  # the bursts' rows, before the first steady run
        for round_index in range(args.rounds):
            for name in _rotated(names, round_index):
                run = await bench.steady(args.rate, args.duration, STEADY[name])
                run["cleanup_seconds_after"] = round(await bench.between_runs(), 1)
                runs[name].append(run)
                print(_run_line(round_index, args.rounds, run), file=sys.stderr, flush=True)
        for name, condition_runs in runs.items():
            results[name] = _condition_summary(condition_runs)
            summary = results[name]
            print(f"{name:<21} p99 median {summary['p99_ms_median']} ms (min {summary['p99_ms_min']}, "
                  f"max {summary['p99_ms_max']}; per run {summary['p99_ms_per_run']}); worker share p99 median "
                  f"{summary['fanout_to_first_attempt_p99_ms_median']} ms", file=sys.stderr, flush=True)
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
        steady_p99 = results["steady"]["p99_ms_median"] / 1000
        verdict["steady_p99"] = {"target": f"< {TARGETS['steady_p99_seconds']} s at {args.rate}/s",
                                 "measured_seconds": steady_p99, "measure": "median of the per-run p99s",
                                 "met": steady_p99 < TARGETS["steady_p99_seconds"]}
    limit = TARGETS["hanging_p99_ratio"]
    for condition, prefix in (("steady_hanging", "hanging_endpoint"), ("steady_hanging_long", "long_hanging_endpoint")):
        if condition not in results:
            continue
        hanging = results[condition]
        for baseline, label in (("steady_two_endpoints", "the same two endpoints, both answering"),
                                ("steady", "one endpoint alone")):
            if baseline not in results:
                continue
            base = results[baseline]
            ratio = hanging["p99_ms_median"] / base["p99_ms_median"] if base["p99_ms_median"] else None
            paired = [round(h / b, 3) for h, b in zip(hanging["p99_ms_per_run"], base["p99_ms_per_run"], strict=True)
                      if b]
            verdict[f"{prefix}_p99_vs_{baseline}"] = {
                "target": f"healthy endpoint's p99 within {round((limit - 1) * 100)} % of {label}",
                "measure": "ratio of the medians of the per-run p99s",
                "baseline_p99_ms_median": base["p99_ms_median"], "hanging_p99_ms_median": hanging["p99_ms_median"],
                "ratio_of_medians": round(ratio, 3) if ratio is not None else None,
                "paired_run_ratios": paired, "paired_run_ratio_median": _median(paired) if paired else None,
                "met": ratio is not None and ratio <= limit,
                "worker_share_ratio_of_medians": _ratio(hanging["fanout_to_first_attempt_p99_ms_median"],
                                                        base["fanout_to_first_attempt_p99_ms_median"]),
            }
    return verdict


def _parameters(args: argparse.Namespace) -> dict:
    return {
        "events": args.events, "events_per_transaction": args.events_per_transaction, "fanout": args.fanout,
        "rate_per_second": args.rate,
        "duration_seconds": args.duration, "rounds": args.rounds, "settle_seconds": args.settle,
        "signature_algo": args.signature_algo,
        "hang_seconds": args.hang_seconds, "long_hang_minutes": args.long_hang_minutes,
        "infrastructure": {"postgres": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded",
                           "kafka": "KAFKA_BOOTSTRAP_SERVERS" if os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
                           else "embedded (Tansu)"},
        "notifications_settings": "defaults (worker_concurrency 256, per_endpoint_concurrency 32, "
                                  "timeout 15 s) + dev mode for the loopback receiver",
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run (smaller burst, one round of 5 s runs)")
    parser.add_argument("--events", type=int, default=2000, help="events in the throughput burst")
    parser.add_argument("--fanout", type=int, default=4, help="endpoints per event in the throughput burst")
    parser.add_argument("--events-per-transaction", type=int, default=10,
                        help="events per producing transaction in the bursts (the steady phases commit one by one)")
    parser.add_argument("--rate", type=float, default=250.0, help="deliveries per second in the steady phases")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of each steady run")
    parser.add_argument("--rounds", type=int, default=4,
                        help="runs of each steady condition, interleaved (a multiple of the number of conditions "
                        "puts each condition in each place of the order equally often)")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="pause between steady runs, after vacuuming what the last one left (seconds)")
    parser.add_argument("--signature-algo", default="hmac", choices=["hmac", "jwt"])
    parser.add_argument("--hang-seconds", type=float, default=60.0, help="how long the hanging endpoint stalls")
    parser.add_argument("--long-hang-minutes", type=float, default=10.0,
                        help="steady_hanging_long: how long the endpoint has been hanging when the run starts (its "
                        "due backlog is this many minutes of `rate`)")
    parser.add_argument("--only", help="comma-separated scenarios: throughput, throughput_one_endpoint, steady, "
                        "steady_two_endpoints, steady_hanging, steady_hanging_long")
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
