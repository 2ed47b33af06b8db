"""Credit applications per second: on one hot wallet, and across 10,000 wallets.

    uv run python bench/wallets.py [--wallets 10000] [--duration 10] [--concurrency 8] [--batch 50]
                                   [--processes 2] [--phases hot_single,hot_batched,across_single,across_batched]

Starts embedded PostgreSQL (or uses DATABASE_URL), migrates a fresh wallets database and seeds
`--wallets` customers with one wallet each (a granted block of 1,000,000 cents) plus one hot
customer whose wallet holds `--hot-balance` cents, through the ledger (the triggers apply every
seeded entry). Then, for `--duration` seconds per phase, `--processes` processes × `--concurrency`
loops each hand `invoice.prepaid_credits_requested` events (one new invoice each, 7 cents of a
subscription fee) to the wallets service's own prepaid-credits consumer: the `ConsumerSpec` that
`create_app` registers, in an `EventConsumer` whose Kafka client is never started. `--batch` records
go to `EventConsumer.process_batch` (what the poll loop does with a fetched partition batch: the
envelopes decoded, inbox rows, the batch handler → `applications.service.apply_many`, one commit),
a single record to `EventConsumer.process` (the per-event path, one commit); a batch that fails is
processed again one event at a time, as the poll loop does. Only the broker is left out: the figure
is the consumer's and the ledger's, not Kafka's.

Phases: `hot_single` and `hot_batched` (every request for the hot customer: all serialise on its
wallet lock), `across_single` and `across_batched` (random customers among `--wallets`). Each phase
reports applications/s, statements and commits per application, and the CPU each application cost
the consumer's Python and its PostgreSQL backends (read from /proc when the server is local): the
part of the figure a loaded machine does not distort. After the hot phases the run checks
correctness against the database: one recorded application per request, and the hot wallet lost
exactly what the recorded applications, the published `credits.applied` answers and the ledger's
consumption entries each say was applied, never going below zero; at the end the reconciliation
must find no drift.

Target (issue 15): ≥ 2,000 applications/s across wallets. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

# this file's name shadows the `wallets` package: import the harness from this folder, then drop the
# folder from the path so `import wallets` finds the service (spawned workers run this again)
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import bench_environment  # noqa: E402

REQUEST_CENTS = 7


async def seed(url: str, org: uuid.UUID, wallets: int, hot_balance: int) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from invora.ids import uuid7

    engine = create_async_engine(url)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        customers, wallet_rows, blocks, entries = [], [], [], []
        for i in range(wallets + 1):
            external_id = "hot" if i == wallets else f"cus_{i}"
            balance = hot_balance if i == wallets else 1_000_000
            customer_id, wallet_id, block_id = uuid.uuid4(), uuid7(), uuid7()
            customers.append({"id": customer_id, "org": org, "external_id": external_id})
            wallet_rows.append({"id": wallet_id, "org": org, "customer": customer_id, "external_id": external_id,
                                "code": "main"})
            blocks.append({"id": block_id, "org": org, "wallet": wallet_id, "customer": customer_id,
                           "cents": balance, "credits": Decimal(balance).scaleb(-2), "now": now})
            for account, sign in (("wallet", 1), ("granted", -1)):
                entries.append({"org": org, "movement": block_id, "wallet": wallet_id, "account": account,
                                "block": block_id if account == "wallet" else None, "cents": sign * balance,
                                "credits": sign * Decimal(balance).scaleb(-2), "now": now})
        await conn.execute(text(
            "INSERT INTO customers (id, organization_id, external_id, currency, last_sequence) "
            "VALUES (:id, :org, :external_id, 'EUR', 1)"), customers)
        await conn.execute(text(
            "INSERT INTO wallets (id, organization_id, customer_id, external_customer_id, code, currency, rate_amount) "
            "VALUES (:id, :org, :customer, :external_id, :code, 'EUR', 1)"), wallet_rows)
        await conn.execute(text(
            "INSERT INTO wallet_transactions (id, organization_id, wallet_id, customer_id, transaction_type, "
            "transaction_status, status, credit_amount, amount_cents, remaining_credits, remaining_cents, is_block, "
            "category, description, settled_at) VALUES (:id, :org, :wallet, :customer, 'inbound', 'granted', "
            "'settled', :credits, :cents, 0, 0, true, 'granted', 'Seeded credits', :now)"), blocks)
        await conn.execute(text(
            "INSERT INTO ledger_entries (organization_id, movement_id, wallet_id, account, block_id, kind, "
            "amount_cents, credits, created_at) VALUES (:org, :movement, :wallet, :account, :block, 'grant', :cents, "
            ":credits, :now)"), entries)
    await engine.dispose()


def _record(org: uuid.UUID, customer: str, offset: int):
    """One `invoice.prepaid_credits_requested` event as the consumer reads it off `invora.invoice`."""
    from invora.bus.consumer import StoredRecord
    from invora.events.contracts.invoicing import PREPAID_CREDITS_REQUESTED, PrepaidCreditsRequested
    from invora.events.envelope import EventEnvelope, topic_for

    request = PrepaidCreditsRequested(lago_invoice_id=uuid.uuid4(), external_customer_id=customer, currency="EUR",
                                      lines=[{"fee_type": "subscription", "amount_cents": REQUEST_CENTS}])
    envelope = EventEnvelope(type=PREPAID_CREDITS_REQUESTED, source="invoicing", organization_id=org,
                             aggregate_type="invoice", aggregate_id=str(request.lago_invoice_id), sequence=1,
                             data=request.model_dump(mode="json"))
    return StoredRecord(topic_for("invoice"), 0, offset, envelope.aggregate_id.encode(),
                        envelope.model_dump_json().encode())


async def _worker_process(url: str, org: uuid.UUID, customers: list[str], duration: float, concurrency: int,
                          batch: int) -> dict:
    from sqlalchemy import event

    from invora.bus.consumer import EventConsumer
    from invora.db.engine import Database
    from wallets.applications.consumer import prepaid_credits_consumer
    from wallets.runtime import WalletsRuntime
    from wallets.settings import WalletsSettings

    database = Database(url, pool_size=concurrency)
    statements = commits = 0

    def count_statement(*_args) -> None:
        nonlocal statements
        statements += 1

    def count_commit(*_args) -> None:
        nonlocal commits
        commits += 1

    event.listen(database.engine.sync_engine, "before_cursor_execute", count_statement)
    event.listen(database.engine.sync_engine, "commit", count_commit)
    # CPU of the PostgreSQL backends serving this process (readable when the server runs on this machine)
    backends: dict[int, float] = {}

    def remember_backend(dbapi_connection, _record) -> None:
        pid = dbapi_connection.driver_connection.get_server_pid()
        backends[pid] = _cpu_seconds(pid) or 0.0

    event.listen(database.engine.sync_engine, "connect", remember_backend)
    # the service's own consumer of invoicing's requests (the spec `create_app` registers), never started:
    # the bench hands it fetched records, as its poll loop would, instead of reading them from Kafka
    spec = prepaid_credits_consumer(WalletsRuntime(settings=WalletsSettings(database_url=url)))
    consumer = EventConsumer(spec, service="wallets", bootstrap_servers="127.0.0.1:9",
                             sessionmaker=database.sessionmaker)
    done = fallbacks = 0
    offset = 0
    producing = 0.0  # CPU spent making the bench's records, not the consumer's
    deadline = time.monotonic() + duration

    async def session_loop() -> None:
        nonlocal done, fallbacks, offset, producing
        while time.monotonic() < deadline:
            records = []
            cpu = time.process_time()
            for _ in range(batch):
                offset += 1
                records.append(_record(org, random.choice(customers), offset))
            producing += time.process_time() - cpu
            if len(records) == 1:
                await consumer.process(records[0])
            else:
                try:
                    await consumer.process_batch(records)
                except Exception:  # noqa: BLE001 - as the consumer does: the batch again, one event at a time
                    fallbacks += 1
                    for record in records:
                        await consumer.process(record)
            done += len(records)

    started, cpu_started = time.monotonic(), time.process_time()
    await asyncio.gather(*(session_loop() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    python_cpu = time.process_time() - cpu_started - producing
    ends = {pid: _cpu_seconds(pid) for pid in backends}
    database_cpu = None if None in ends.values() else sum(ends[pid] - start for pid, start in backends.items())
    await consumer.stop()
    await database.dispose()
    return {"applications": done, "elapsed": elapsed, "batches_retried_one_by_one": fallbacks,
            "statements": statements, "commits": commits, "python_cpu": python_cpu, "database_cpu": database_cpu}


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a local process (None when it is not on this machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_worker(args: tuple) -> dict:
    import uvloop

    return uvloop.run(_worker_process(*args))


async def _hot_wallet(url: str) -> dict:
    """The hot wallet's balance, what the recorded applications and the published answers say was applied to
    the hot customer's invoices, and the sum of its consumption entries in the ledger."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.connect() as conn:
        row = (await conn.execute(text("""
            SELECT (SELECT balance_cents FROM wallets WHERE external_customer_id = 'hot') AS balance,
                   (SELECT count(*) FROM credit_applications WHERE external_customer_id = 'hot') AS applications,
                   (SELECT coalesce(sum(applied_amount_cents), 0) FROM credit_applications
                     WHERE external_customer_id = 'hot') AS recorded,
                   (SELECT coalesce(sum((envelope -> 'data' ->> 'applied_amount_cents')::bigint), 0)
                      FROM outbox_events WHERE event_type = 'credits.applied'
                       AND envelope -> 'data' ->> 'external_customer_id' = 'hot') AS answered,
                   (SELECT coalesce(-sum(e.amount_cents), 0) FROM ledger_entries e JOIN wallets w ON w.id = e.wallet_id
                     WHERE w.external_customer_id = 'hot' AND e.account = 'wallet' AND e.kind = 'consumption')
                       AS consumed
            """))).one()
    await engine.dispose()
    return {key: int(value) for key, value in row._mapping.items()}


async def _reconcile(url: str) -> bool:
    from invora.db.engine import Database
    from wallets.ledger.reconcile import run_once

    database = Database(url)
    try:
        return (await run_once(database.sessionmaker)).clean
    finally:
        await database.dispose()


def phase(url: str, org: uuid.UUID, customers: list[str], args, batch: int) -> dict:
    with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
        results = pool.map(_run_worker, [(url, org, customers, args.duration, args.concurrency, batch)] *
                           args.processes)
    applications = sum(r["applications"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    return {"batch": batch, "applications": applications, "seconds": round(elapsed, 2),
            "applications_per_second": round(applications / elapsed, 1),
            "statements_per_application": round(sum(r["statements"] for r in results) / max(applications, 1), 2),
            "commits_per_application": round(sum(r["commits"] for r in results) / max(applications, 1), 3),
            # CPU per application, the load-independent part: the consumer's Python and its PostgreSQL backends
            "python_cpu_ms_per_application": round(1000 * sum(r["python_cpu"] for r in results)
                                                   / max(applications, 1), 3),
            "postgres_cpu_ms_per_application": None if any(r["database_cpu"] is None for r in results) else
            round(1000 * sum(r["database_cpu"] for r in results) / max(applications, 1), 3),
            "batches_retried_one_by_one": sum(r["batches_retried_one_by_one"] for r in results)}


PHASES = ("hot_single", "hot_batched", "across_single", "across_batched")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--concurrency", type=int, default=8, help="consumer loops per process")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=50, help="records per consumer batch in the batched phases")
    parser.add_argument("--hot-balance", type=int, default=200_000, help="cents in the hot wallet")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {', '.join(PHASES)}")
    args = parser.parse_args()
    phases = [name for name in args.phases.split(",") if name]
    if unknown := set(phases) - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    load = os.getloadavg()[0]
    org = uuid.uuid4()
    with bench_environment("wallets") as env:
        asyncio.run(seed(env.database_url, org, args.wallets, args.hot_balance))
        customers = {"hot": ["hot"], "across": [f"cus_{i}" for i in range(args.wallets)]}
        results: dict = {}
        hot_before = asyncio.run(_hot_wallet(env.database_url))["balance"]
        for name in PHASES:
            if name in phases:
                where, size = name.split("_")
                results[name] = phase(env.database_url, org, customers[where], args,
                                      1 if size == "single" else args.batch)
        hot = asyncio.run(_hot_wallet(env.database_url))
        clean = asyncio.run(_reconcile(env.database_url))
    hot_requests = sum(results[name]["applications"] for name in ("hot_single", "hot_batched") if name in results)
    across = [results[name]["applications_per_second"] for name in ("across_single", "across_batched")
              if name in results]
    print(json.dumps({
        "benchmark": "wallets_credit_applications", "load_average_1m_at_start": load,
        "load_average_1m_at_end": os.getloadavg()[0], "settings": vars(args), "phases": results,
        "hot_wallet": {"balance_before_cents": hot_before, "balance_after_cents": hot["balance"],
                       "requests": hot_requests, "applications_recorded": hot["applications"],
                       "applied_cents_recorded": hot["recorded"], "applied_cents_answered": hot["answered"],
                       "consumed_cents_in_ledger": hot["consumed"],
                       "exact": hot_before - hot["balance"] == hot["recorded"] == hot["answered"] == hot["consumed"]
                       and hot["applications"] == hot_requests,
                       "never_negative": hot["balance"] >= 0},
        "reconciliation_clean": clean,
        "targets": {"across_wallets_per_second": 2000, "met": bool(across) and max(across) >= 2000},
    }, indent=2))


if __name__ == "__main__":
    main()
