"""`GET /api/v1/invoices` with a million invoices in one organization, filtered by customer and status.

    uv run python bench/invoices_list.py [--invoices 1000000] [--customers 1000] [--requests 500]

Starts embedded PostgreSQL and the Tansu broker (or DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS), a fresh
invoicing database, and seeds it directly in SQL (`generate_series`, one statement per table; no
service code): `--customers` customer projections and `--invoices` invoices in one organization,
spread evenly over the customers and over two years of `created_at`, with the statuses a billing history
has (85 % finalized, 5 % draft, 5 % voided, 5 % failed), then `VACUUM ANALYZE`. Another organization
holds as many again, so the organization filter is not the only thing that narrows. The invoicing
service then runs under uvicorn (as `make run` does) and one client measures, sequentially over one
keep-alive connection, each request's time from send to the whole body read:

| phase | requests |
|---|---|
| `customer_and_status` | `?external_customer_id=<random customer>&statuses[]=finalized&per_page=20` (first page) |
| `customer_and_two_statuses` | the same with `statuses[]=draft&statuses[]=failed` |
| `keyset_walk` | every page of one customer's finalized invoices through `after=<last lago_id>` |
| `deep_offset` | `page=` near the end of one customer's finalized invoices (what `after` avoids) |

Reported per phase: p50 / p95 / p99 / max in ms and the pages' row counts; and the plan PostgreSQL
chose for the first phase's query (the index it walks). Target (issue 14): p99 < 50 ms for the first
phase. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import bench_environment, machine, percentile_ms, serve  # noqa: E402

_CUSTOMERS = """
INSERT INTO customers (organization_id, id, external_id, currency, timezone, tax_codes, body, updated_at)
SELECT $1::uuid, md5($1::text || g::text)::uuid, 'cus_' || g, 'EUR', 'UTC', '[]'::jsonb,
       jsonb_build_object('lago_id', md5($1::text || g::text)::uuid, 'external_id', 'cus_' || g,
                          'sequential_id', g, 'slug', 'C' || g, 'name', 'Customer ' || g, 'currency', 'EUR',
                          'applicable_timezone', 'UTC', 'account_type', 'customer', 'tax_codes', '[]'::jsonb,
                          'finalize_zero_amount_invoice', 'inherit', 'skip_invoice_custom_sections', false,
                          'billing_configuration', '{}'::jsonb, 'shipping_address', '{}'::jsonb,
                          'created_at', '2024-01-01T00:00:00+00:00', 'updated_at', '2024-01-01T00:00:00+00:00'),
       '2024-01-01'::timestamptz
FROM generate_series(1, $2::int) AS g
"""
# invoice n: customer n % customers; created every (2 years / invoices); status by its rank among the
# customer's invoices ((n / customers) % 20), so that every customer has every status
_INVOICES = """
INSERT INTO invoices (id, organization_id, customer_id, external_customer_id, billing_reason, invoice_type, status,
                      payment_status, currency, issuing_date, payment_due_date, net_payment_term, number,
                      sequential_id, fees_amount_cents, sub_total_excluding_taxes_amount_cents, taxes_amount_cents,
                      sub_total_including_taxes_amount_cents, total_amount_cents, created_at, updated_at,
                      finalized_at, error_details, source)
SELECT md5($1::text || 'i' || n::text)::uuid, $1::uuid, md5($1::text || (n % $3::int + 1)::text)::uuid,
       'cus_' || (n % $3::int + 1), 'period_end', 'subscription', s.status,
       CASE WHEN s.status = 'finalized' AND n % 3 > 0 THEN 'succeeded' ELSE 'pending' END, 'EUR',
       (t.at)::date, (t.at)::date + 30, 30,
       CASE WHEN s.status IN ('finalized', 'voided') THEN 'INV-' || to_char(t.at, 'YYYYMM') || '-' || n END,
       CASE WHEN s.status IN ('finalized', 'voided') THEN n END,
       4900 + n % 1000, 4900 + n % 1000, 980, 5880 + n % 1000, 5880 + n % 1000, t.at, t.at,
       CASE WHEN s.status IN ('finalized', 'voided') THEN t.at END, '[]'::jsonb, '{}'::jsonb
FROM generate_series(1, $2::int) AS n,
     LATERAL (SELECT '2024-01-01'::timestamptz + (n * interval '63 seconds') * (1000000.0 / $2::int) AS at) t,
     LATERAL (SELECT CASE WHEN (n / $3::int) % 20 = 0 THEN 'draft' WHEN (n / $3::int) % 20 = 1 THEN 'voided'
                          WHEN (n / $3::int) % 20 = 2 THEN 'failed' ELSE 'finalized' END AS status) s
"""


async def seed(dsn: str, org: uuid.UUID, invoices: int, customers: int) -> dict:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        for organization in (org, uuid.uuid4()):
            await conn.execute(_CUSTOMERS, str(organization), customers)
            await conn.execute(_INVOICES, str(organization), invoices, customers)
        inserted = time.perf_counter() - started
        await conn.execute("VACUUM ANALYZE invoices")
        await conn.execute("VACUUM ANALYZE customers")
        return {"rows": await conn.fetchval("SELECT count(*) FROM invoices"), "insert_seconds": round(inserted, 1),
                "with_vacuum_seconds": round(time.perf_counter() - started, 1)}
    finally:
        await conn.close()


async def plan_of(dsn: str, org: uuid.UUID) -> list[str]:
    """The plan of the list query the service sends for the first phase (its shape, written out here)."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM invoices WHERE organization_id = $1 "
            "AND external_customer_id = $2 AND status IN ('finalized') ORDER BY created_at DESC, id DESC LIMIT 20",
            org, "cus_7")
        return [r[0] for r in rows]
    finally:
        await conn.close()


async def measure(base_url: str, token: str, org: uuid.UUID, args: argparse.Namespace) -> dict:
    import aiohttp

    rng = random.Random(7)
    results: dict[str, dict] = {}
    async with aiohttp.ClientSession(base_url, headers={"Authorization": f"Bearer {token}"}) as http:

        async def get(params: list[tuple[str, str]]) -> tuple[float, dict]:
            started = time.perf_counter()
            async with http.get("/api/v1/invoices", params=params) as response:
                body = await response.json()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    raise RuntimeError(f"GET /invoices {params}: {response.status} {body}")
            return elapsed, body

        def customer() -> str:
            return f"cus_{rng.randint(1, args.customers)}"

        for _ in range(20):  # warm the connection, the service and PostgreSQL's cache
            await get([("external_customer_id", customer()), ("statuses[]", "finalized"), ("per_page", "20")])

        async def phase(name: str, requests: list[list[tuple[str, str]]]) -> None:
            times, rows = [], []
            for params in requests:
                elapsed, body = await get(params)
                times.append(elapsed)
                rows.append(len(body["invoices"]))
            times.sort()
            results[name] = {"requests": len(times), "p50_ms": percentile_ms(times, 0.5),
                             "p95_ms": percentile_ms(times, 0.95), "p99_ms": percentile_ms(times, 0.99),
                             "max_ms": percentile_ms(times, 1.0), "rows_per_page": sorted(set(rows))[:5]}

        await phase("customer_and_status", [[("external_customer_id", customer()), ("statuses[]", "finalized"),
                                             ("per_page", "20")] for _ in range(args.requests)])
        await phase("customer_and_two_statuses", [
            [("external_customer_id", customer()), ("statuses[]", "draft"), ("statuses[]", "failed"),
             ("per_page", "20")] for _ in range(args.requests // 2)])

        # one customer's finalized invoices, every page through the keyset cursor
        walked, times, after = 0, [], None
        who = customer()
        while True:
            params = [("external_customer_id", who), ("statuses[]", "finalized"), ("per_page", "20")]
            if after:
                params.append(("after", after))
            elapsed, body = await get(params)
            times.append(elapsed)
            walked += len(body["invoices"])
            if len(body["invoices"]) < 20:
                break
            after = body["invoices"][-1]["lago_id"]
        total = body["meta"]["total_count"]
        times.sort()
        results["keyset_walk"] = {"pages": len(times), "invoices_walked": walked, "total_count": total,
                                  "every_invoice_once": walked == total, "p50_ms": percentile_ms(times, 0.5),
                                  "p99_ms": percentile_ms(times, 0.99), "max_ms": percentile_ms(times, 1.0)}
        last_page = max(1, total // 20)
        await phase("deep_offset", [[("external_customer_id", customer()), ("statuses[]", "finalized"),
                                     ("per_page", "20"), ("page", str(last_page))] for _ in range(50)])
    return results


async def run(args: argparse.Namespace, env, base_url: str, org: uuid.UUID) -> dict:
    from invora.auth.keys import sign_token

    token = sign_token(env.private_pem, organization_id=org, roles=["admin"], subject="bench:invoices_list")
    measured = await measure(base_url, token, org, args)
    dsn = env.database_url.replace("postgresql+asyncpg://", "postgresql://")
    return {"phases": measured, "plan": await plan_of(dsn, org),
            "target_p99_under_50_ms_met": measured["customer_and_status"]["p99_ms"] < 50}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    org = uuid.uuid4()
    with bench_environment("invoicing") as env:
        dsn = env.database_url.replace("postgresql+asyncpg://", "postgresql://")
        seeded = asyncio.run(seed(dsn, org, args.invoices, args.customers))
        load = os.getloadavg()[0]
        with serve(env, "invoicing") as base_url:
            result = asyncio.run(run(args, env, base_url, org))
    print(json.dumps({
        "benchmark": "invoices_list", "machine": machine(load_average_1m=load),
        "parameters": vars(args), "seeded": seeded, **result}, indent=2))


if __name__ == "__main__":
    main()
