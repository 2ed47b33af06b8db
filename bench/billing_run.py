"""A billing run: many subscriptions' periods end at the same instant → every invoice finalized.

    uv run python bench/billing_run.py [--subscriptions 100000] [--subscriptions-per-customer 1] [--charges 3]
        [--workers 1] [--partitions 3] [--idle-seconds 5]

Starts embedded PostgreSQL and the Tansu broker (or DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS), a fresh
invoicing database, and the invoicing service under uvicorn in child processes (`--workers`, each with its
consumers and outbox relay; its scheduler off; topics created with `--partitions`). It publishes what the
other services would: one tax, one plan (the subscription fee plus `--charges` graduated, standard and
package charges), one `customer.created` per customer, waits until the service has projected them (so its
consumers have joined), measures what every part uses idle for `--idle-seconds`, then publishes one
`subscription.billing_period_ended` per subscription, every period ending at the same instant, each with
usage for every charge. It stops when every invoice is finalized.

Reported: invoices/s (first period event published → last invoice finalized), and per invoice the
time from that instant to the commit of its `invoice.finalized` outbox row (p50/p95/p99/max): the
whole path, broker included, as a tenant's billing day would see it. `stages` gives where the time
went (publishing the events, then the service's consumer to the last finalization); `cpu_*` where the CPU
went: each part's CPU seconds over the run (the service's processes, PostgreSQL's, the broker's, this
script's; Linux /proc), per invoice, as shares, idle per second, and per invoice less that idle rate
(`marginal_cpu_ms_per_invoice`). On a shared machine invoices/s
follows the load; CPU per invoice is what compares. The subscriptions service's side (closing the periods,
building the snapshots) is not part of it. Issue 14's target: 100,000 subscriptions in ≤ 10 minutes
(stretch ≤ 3), i.e. ≥ 167 invoices/s: met on a quiet machine (194/s, 515 s), not under a busy one's load,
stretch not met (bench/README.md has the figures and what limits them). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import bench_environment, machine, percentile_ms, serve  # noqa: E402

PERIOD_END = datetime(2026, 4, 1, tzinfo=UTC)
PERIOD_START = datetime(2026, 3, 1, tzinfo=UTC)


def envelope(org: uuid.UUID, event_type: str, aggregate: str, aggregate_id: str, data: dict) -> bytes:
    from invora.events.envelope import EventEnvelope

    return EventEnvelope(type=event_type, source="bench", organization_id=org, aggregate_type=aggregate,
                         aggregate_id=aggregate_id, sequence=1, data=data).model_dump_json().encode()


def plan_body(charges: int) -> tuple[dict, list[dict]]:
    models = [("graduated", {"graduated_ranges": [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "0", "flat_amount": "0"},
        {"from_value": 101, "to_value": None, "per_unit_amount": "0.01", "flat_amount": "1"}]}),
        ("standard", {"amount": "0.002"}), ("package", {"amount": "5", "package_size": 1000, "free_units": 100})]
    charge_bodies = []
    for n in range(charges):
        model, properties = models[n % len(models)]
        charge_bodies.append({
            "lago_id": str(uuid.uuid4()), "lago_billable_metric_id": str(uuid.uuid4()),
            "billable_metric_code": f"metric_{n}", "code": f"charge_{n}", "created_at": PERIOD_START.isoformat(),
            "charge_model": model, "properties": properties, "filters": [], "taxes": []})
    plan = {"lago_id": str(uuid.uuid4()), "name": "Bench", "code": "bench", "interval": "monthly",
            "amount_cents": 4_900, "amount_currency": "EUR", "pay_in_advance": False, "charges": charge_bodies,
            "taxes": [], "created_at": PERIOD_START.isoformat(), "lago_plan_version_id": str(uuid.uuid4()),
            "version": 1}
    return plan, charge_bodies


def period_event(plan: dict, charges: list[dict], customer: dict, n: int) -> tuple[str, dict]:
    sub_id = str(uuid.uuid4())
    subscription = {
        "lago_id": sub_id, "external_id": f"sub_{n}", "lago_customer_id": customer["lago_id"],
        "external_customer_id": customer["external_id"], "plan_code": plan["code"], "lago_plan_id": plan["lago_id"],
        "lago_plan_version_id": plan["lago_plan_version_id"], "plan_amount_cents": plan["amount_cents"],
        "plan_amount_currency": "EUR", "plan_interval": "monthly", "pay_in_advance": False, "status": "active",
        "billing_time": "calendar", "subscription_at": PERIOD_START.isoformat(),
        "started_at": PERIOD_START.isoformat(), "created_at": PERIOD_START.isoformat(), "timezone": "UTC"}
    usage = []
    for k, charge in enumerate(charges):
        units = str(1_000 + (n * 7 + k * 13) % 5_000)
        usage.append({"units": units, "total_aggregated_units": units, "events_count": 10, "amount_cents": 0,
                      "amount_currency": "EUR",
                      "charge": {"lago_id": charge["lago_id"], "charge_model": charge["charge_model"]},
                      "billable_metric": {"lago_id": charge["lago_billable_metric_id"],
                                          "name": charge["billable_metric_code"],
                                          "code": charge["billable_metric_code"], "aggregation_type": "sum_agg"},
                      "filters": [], "grouped_usage": []})
    return sub_id, {
        "lago_billing_period_id": str(uuid.uuid4()), "subscription": subscription,
        "lago_plan_version_id": plan["lago_plan_version_id"], "period_start": PERIOD_START.isoformat(),
        "period_end": PERIOD_END.isoformat(), "full_period_start": PERIOD_START.isoformat(),
        "full_period_end": PERIOD_END.isoformat(), "reason": "period_end", "timezone": "UTC",
        "usage": {"from_datetime": PERIOD_START.isoformat(), "to_datetime": PERIOD_END.isoformat(),
                  "issuing_date": "2026-04-01", "currency": "EUR", "amount_cents": 0, "total_amount_cents": 0,
                  "charges_usage": usage}}


async def count(conn, sql: str, *args) -> int:
    return await conn.fetchval(sql, *args)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid → (parent, name, CPU seconds so far) of every process we can read (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(entry.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / _TICK)
    return found


class CpuMeter:
    """CPU seconds of the run's parts between `start` and the last `sample`: the service (its uvicorn
    processes), PostgreSQL (the postmaster's processes: the backends), the broker, and this script (the
    publisher and its polling). Sampled while the run goes on, so a process that exits keeps what it used.
    Where the time of a loaded machine went, whatever the other users of its CPUs take (Linux only)."""

    def __init__(self, postmaster: int | None) -> None:
        self.roots = {"bench": os.getpid(), "postgres": postmaster}
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}

    def _part_of(self, table: dict[int, tuple[int, str, float]]) -> dict[int, str]:
        parts: dict[int, str] = {}
        for pid in table:
            at, child = pid, None  # child: the ancestor right below this script
            for _ in range(64):
                if at == self.roots["postgres"]:
                    parts[pid] = "postgres"
                    break
                if at == self.roots["bench"]:
                    name = table[child][1] if child is not None else ""
                    parts[pid] = "bench" if child is None else "broker" if "tansu" in name else "service"
                    break
                if at not in table:
                    break
                at, child = table[at][0], at
        return parts

    def sample(self) -> None:
        table = _processes()
        for pid, part in self._part_of(table).items():
            self.last[pid] = (part, table[pid][2])

    def start(self) -> None:
        self.sample()
        self.first = {pid: cpu for pid, (_part, cpu) in self.last.items()}

    def seconds(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for pid, (part, cpu) in self.last.items():
            totals[part] = totals.get(part, 0.0) + cpu - self.first.get(pid, 0.0)
        return {part: round(cpu, 2) for part, cpu in sorted(totals.items())}


async def run(args: argparse.Namespace, env, meter: CpuMeter) -> dict:
    import asyncpg
    from aiokafka import AIOKafkaProducer

    org = uuid.uuid4()
    dsn = env.database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    producer = AIOKafkaProducer(bootstrap_servers=env.kafka_bootstrap_servers, linger_ms=5,
                                max_batch_size=1 << 20)
    await producer.start()
    try:
        plan, charges = plan_body(args.charges)
        customers_total = max(1, args.subscriptions // args.subscriptions_per_customer)
        customers = [{"lago_id": str(uuid.uuid4()), "sequential_id": i + 1, "slug": f"C{i}",
                      "external_id": f"cus_{i}", "name": f"Customer {i}", "currency": "EUR", "timezone": None,
                      "applicable_timezone": "UTC", "tax_codes": ["vat"], "account_type": "customer",
                      "finalize_zero_amount_invoice": "inherit", "skip_invoice_custom_sections": False,
                      "billing_configuration": {}, "shipping_address": {}, "created_at": PERIOD_START.isoformat(),
                      "updated_at": PERIOD_START.isoformat()} for i in range(customers_total)]
        tax = {"lago_id": str(uuid.uuid4()), "name": "VAT", "code": "vat", "rate": 20.0,
               "applied_to_organization": False, "created_at": PERIOD_START.isoformat()}
        await producer.send("invora.tax", envelope(org, "tax.created", "tax", tax["lago_id"], {"tax": tax}),
                            key=tax["lago_id"].encode())
        await producer.send("invora.plan", envelope(org, "plan.created", "plan", plan["lago_id"], {"plan": plan}),
                            key=plan["lago_id"].encode())
        for customer in customers:
            await producer.send("invora.customer", envelope(org, "customer.created", "customer", customer["lago_id"],
                                                            {"customer": customer}), key=customer["lago_id"].encode())
        await producer.flush()
        deadline = time.monotonic() + 600
        while await count(conn, "SELECT count(*) FROM customers") < customers_total or \
                await count(conn, "SELECT count(*) FROM plan_versions") < 1 or \
                await count(conn, "SELECT count(*) FROM taxes") < 1:
            if time.monotonic() > deadline:
                raise TimeoutError("the projections did not fill")
            await asyncio.sleep(0.2)

        events = [period_event(plan, charges, customers[n % customers_total], n) for n in range(args.subscriptions)]
        # what the parts use doing nothing (consumers polling the broker, relays and parked-event polls): a
        # rate per second, to tell the run's own work from the idle cost of its duration
        meter.start()
        idle_started = time.monotonic()
        await asyncio.sleep(args.idle_seconds)
        meter.sample()
        idle_rate = {part: seconds / (time.monotonic() - idle_started) for part, seconds in meter.seconds().items()}
        meter.start()
        started = time.time()
        for sub_id, data in events:
            await producer.send("invora.subscription", envelope(
                org, "subscription.billing_period_ended", "subscription", sub_id, data), key=sub_id.encode())
        await producer.flush()
        published = time.time()
        deadline = time.monotonic() + args.timeout
        done = 0
        while done < args.subscriptions:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
            meter.sample()
            done = await count(conn, "SELECT count(*) FROM invoices WHERE status = 'finalized'")
        meter.sample()
        finished = time.time()
        cpu = meter.seconds()
        rows = await conn.fetch("SELECT extract(epoch FROM created_at) AS at FROM outbox_events "
                                "WHERE event_type = 'invoice.finalized'")
        latencies = sorted(float(r["at"]) - started for r in rows)
        last = max((float(r["at"]) for r in rows), default=finished)
        totals = await conn.fetchrow("SELECT count(*) AS invoices, sum(total_amount_cents) AS total, "
                                     "count(DISTINCT number) AS numbers, max(sequential_id) AS last_number "
                                     "FROM invoices WHERE status = 'finalized'")
        elapsed = last - started
        return {
            "invoices_finalized": totals["invoices"], "expected": args.subscriptions,
            "distinct_numbers": totals["numbers"], "last_number": totals["last_number"],
            "elapsed_seconds": round(elapsed, 2),
            "invoices_per_second": round(totals["invoices"] / elapsed, 1) if elapsed > 0 else None,
            "period_end_to_finalized_ms": {"p50": percentile_ms(latencies, 0.5),
                                           "p95": percentile_ms(latencies, 0.95),
                                           "p99": percentile_ms(latencies, 0.99),
                                           "max": percentile_ms(latencies, 1.0)},
            "stages": {"publish_seconds": round(published - started, 2),
                       "publish_share": round((published - started) / elapsed, 3) if elapsed > 0 else None,
                       "consume_compute_finalize_seconds": round(last - published, 2)},
            # CPU seconds each part used from the first period event to the last finalization, per invoice
            # and as a share of their sum: where the work is, whatever else the machine runs
            "cpu_seconds": cpu,
            "cpu_ms_per_invoice": {part: round(seconds * 1000 / max(1, totals["invoices"]), 2)
                                   for part, seconds in cpu.items()},
            "cpu_share": {part: round(seconds / max(1e-9, sum(cpu.values())), 3) for part, seconds in cpu.items()},
            "idle_cpu_per_second": {part: round(rate, 3) for part, rate in idle_rate.items()},
            # the run's CPU less what the parts would have used idle over the same time, per invoice
            "marginal_cpu_ms_per_invoice": {
                part: round((seconds - idle_rate.get(part, 0.0) * (finished - started)) * 1000
                            / max(1, totals["invoices"]), 2) for part, seconds in cpu.items()},
            "target_10_minutes_for_100k_met": (args.subscriptions >= 100_000 and elapsed <= 600) or None,
        }
    finally:
        await producer.stop()
        await conn.close()


def _postmaster(env) -> int | None:
    """The embedded PostgreSQL's postmaster (pg_ctl detaches it from this script), None for DATABASE_URL."""
    for found in env.workdir.glob("pg/**/postmaster.pid"):
        return int(found.read_text().split("\n", 1)[0])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--subscriptions-per-customer", type=int, default=1)
    parser.add_argument("--charges", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--workers", type=int, default=1,
                        help="service processes (uvicorn workers), each with its consumers and relay")
    parser.add_argument("--idle-seconds", type=float, default=5.0,
                        help="how long the idle CPU of each part is measured before the run")
    parser.add_argument("--partitions", type=int, default=3,
                        help="partitions of the topics the service creates (a multiple of --workers balances them)")
    args = parser.parse_args()
    os.environ["INVORA_KAFKA_TOPIC_PARTITIONS"] = str(args.partitions)
    # billing alone: the invoices' PDFs (the `documents` consumer) are measured by bench/documents.py
    os.environ.setdefault("INVORA_INVOICING_DOCUMENTS_GENERATE", "false")
    load = os.getloadavg()[0]
    with bench_environment("invoicing") as env, serve(env, "invoicing", workers=args.workers):
        result = asyncio.run(run(args, env, CpuMeter(_postmaster(env))))
    print(json.dumps({
        "benchmark": "billing_run", "machine": machine(load_average_1m=load,
                                                                    load_average_1m_at_end=os.getloadavg()[0]),
        "parameters": vars(args), **result}, indent=2))


if __name__ == "__main__":
    main()
