"""Usage-event ingestion throughput: `POST /api/v1/events/batch` against a uvicorn-served subscriptions
service, beside the raw `COPY` rate of the same rows into the same PostgreSQL.

    uv run python bench/ingestion.py [--clients 8] [--batch 100] [--duration 15] [--subscriptions 1000]
                                     [--pay-in-advance]

Starts embedded PostgreSQL and the Tansu broker (or uses DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS),
migrates a fresh subscriptions database and seeds `--subscriptions` active subscriptions on one plan
version whose charges use a sum metric with a filter (the plan version and metric are seeded in the
service's caches, as after a first event, so the catalog is not needed). The app runs under uvicorn
(`--workers`, default 1; uvloop, httptools) in a child process.

Phases:
  max        `--clients` aiohttp clients each send batches back to back (closed loop) for
             `--duration` s: sustained events/s (every 2xx is committed), latency per batch;
  half_rate  open loop at half the max rate for `--duration` / 2 s: p50/p99 acknowledgement;
  copy       the rows the service stored, copied with asyncpg `copy_records_to_table` into a table
             created `LIKE usage_events INCLUDING ALL` (same indexes, same unique key): rows/s;
  ratio      max events/s ÷ COPY rows/s;
  usage      with `--usage-events 1000000 …`: that many events COPYed for one subscription (rollups built
             from them with one GROUP BY, as ingestion would have left them), then 200 sequential
             `GET …/current_usage` requests: p50/p99.

Targets (issue 6): ≥ 10,000 events/s durable (stretch 25,000); p99 < 50 ms at half the maximum rate.
Prints one JSON document on stdout (logs go to stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
from _harness import bench_environment, percentile_ms, serve

from invora.auth.keys import sign_token

METRIC_CODE = "storage_gb"


async def seed(url: str, org: uuid.UUID, subscriptions: int, pay_in_advance: bool = False) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from subscriptions.customers.models import Customer
    from subscriptions.subscriptions.models import CachedPlanVersion, Subscription
    from subscriptions.usage_events.models import CachedBillableMetric

    engine = create_async_engine(url)
    now = datetime.now(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    plan_id, version_id, metric_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    metric = {"lago_id": str(metric_id), "name": "Storage", "code": METRIC_CODE, "aggregation_type": "sum_agg",
              "field_name": "gb", "recurring": False, "filters": [{"key": "region", "values": ["eu", "us"]}],
              "created_at": now.isoformat()}
    version = {"lago_id": str(version_id), "lago_plan_id": str(plan_id), "plan_code": "pro", "version": 1,
               "is_current": True, "created_at": now.isoformat(), "interval": "monthly", "amount_cents": 1000,
               "amount_currency": "EUR", "pay_in_advance": False, "taxes": [],
               "charges": [{"lago_id": str(uuid.uuid4()), "lago_billable_metric_id": str(metric_id),
                            "billable_metric_code": METRIC_CODE, "code": "storage", "charge_model": "standard",
                            "pay_in_advance": pay_in_advance, "invoiceable": True,
                            "properties": {"amount": "0.01"}, "filters": [], "taxes": [],
                            "created_at": now.isoformat()}]}
    async with async_sessionmaker(engine)() as session, session.begin():
        session.add(CachedPlanVersion(organization_id=org, plan_version_id=version_id, plan_code="pro", body=version))
        session.add(CachedBillableMetric(organization_id=org, metric_id=metric_id, code=METRIC_CODE, body=metric))
        for i in range(subscriptions):
            customer = Customer(id=uuid.uuid4(), organization_id=org, external_id=f"cus_{i}", sequential_id=i + 1,
                                currency="EUR", account_type="customer", finalize_zero_amount_invoice="inherit",
                                skip_invoice_custom_sections=False, tax_codes=[], billing_configuration={},
                                shipping_address={}, metadata_items=[], billing_state="active",
                                contract_mode="standard", grace_extension_days=0)
            session.add(customer)
            await session.flush()
            session.add(Subscription(
                id=uuid.uuid4(), organization_id=org, customer_id=customer.id,
                external_customer_id=customer.external_id, external_id=f"sub_{i}", status="active",
                billing_time="calendar", plan_code="pro", plan_id=plan_id, plan_version_id=version_id,
                plan_interval="monthly", plan_amount_cents=1000, plan_amount_currency="EUR", pay_in_advance=False,
                timezone="UTC", plan_overrides={}, entitlement_overrides={}, removed_entitlements=[],
                on_termination_invoice="generate", subscription_at=start, started_at=start,
                current_period_start=start, current_period_end=(start + timedelta(days=32)).replace(day=1)))
    await engine.dispose()


def batch_body(batch: int, subscriptions: int, run: str, counter: list[int]) -> bytes:
    events = []
    now = time.time()
    for _ in range(batch):
        counter[0] += 1
        events.append({"transaction_id": f"{run}-{counter[0]}", "external_subscription_id":
                       f"sub_{random.randrange(subscriptions)}", "code": METRIC_CODE, "timestamp": now,
                       "properties": {"gb": round(random.random() * 10, 3), "region": random.choice(["eu", "us"])}})
    return json.dumps({"events": events}).encode()


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {name: percentile_ms(ordered, p) for name, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99),
                                                             ("max", 1.0))} if ordered else {}


async def closed_loop(base_url: str, token: str, clients: int, batch: int, duration: float,
                      subscriptions: int) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = [0]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(base_url, headers=headers,
                                     connector=aiohttp.TCPConnector(limit=clients * 2)) as session:
        for _ in range(5):  # warm-up
            body = batch_body(batch, subscriptions, "warm", counter)
            async with session.post("/api/v1/events/batch", data=body) as response:
                await response.read()
        deadline = time.perf_counter() + duration
        accepted = 0

        async def client(n: int) -> None:
            nonlocal accepted
            mine = [0]
            while time.perf_counter() < deadline:
                body = batch_body(batch, subscriptions, f"max{n}", mine)
                started = time.perf_counter()
                async with session.post("/api/v1/events/batch", data=body) as response:
                    await response.read()
                    if response.status != 200:
                        errors[str(response.status)] = errors.get(str(response.status), 0) + 1
                        continue
                latencies.append(time.perf_counter() - started)
                accepted += batch

        start = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.perf_counter() - start
    return {"events_accepted": accepted, "elapsed_s": round(elapsed, 2),
            "events_per_second": round(accepted / elapsed, 1), "errors": errors,
            "batch_latency_ms": percentiles(latencies)}


async def open_loop(base_url: str, token: str, events_per_second: float, batch: int, duration: float,
                    subscriptions: int) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = [0]
    rate = events_per_second / batch  # requests per second
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(base_url, headers=headers, connector=aiohttp.TCPConnector(limit=256)) as session:
        async def one(body: bytes) -> None:
            started = time.perf_counter()
            async with session.post("/api/v1/events/batch", data=body) as response:
                await response.read()
                if response.status != 200:
                    errors[str(response.status)] = errors.get(str(response.status), 0) + 1
                    return
            latencies.append(time.perf_counter() - started)

        tasks = []
        start = time.perf_counter()
        for n in range(int(rate * duration)):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(batch_body(batch, subscriptions, "half", counter))))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {"target_events_per_second": round(events_per_second, 1),
            "achieved_events_per_second": round(len(latencies) * batch / elapsed, 1), "errors": errors,
            "ack_latency_ms": percentiles(latencies)}


ROLLUPS_FROM_EVENTS = """
INSERT INTO usage_rollups (subscription_id, code, period_start, group_key, organization_id, events_count, value_sum,
                           value_max, latest_value, latest_at, weighted_moment)
SELECT subscription_id, code, period_start, '{"region":"' || (properties->>'region') || '"}', organization_id,
       count(*), sum((properties->>'gb')::numeric), max((properties->>'gb')::numeric),
       (array_agg((properties->>'gb')::numeric ORDER BY timestamp DESC))[1], max(timestamp),
       sum((properties->>'gb')::numeric * extract(epoch FROM timestamp))
FROM usage_events WHERE subscription_id = $1 GROUP BY subscription_id, code, period_start, properties->>'region',
                                                       organization_id
"""


async def seed_usage(url: str, org: uuid.UUID, events: int, first: int = 0) -> None:
    """`events` events for `sub_0` spread over its open period (COPY), and their rollups (one GROUP BY)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        sub = await conn.fetchrow("SELECT id, customer_id, current_period_start, current_period_end FROM subscriptions "
                                  "WHERE organization_id = $1 AND external_id = 'sub_0'", org)
        await conn.execute("DELETE FROM usage_rollups WHERE subscription_id = $1", sub["id"])
        await conn.set_type_codec("jsonb", schema="pg_catalog", format="binary",
                                  encoder=lambda value: b"\x01" + json.dumps(value).encode(),
                                  decoder=lambda data: json.loads(data[1:]))
        start, end = sub["current_period_start"], min(sub["current_period_end"], datetime.now(UTC))
        span = (end - start).total_seconds()
        columns = ["id", "organization_id", "subscription_id", "customer_id", "external_subscription_id",
                   "transaction_id", "code", "timestamp", "properties", "period_start", "created_at"]
        now = datetime.now(UTC)
        chunk = 100_000
        for offset in range(0, events, chunk):
            records = [(uuid.uuid4(), org, sub["id"], sub["customer_id"], "sub_0", f"usage-{n}", METRIC_CODE,
                        start + timedelta(seconds=span * (n - first) / events),
                        {"gb": round(random.random() * 10, 3), "region": random.choice(["eu", "us"])}, start, now)
                       for n in range(first + offset, first + min(events, offset + chunk))]
            await conn.copy_records_to_table("usage_events", records=records, columns=columns)
        await conn.execute(ROLLUPS_FROM_EVENTS, sub["id"])
        await conn.execute("ANALYZE usage_events; ANALYZE usage_rollups")
    finally:
        await conn.close()


async def usage_latency(base_url: str, token: str, requests: int) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    path = "/api/v1/customers/cus_0/current_usage?external_subscription_id=sub_0"
    async with aiohttp.ClientSession(base_url, headers={"Authorization": f"Bearer {token}"}) as session:
        for n in range(requests + 20):
            started = time.perf_counter()
            async with session.get(path) as response:
                body = await response.read()
                if response.status != 200:
                    errors[str(response.status)] = errors.get(str(response.status), 0) + 1
                    continue
            if n >= 20:  # warm-up excluded
                latencies.append(time.perf_counter() - started)
        units = json.loads(body)["customer_usage"]["charges_usage"][0]["events_count"] if not errors else None
    return {"requests": requests, "errors": errors, "events_counted": units, "latency_ms": percentiles(latencies)}


async def copy_rate(url: str, limit: int) -> dict:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        columns = ["id", "organization_id", "subscription_id", "customer_id", "external_subscription_id",
                   "transaction_id", "code", "timestamp", "properties", "precise_total_amount_cents", "period_start",
                   "created_at"]
        await conn.execute("CREATE TABLE bench_copy (LIKE usage_events INCLUDING ALL)")
        # COPY is binary: jsonb's binary form is a version byte and the text
        await conn.set_type_codec("jsonb", schema="pg_catalog", format="binary",
                                  encoder=lambda value: b"\x01" + json.dumps(value).encode(),
                                  decoder=lambda data: json.loads(data[1:]))
        records = [tuple(r) for r in await conn.fetch(f"SELECT {', '.join(columns)} FROM usage_events "
                                                      f"LIMIT {int(limit)}")]
        started = time.perf_counter()
        await conn.copy_records_to_table("bench_copy", records=records, columns=columns)
        elapsed = time.perf_counter() - started
        return {"rows": len(records), "elapsed_s": round(elapsed, 3),
                "rows_per_second": round(len(records) / elapsed, 1)}
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--usage-events", type=int, nargs="*", default=[],
                        help="then measure current usage of one subscription holding these many events (e.g. "
                             "1000000 10000000), sequential requests")
    parser.add_argument("--pay-in-advance", action="store_true",
                        help="the charge is paid in advance: every event also publishes "
                             "subscription.pay_in_advance_usage (units read before and after "
                             "under a per-subscription lock)")
    parser.add_argument("--skip-ingestion", action="store_true", help="only the current-usage phase")
    args = parser.parse_args()
    load_average = os.getloadavg()[0]
    with bench_environment("subscriptions") as environment:
        url, private_pem = environment.database_url, environment.private_pem
        org = uuid.uuid4()
        asyncio.run(seed(url, org, args.subscriptions, args.pay_in_advance))
        with serve(environment, "subscriptions", args.workers) as base:
            token = sign_token(private_pem, organization_id=org, roles=["admin"])
            results: dict = {}
            if not args.skip_ingestion:
                maximum = asyncio.run(closed_loop(base, token, args.clients, args.batch, args.duration,
                                                  args.subscriptions))
                half = asyncio.run(open_loop(base, token, maximum["events_per_second"] / 2, args.batch,
                                             args.duration / 2, args.subscriptions))
                copy = asyncio.run(copy_rate(url, maximum["events_accepted"]))
                results = {"max": maximum, "half_rate": half, "copy": copy,
                           "ingestion_to_copy_ratio": round(maximum["events_per_second"] / copy["rows_per_second"], 4)}
            seeded = 0
            for total in sorted(args.usage_events):
                asyncio.run(seed_usage(url, org, total - seeded, first=seeded))
                seeded = total
                results[f"current_usage_{total}_events"] = asyncio.run(usage_latency(base, token, 200))
            print(json.dumps({
                "benchmark": "usage_event_ingestion",
                "target": ">= 10,000 events/s durable (stretch 25,000); p99 < 50 ms at half the maximum rate",
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                            "python": platform.python_version(), "load_average_1m_at_start": load_average},
                "parameters": {"clients": args.clients, "batch": args.batch, "duration_s": args.duration,
                               "subscriptions": args.subscriptions, "pay_in_advance": args.pay_in_advance,
                               "server": f"uvicorn, {args.workers} worker(s), uvloop, httptools",
                               "database": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded PostgreSQL"},
                **results,
            }, indent=2))


if __name__ == "__main__":
    main()
