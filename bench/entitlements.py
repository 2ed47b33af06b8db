"""Entitlement check latency under a steady load: `GET /api/v1/customers/{id}/entitlements/{feature}`.

    uv run python bench/entitlements.py [--rate 1000] [--duration 15] [--customers 1000]

Starts embedded PostgreSQL and the Tansu broker (or uses DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS),
migrates a fresh subscriptions database, seeds `--customers` customers each with an active
subscription whose plan grants `seats` (integer quota) and `sso` (boolean), a customer override
on one in ten and two grace periods on one in five, then serves the subscriptions app with
uvicorn (1 worker, uvloop, httptools) in a child process. An aiohttp client sends checks
open-loop at `--rate` per second (a request is sent at its scheduled time whether or not
earlier ones have answered), for random customers and features, with a signed service key,
after a warm-up that checks every customer once (so their inputs are in the service's memory;
the run reports the cache misses it caused, normally 0).

Target (issue 5): p99 < 5 ms at 1,000 checks/s. Prints one JSON document: latency from send to
response (p50/p95/p99/max), the rate achieved, errors, and the 1-minute load average at start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
from _harness import bench_environment, percentile_ms, serve

from invora.auth.keys import sign_token

PLAN_ENTITLEMENTS = [
    {"code": "seats", "name": "Seats", "privileges": [
        {"code": "max", "name": "Max", "value_type": "integer", "config": {}, "value": 10}]},
    {"code": "sso", "name": "SSO", "privileges": [
        {"code": "enabled", "name": "Enabled", "value_type": "boolean", "config": {}, "value": True}]},
]


async def seed(url: str, org: uuid.UUID, customers: int) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from subscriptions.access.models import CustomerEntitlementOverride, GracePeriod
    from subscriptions.customers.models import Customer
    from subscriptions.subscriptions.models import PlanEntitlementsProjection, Subscription

    engine = create_async_engine(url)
    now = datetime.now(UTC)
    plan_id, version_id = uuid.uuid4(), uuid.uuid4()
    async with async_sessionmaker(engine)() as session, session.begin():
        session.add(PlanEntitlementsProjection(organization_id=org, plan_id=plan_id, plan_code="pro", as_of=now,
                                               entitlements=PLAN_ENTITLEMENTS))
        for i in range(customers):
            customer = Customer(id=uuid.uuid4(), organization_id=org, external_id=f"cus_{i}", sequential_id=i + 1,
                                currency="EUR", account_type="customer", finalize_zero_amount_invoice="inherit",
                                skip_invoice_custom_sections=False, tax_codes=[], billing_configuration={},
                                shipping_address={}, metadata_items=[], billing_state="active",
                                contract_mode="standard", grace_extension_days=0)
            session.add(customer)
            await session.flush()  # no ORM relationships: rows referencing the customer come after it
            session.add(Subscription(
                id=uuid.uuid4(), organization_id=org, customer_id=customer.id,
                external_customer_id=customer.external_id, external_id=f"sub_{i}", status="active",
                billing_time="calendar", plan_code="pro", plan_id=plan_id,
                plan_version_id=version_id, plan_interval="monthly", plan_amount_cents=1000,
                plan_amount_currency="EUR", pay_in_advance=False, timezone="UTC", plan_overrides={},
                entitlement_overrides={"seats": {"values": {"max": 12}}} if i % 3 == 0 else {},
                removed_entitlements=[], on_termination_invoice="generate", subscription_at=now, started_at=now,
                current_period_start=now, current_period_end=now + timedelta(days=30)))
            if i % 10 == 0:
                session.add(CustomerEntitlementOverride(id=uuid.uuid4(), organization_id=org, customer_id=customer.id,
                                                        quotas={"seats": 50}, features={"beta": True}))
            if i % 5 == 0:
                for extra in (5, 7):
                    session.add(GracePeriod(id=uuid.uuid4(), organization_id=org, customer_id=customer.id,
                                            metric="seats", extra_allowance=extra, starts_at=now - timedelta(hours=1),
                                            expires_at=now + timedelta(hours=extra), created_by="bench"))
    await engine.dispose()


async def load(base_url: str, token: str, rate: float, duration: float, customers: int) -> dict:
    latencies: list[float] = []
    lateness: list[float] = []
    errors: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {token}"}
    features = ["seats", "seats", "sso", "beta"]
    connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=60)
    async with aiohttp.ClientSession(base_url, headers=headers, connector=connector) as session:
        async def one(path: str, scheduled: float) -> None:
            started = time.perf_counter()
            lateness.append(started - scheduled)
            try:
                async with session.get(path) as response:
                    await response.read()
                    if response.status != 200:
                        errors[str(response.status)] = errors.get(str(response.status), 0) + 1
                        return
            except aiohttp.ClientError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            latencies.append(time.perf_counter() - started)

        # warm-up: connections, prepared statements, and one check per customer (the steady state,
        # where every customer's inputs are in the service's memory; `cache_misses` below shows it)
        for n in range(customers):
            await one(f"/api/v1/customers/cus_{n}/entitlements/seats?used=3", time.perf_counter())
        misses_before = await cache_misses(session)
        latencies.clear()
        lateness.clear()
        total = int(rate * duration)
        tasks = []
        start = time.perf_counter()
        for n in range(total):
            scheduled = start + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            path = (f"/api/v1/customers/cus_{random.randrange(customers)}/entitlements/"
                    f"{random.choice(features)}?used={random.randrange(20)}")
            tasks.append(asyncio.create_task(one(path, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        misses = await cache_misses(session) - misses_before
    ordered = sorted(latencies)

    return {"requests": total, "answered_ok": len(latencies), "errors": errors,
            "achieved_per_second": round(len(latencies) / elapsed, 1),
            "latency_ms": {"p50": percentile_ms(ordered, 0.50), "p95": percentile_ms(ordered, 0.95),
                           "p99": percentile_ms(ordered, 0.99), "max": percentile_ms(ordered, 1.0),
                           "mean": round(statistics.fmean(ordered) * 1000, 3) if ordered else -1},
            "client_send_lateness_ms_p99": round(sorted(lateness)[int(len(lateness) * 0.99)] * 1000, 3),
            "cache_misses_during_run": misses}


async def cache_misses(session: aiohttp.ClientSession) -> float:
    async with session.get("/metrics") as response:
        text = await response.text()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("entitlement_cache_lookups_total{") and 'result="miss"' in line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--customers", type=int, default=1000)
    args = parser.parse_args()
    load_average = os.getloadavg()[0]
    with bench_environment("subscriptions") as env:
        org = uuid.uuid4()
        asyncio.run(seed(env.database_url, org, args.customers))
        with serve(env, "subscriptions") as base:
            token = sign_token(env.private_pem, organization_id=org, roles=["service"])
            results = asyncio.run(load(base, token, args.rate, args.duration, args.customers))
        print(json.dumps({"benchmark": "entitlement_check", "target": "p99 < 5 ms at 1000 checks/s",
                          "rate": args.rate, "duration_s": args.duration, "customers": args.customers,
                          "load_average_1m_at_start": load_average, "results": results}, indent=2))

if __name__ == "__main__":
    main()
