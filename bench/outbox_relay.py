"""Outbox relay benchmark: commit → Kafka throughput and latency.

    uv run python bench/outbox_relay.py [--events 50000] [--rate 1000] [--duration 20] ...

Starts an embedded PostgreSQL and the Tansu broker (or uses DATABASE_URL /
KAFKA_BOOTSTRAP_SERVERS), creates a fresh database with the platform tables through the
catalog service's migration, runs one OutboxRelay on a BrokerConnection in this process,
and drives it with writer *processes* that insert events with `add_event`, as services do.

Phases:
  burst    N events written by concurrent writers while the relay runs; throughput is
           N / (last broker ack - writers' start), i.e. from commit to Kafka ack;
  backlog  N events already committed, the relay started afterwards: its drain rate alone;
  latency  a steady rate (one event per transaction) for a while; for each event, from
           the writer's commit (time.time() right after COMMIT returns) to the broker's ack
           of the relay's publish, and to the moment a consumer reading the topic sees it.

Prints one JSON document on stdout (logs go to stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import logging
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

ORG = uuid.UUID("00000000-0000-0000-0000-0000000000b1")
BURST_TOPIC_TYPE = "bench_burst"
BACKLOG_TOPIC_TYPE = "bench_backlog"
LATENCY_TOPIC_TYPE = "bench_latency"


# -- writers (run in child processes) ------------------------------------------------------------------


def write_events(
    url: str, aggregate_type: str, total: int, tasks: int, events_per_tx: int, start_at: float,
    rate: float | None = None,
) -> dict:
    """Insert `total` events with `add_event` from `tasks` concurrent sessions; `rate` (events/s) paces them.

    Returns the commit time of every transaction's events when paced, else summary times.
    """
    return _run(_write_events(url, aggregate_type, total, tasks, events_per_tx, start_at, rate))


def _run(coro):
    """uvloop when installed (as under uvicorn, which services run on), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


async def _write_events(
    url: str, aggregate_type: str, total: int, tasks: int, events_per_tx: int, start_at: float,
    rate: float | None,
) -> dict:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from invora.outbox import add_event

    # Like invora.db.engine.Database but without pre-ping: a ping per transaction is load-generator
    # overhead that says nothing about the relay.
    engine = create_async_engine(url, pool_size=tasks, max_overflow=0)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    commits: list[tuple[str, float]] = []
    counts = [total // tasks + (1 if i < total % tasks else 0) for i in range(tasks)]
    first_commit = [float("inf")]
    last_commit = [0.0]

    async def run(task: int, count: int) -> None:
        per_task_rate = rate / tasks if rate else None
        aggregate = f"agg-{os.getpid()}-{task}"
        written = 0
        async with sessionmaker() as session:
            while written < count:
                if per_task_rate:
                    due = start_at + written / per_task_rate
                    if (delay := due - time.time()) > 0:
                        await asyncio.sleep(delay)
                n = min(events_per_tx, count - written)
                ids = []
                async with session.begin():
                    for k in range(n):
                        # a few aggregates per task: exercises the per-aggregate sequence upsert
                        envelope = await add_event(
                            session, type=f"{aggregate_type}.happened", organization_id=ORG,
                            aggregate_type=aggregate_type, aggregate_id=f"{aggregate}-{(written + k) % 8}",
                            data={"n": written + k, "pad": "x" * 200}, source="bench",
                        )
                        ids.append(str(envelope.id))
                committed_at = time.time()
                first_commit[0] = min(first_commit[0], committed_at)
                last_commit[0] = max(last_commit[0], committed_at)
                if rate:
                    commits.extend((event_id, committed_at) for event_id in ids)
                written += n

    # warm the pool before the common start so that connecting is not measured
    async with contextlib.AsyncExitStack() as stack:
        sessions = [await stack.enter_async_context(sessionmaker()) for _ in range(tasks)]
        for s in sessions:
            await s.connection()
    if (delay := start_at - time.time()) > 0:
        await asyncio.sleep(delay)
    await asyncio.gather(*(run(i, c) for i, c in enumerate(counts)))
    await engine.dispose()
    return {"commits": commits, "first_commit": first_commit[0], "last_commit": last_commit[0]}


# -- the relay side (this process) ----------------------------------------------------------------------


class AckClock:
    """Wraps the relay's publisher: counts acknowledged messages and notes when each was acked."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.acked = 0
        self.last_ack = 0.0
        self.ack_times: dict[str, float] = {}
        self.record_each = False
        self.batches = 0
        self._targets: list[tuple[int, asyncio.Future]] = []

    async def publish(self, messages: Sequence) -> None:
        await self.inner.publish(messages)
        now = time.time()
        self.batches += 1
        self.acked += len(messages)
        self.last_ack = now
        if self.record_each:
            for m in messages:
                self.ack_times.setdefault(m.event_id, now)
        for target, future in self._targets:
            if self.acked >= target and not future.done():
                future.set_result(now)

    def reset(self) -> None:
        self.acked, self.last_ack, self.batches = 0, 0.0, 0
        self.ack_times.clear()

    def when_acked(self, count: int) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._targets.append((count, future))
        return future


class CpuMeter:
    """CPU seconds used by each party (relay process, writers, local PostgreSQL, the broker) between marks."""

    def __init__(self, writer_pids: list[int], broker_pid: int | None, postgres_pid: int | None) -> None:
        import psutil

        self._psutil = psutil
        self.writer_pids = writer_pids
        self.broker_pid = broker_pid
        self.postgres_pid = postgres_pid  # the postmaster of the embedded server; its backends are children
        self._last = self._sample()
        self._wall = time.monotonic()

    def _cpu(self, pids) -> float:
        total = 0.0
        for pid in pids:
            with contextlib.suppress(Exception):
                t = self._psutil.Process(pid).cpu_times()
                total += t.user + t.system
        return total

    def _sample(self) -> dict[str, float]:
        postgres: list[int] = []
        if self.postgres_pid:
            with contextlib.suppress(Exception):
                root = self._psutil.Process(self.postgres_pid)
                postgres = [self.postgres_pid, *(c.pid for c in root.children(recursive=True))]
        return {
            "relay_process": self._cpu([os.getpid()]),
            "writers": self._cpu(self.writer_pids),
            "postgresql": self._cpu(postgres),
            "broker": self._cpu([self.broker_pid] if self.broker_pid else []),
        }

    def mark(self) -> dict[str, float]:
        """CPU seconds per party since the previous mark, and the wall time."""
        now, wall = self._sample(), time.monotonic()
        # backends that exited take their CPU time with them: a negative delta is clamped at 0
        used = {k: round(max(0.0, now[k] - self._last.get(k, 0.0)), 2) for k in now}
        used["wall_seconds"] = round(wall - self._wall, 2)
        self._last, self._wall = now, wall
        return used


def percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000, 2)

    return {
        "count": len(ordered), "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99), "max_ms": pct(100),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
    }


async def run_writers(pool, url, aggregate_type, total, writers, tasks, events_per_tx, rate=None, lead=2.5):
    """Start `writers` processes together (at now + lead seconds); returns (start_at, results)."""
    loop = asyncio.get_running_loop()
    start_at = time.time() + lead
    shares = [total // writers + (1 if i < total % writers else 0) for i in range(writers)]
    per_writer_rate = rate / writers if rate else None
    futures = [
        loop.run_in_executor(pool, write_events, url, aggregate_type, share, tasks, events_per_tx, start_at,
                             per_writer_rate)
        for share in shares
    ]
    return start_at, futures


async def main(args: argparse.Namespace) -> dict:
    from invora.bus.admin import ensure_topics
    from invora.bus.connection import BrokerConnection
    from invora.db.migrate import upgrade
    from invora.events.envelope import topic_for
    from invora.infra.kafka import EmbeddedKafka
    from invora.infra.postgres import EmbeddedPostgres, database_urls, ensure_databases
    from invora.outbox.relay import OutboxRelay

    load_at_start = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    async with contextlib.AsyncExitStack() as stack:
        # -- infrastructure
        admin_dsn = os.environ.get("DATABASE_URL")
        postgres_kind = "external"
        postgres_pid: int | None = None
        if not admin_dsn:
            data_dir = Path(tempfile.mkdtemp(prefix="invora-bench-pg-"))
            server = EmbeddedPostgres(data_dir / "data")
            server.start()
            stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
            stack.callback(server.stop)
            admin_dsn, postgres_kind = server.dsn, "embedded"
            postgres_pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        admin_dsn = admin_dsn.replace("postgresql+asyncpg://", "postgresql://")
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        kafka_kind = "external"
        if not bootstrap:
            broker_process = EmbeddedKafka()
            broker_process.start()
            stack.callback(broker_process.stop)
            bootstrap, kafka_kind = broker_process.bootstrap_servers, "embedded tansu"

        db_name = f"bench_outbox_{uuid.uuid4().hex[:8]}"
        await ensure_databases(admin_dsn, [db_name])
        url = database_urls(admin_dsn, [db_name])[db_name]
        upgrade("catalog", url)  # the platform tables, as every service's first migration creates them

        import asyncpg

        conn = await asyncpg.connect(admin_dsn)
        server_version = await conn.fetchval("SHOW server_version")
        await conn.close()

        topics = [topic_for(t) for t in (BURST_TOPIC_TYPE, BACKLOG_TOPIC_TYPE, LATENCY_TOPIC_TYPE)]
        await ensure_topics(bootstrap, topics, partitions=args.partitions)
        broker = BrokerConnection(bootstrap, client_id="bench", topics=topics, partitions=args.partitions,
                                  replication_factor=1)
        await broker.start(wait_seconds=30)
        stack.push_async_callback(broker.stop)
        assert broker.connected, "broker not reachable"
        clock = AckClock(broker)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")

        def new_relay() -> OutboxRelay:
            return OutboxRelay(dsn, clock, service="bench", batch_size=args.batch_size,
                               poll_interval=args.poll_interval)

        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=max(args.writers, args.latency_writers), mp_context=multiprocessing.get_context("spawn")
        )
        stack.callback(pool.shutdown, wait=True, cancel_futures=True)
        # start the worker processes (imports) before anything is timed
        await asyncio.gather(*(asyncio.get_running_loop().run_in_executor(pool, time.sleep, 0.5)
                               for _ in range(max(args.writers, args.latency_writers))))

        writer_pids = list(pool._processes)  # noqa: SLF001 - to account for the writers' CPU
        cpu = CpuMeter(writer_pids, broker_process.process.pid if kafka_kind != "external" else None, postgres_pid)
        results: dict = {}

        # -- burst: writers and relay at the same time
        relay = new_relay()
        stack.push_async_callback(relay.stop)
        await relay.start()
        clock.reset()
        done = clock.when_acked(args.events)
        start_at, futures = await run_writers(pool, url, BURST_TOPIC_TYPE, args.events, args.writers, args.tasks,
                                              args.events_per_tx)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        cpu.mark()
        writer_results = await asyncio.gather(*futures)
        last_ack = await asyncio.wait_for(done, 300)
        last_commit = max(r["last_commit"] for r in writer_results)
        results["burst"] = {
            "events": args.events,
            "events_per_transaction": args.events_per_tx,
            "seconds": round(last_ack - start_at, 3),
            "events_per_second": round(args.events / (last_ack - start_at)),
            "writers_commit_rate_events_per_second": round(args.events / (last_commit - start_at)),
            "ack_after_last_commit_ms": round((last_ack - last_commit) * 1000, 1),
            "relay_batches": clock.batches,
            "cpu_seconds": cpu.mark(),
        }
        await relay.stop()

        # -- backlog: everything committed first, then one relay drains it
        start_at, futures = await run_writers(pool, url, BACKLOG_TOPIC_TYPE, args.events, args.writers, args.tasks,
                                              max(args.events_per_tx, 50))
        await asyncio.gather(*futures)
        clock.reset()
        done = clock.when_acked(args.events)
        relay = new_relay()
        stack.push_async_callback(relay.stop)
        cpu.mark()
        started = time.time()
        await relay.start()
        finished = await asyncio.wait_for(done, 300)
        results["backlog"] = {
            "events": args.events,
            "seconds": round(finished - started, 3),
            "events_per_second": round(args.events / (finished - started)),
            "relay_batches": clock.batches,
            "cpu_seconds": cpu.mark(),
        }

        # -- latency: a steady rate, one event per transaction
        from aiokafka import AIOKafkaConsumer, TopicPartition

        latency_topic = topic_for(LATENCY_TOPIC_TYPE)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                    fetch_max_wait_ms=args.fetch_max_wait_ms)
        await consumer.start()
        stack.push_async_callback(consumer.stop)
        partitions = consumer.partitions_for_topic(latency_topic) or set()
        while not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001
            partitions = consumer.partitions_for_topic(latency_topic) or set()
        assignment = [TopicPartition(latency_topic, p) for p in sorted(partitions)]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        seen: dict[str, float] = {}
        awaited: set[str] | None = None  # once the writers are done: the ids not seen yet
        all_seen = asyncio.Event()
        consuming = True

        async def consume() -> None:
            while consuming:
                batches = await consumer.getmany(timeout_ms=100)
                now = time.time()
                for records in batches.values():
                    for record in records:
                        event_id = dict(record.headers)["event_id"].decode()
                        seen.setdefault(event_id, now)
                        if awaited is not None:
                            awaited.discard(event_id)
                if awaited is not None and not awaited:
                    all_seen.set()

        consumer_task = asyncio.create_task(consume())
        clock.reset()
        clock.record_each = True
        total = int(args.rate * args.duration)
        start_at, futures = await run_writers(pool, url, LATENCY_TOPIC_TYPE, total, args.latency_writers,
                                              args.latency_sessions, args.latency_events_per_tx, rate=args.rate)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        cpu.mark()
        writer_results = await asyncio.gather(*futures)
        commits = dict(pair for r in writer_results for pair in r["commits"])
        awaited = set(commits) - seen.keys()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_seen.wait(), 30)
        consuming = False
        await consumer_task
        latency_cpu = cpu.mark()
        await relay.stop()
        first_commit = min(r["first_commit"] for r in writer_results)
        last_commit = max(r["last_commit"] for r in writer_results)
        to_ack = [clock.ack_times[e] - t for e, t in commits.items() if e in clock.ack_times]
        to_consumer = [seen[e] - t for e, t in commits.items() if e in seen]
        results["latency"] = {
            "target_rate_events_per_second": args.rate,
            "achieved_rate_events_per_second": round(len(commits) / (last_commit - first_commit)),
            "seconds": round(last_commit - first_commit, 2),
            "events": len(commits),
            "missing_at_consumer": len(commits) - len(to_consumer),
            "commit_to_broker_ack": percentiles(to_ack),
            "commit_to_consumer": percentiles(to_consumer),
            "relay_batches": clock.batches,
            "cpu_seconds": latency_cpu,
        }

        return {
            "benchmark": "outbox_relay",
            "machine": {
                "cpu_count": os.cpu_count(),
                "platform": platform.platform(),
                "machine": platform.machine(),
                "python": platform.python_version(),
                "event_loop": _loop_name(),
                "cpu_model": _cpu_model(),
                "memory_gb": _memory_gb(),
                # other work on the machine skews every figure: note how busy it was before we started
                "load_average_1m_at_start": load_at_start,
            },
            "infrastructure": {"postgresql": f"{postgres_kind} {server_version}", "kafka": kafka_kind},
            "parameters": {
                "events": args.events, "writer_processes": args.writers, "sessions_per_writer": args.tasks,
                "events_per_transaction": args.events_per_tx, "relay_batch_size": args.batch_size,
                "relay_poll_interval_seconds": args.poll_interval, "partitions": args.partitions,
                "latency_rate_events_per_second": args.rate, "latency_duration_seconds": args.duration,
                "latency_writer_processes": args.latency_writers, "latency_sessions_per_writer": args.latency_sessions,
                "latency_events_per_transaction": args.latency_events_per_tx,
                "consumer_fetch_max_wait_ms": args.fetch_max_wait_ms, "payload_bytes": _payload_size(),
            },
            "results": results,
            "targets": {
                "throughput_events_per_second": 5000,
                "p99_ms_at_1000_events_per_second": 200,
                # the relay's rate from commit to ack (rows committed, relay publishing flat out)
                "throughput_met": results["backlog"]["events_per_second"] >= 5000,
                # null: the writers could not produce the load asked for, so the run says nothing
                "latency_met": (
                    results["latency"]["commit_to_consumer"].get("p99_ms", 1e9) < 200
                    and results["latency"]["missing_at_consumer"] == 0
                ) if results["latency"]["achieved_rate_events_per_second"] >= 0.95 * args.rate else None,
            },
            "notes": _notes(results),
        }


def _notes(results: dict) -> list[str]:
    burst = results["burst"]
    notes = [
        "backlog.events_per_second is the relay's commit-to-ack rate: every row committed before it starts.",
        "burst.events_per_second is end to end with writers and relay running at once: it can be no higher "
        "than the writers' own commit rate (burst.writers_commit_rate_events_per_second).",
    ]
    latency = results["latency"]
    if latency["achieved_rate_events_per_second"] < 0.95 * latency["target_rate_events_per_second"]:
        notes.append(
            f"The writers reached only {latency['achieved_rate_events_per_second']} of the "
            f"{latency['target_rate_events_per_second']:.0f} events/s asked for: the machine was saturated "
            "(see latency.cpu_seconds and machine.load_average_1m_at_start); latencies are under overload."
        )
    if burst["ack_after_last_commit_ms"] < 1000:
        notes.append(
            f"In the burst the relay had acked everything {burst['ack_after_last_commit_ms']} ms after the last "
            "commit, so the burst figure measures the writers (add_event), not the relay."
        )
    return notes


def _loop_name() -> str:
    loop = asyncio.get_running_loop()
    return f"{type(loop).__module__}.{type(loop).__name__}"


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def _memory_gb() -> float | None:
    with contextlib.suppress(Exception):
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 1)
    return None


def _payload_size() -> int:
    from invora.events.envelope import EventEnvelope

    return len(EventEnvelope(type="bench_burst.happened", source="bench", organization_id=ORG,
                             aggregate_type="bench_burst", aggregate_id="agg-12345-0-0", sequence=1,
                             data={"n": 1, "pad": "x" * 200}).model_dump_json())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000, help="events in the burst and backlog phases")
    parser.add_argument("--writers", type=int, default=2, help="writer processes")
    parser.add_argument("--tasks", type=int, default=4, help="concurrent sessions per writer process")
    parser.add_argument("--events-per-tx", type=int, default=20, help="events per transaction (burst)")
    parser.add_argument("--batch-size", type=int, default=500, help="relay batch size")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="relay poll interval (s)")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--rate", type=float, default=1000.0, help="latency phase: events/s")
    parser.add_argument("--duration", type=float, default=20.0, help="latency phase: seconds")
    parser.add_argument("--latency-writers", type=int, default=4, help="latency phase: writer processes")
    parser.add_argument("--latency-sessions", type=int, default=8,
                        help="latency phase: concurrent sessions per writer process (each paced)")
    parser.add_argument("--latency-events-per-tx", type=int, default=1, help="latency phase: events per transaction")
    parser.add_argument("--fetch-max-wait-ms", type=int, default=20, help="latency phase consumer")
    return parser.parse_args(argv)


if __name__ == "__main__":
    from invora.logging import configure_logging

    configure_logging("WARNING")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)  # stdout carries only the JSON result
    print(json.dumps(_run(main(parse_args())), indent=2))
