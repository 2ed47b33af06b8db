"""Charges per second from finalized invoices to succeeded payments, and proof that none was sent twice.

    uv run python bench/payments.py [--invoices 10000] [--customers 100] [--phases fake:200 localstripe]
                                    [--localstripe-invoices 1000] [--concurrency 64] [--processes 2]
                                    [--provider-concurrency 128]
                                    [--profile PREFIX]

Starts embedded PostgreSQL (or uses DATABASE_URL), migrates a fresh payments database and connects one
Stripe connection. Each phase names its provider:

- `fake:MS`: `_stripe_fake.py`, a light Stripe-protocol server in its own process that answers each
  PaymentIntent MS ms after the request and counts PaymentIntents per invoice (localstripe spends more
  CPU per charge than the charger, so with it underneath the benchmark would measure localstripe);
- `localstripe` (loopback, in memory; `--customers` Stripe customers with a card): the Stripe fake of the
  tests, one Python process that slows as its store fills, so its phases take at most
  `--localstripe-invoices`; `localstripe:MS` uses each charge's answer MS ms late (`SlowAdapter`).

Either way the charger's code is unchanged: the real `StripeAdapter` (official SDK over aiohttp) talks
HTTP to the phase's server. Per phase, the `invoice.finalized` events are recorded through the consumer's
own code (`invoices.service.apply_events`, 200 a transaction, as the `invoices` consumer handles a fetched
batch, without the broker; reported as the consumer's events/s and CPU per event), then `--processes`
processes run the charger (`charger.run_once`, `--concurrency` provider calls in flight per process, and
`--provider-concurrency` at the Stripe connection across them all: `PROVIDER_CONCURRENCY={"stripe": N}`, the
database claim's bound) until nothing is pending: claim, re-read under lock, `calls + 1` committed, provider call
with the idempotency key, outcome with its events and receipt. Kafka is not involved. The fake also reports the
most PaymentIntents it answered at once (`most_payment_intents_in_flight`, the bound's check).

The charger processes start (imports, a database connection) before the clock does, as a running
service's charger is warm. Reported per phase: charges/s (invoices / wall time from the chargers'
start signal to the last one's exit), p50 / p99 from the later of the attempt's commit and that
signal to the payment's `succeeded` commit (every attempt is queued at once, so these include the
queue), the load average at the start, the chargers', the provider's and PostgreSQL's CPU per charge
(Linux), the chargers' SQL statements and commits per charge, and the check at the provider: exactly one
succeeded charge per invoice (localstripe ignores idempotency keys and the fake counts PaymentIntents per
invoice, so a second call would be a second charge there). `--profile PREFIX` writes each charger
process's cProfile (CPU time, from the start signal) to PREFIX.<pid>. Target (issue 16): >= 200
charges/s with the 200 ms provider. Prints JSON; bench/README.md has every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import bench_environment, machine  # noqa: E402


class SlowAdapter:
    """A provider that answers after `delay` seconds (localstripe underneath, so charges are still counted)."""

    def __init__(self, adapter, delay: float) -> None:
        self._adapter = adapter
        self._delay = delay

    def __getattr__(self, name):
        return getattr(self._adapter, name)

    async def charge(self, request):
        await asyncio.sleep(self._delay)
        return await self._adapter.charge(request)


class SlowFactory:
    def __init__(self, factory, delay: float) -> None:
        self._factory = factory
        self._delay = delay

    def for_connection(self, connection):
        adapter = self._factory.for_connection(connection)
        return SlowAdapter(adapter, self._delay) if self._delay else adapter

    async def aclose(self) -> None:
        await self._factory.aclose()


def _runtime(url: str, stripe_base: str, concurrency: int, delay: float, provider_concurrency: int):
    from payments.runtime import PaymentsRuntime
    from payments.settings import PaymentsSettings

    settings = PaymentsSettings(database_url=url, stripe_api_base=stripe_base, charger_concurrency=concurrency,
                                provider_concurrency={"stripe": provider_concurrency},
                                provider_timeout_seconds=20, charger_lease_seconds=120, database_pool_size=20)
    runtime = PaymentsRuntime(settings=settings)
    runtime.adapters = SlowFactory(runtime.adapters, delay)
    return runtime


async def _charge_all(url: str, stripe_base: str, concurrency: int, delay: float, provider_concurrency: int, ready,
                      go, cpu, profile: str | None) -> None:
    import stripe  # noqa: F401 - imported before the clock starts, as in a running service
    from sqlalchemy import event, text

    from invora.db.engine import Database
    from payments.payments import charger

    runtime = _runtime(url, stripe_base, concurrency, delay, provider_concurrency)
    database = Database(url, pool_size=20)
    counts = {"statements": 0, "commits": 0}

    def statement(*_args) -> None:
        counts["statements"] += 1

    def commit(*_args) -> None:
        counts["commits"] += 1

    try:
        async with database.sessionmaker() as session:  # a connection open, as in a running service
            await session.execute(text("SELECT 1"))
        ready.set()
        await asyncio.to_thread(go.wait)
        profiler = None
        if profile is not None:  # CPU time per function, from the start signal on
            import cProfile

            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
        event.listen(database.engine.sync_engine, "before_cursor_execute", statement)
        event.listen(database.engine.sync_engine, "commit", commit)
        started = time.process_time()
        while await charger.run_once(runtime, database.sessionmaker):
            pass
        cpu.put((time.process_time() - started, counts["statements"], counts["commits"]))
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{profile}.{os.getpid()}")
    finally:
        await runtime.adapters.aclose()
        await database.dispose()


def _worker(url: str, stripe_base: str, concurrency: int, delay: float, provider_concurrency: int, key: str, ready,
            go, cpu, profile: str | None = None) -> None:
    from invora import secrets

    secrets.configure(secrets.KeyRing.parse(key))
    asyncio.run(_charge_all(url, stripe_base, concurrency, delay, provider_concurrency, ready, go, cpu, profile))


async def _connection(url: str, org: uuid.UUID) -> None:
    """The organization's Stripe connection (its API base is the chargers' setting: localstripe or the fake)."""
    from invora.db.engine import Database
    from payments.payment_providers.models import PaymentProvider

    database = Database(url)
    provider_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with database.sessionmaker() as session:
        session.add(PaymentProvider(id=provider_id, organization_id=org, provider_type="stripe", code="stripe",
                                    name="Stripe", secret_key="sk_test_bench", created_at=now, updated_at=now))
        await session.commit()
    await database.dispose()


def _localstripe_customers(server, customers: int) -> list[tuple[uuid.UUID, str, str]]:
    client = server.client()
    people = []
    for i in range(customers):
        stripe_customer = client.v1.customers.create({"email": f"c{i}@bench.test"})
        method = client.v1.payment_methods.create({"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
        client.v1.payment_methods.attach(method.id, {"customer": stripe_customer.id})
        people.append((uuid.uuid4(), f"cus_{i}", stripe_customer.id))
    return people


def _invoice_envelope(org, customer, amount: int):
    from invora.events.envelope import EventEnvelope

    lago_id, external_id, provider_customer_id = customer
    now = datetime.now(UTC)
    invoice_id = uuid.uuid4()
    customer_obj = {
        "lago_id": str(lago_id), "sequential_id": 1, "slug": "C", "external_id": external_id, "name": external_id,
        "currency": "EUR", "applicable_timezone": "UTC", "account_type": "customer",
        "finalize_zero_amount_invoice": "inherit", "skip_invoice_custom_sections": False,
        "billing_configuration": {"payment_provider": "stripe", "payment_provider_code": "stripe",
                                  "provider_customer_id": provider_customer_id},
        "shipping_address": {}, "created_at": now.isoformat(), "updated_at": now.isoformat()}
    invoice = {
        "lago_id": str(invoice_id), "number": f"B-{invoice_id.hex[:8]}", "status": "finalized",
        "issuing_date": now.date().isoformat(), "payment_due_date": now.date().isoformat(), "payment_overdue": False,
        "net_payment_term": 0, "invoice_type": "subscription", "payment_status": "pending", "currency": "EUR",
        "fees_amount_cents": amount, "coupons_amount_cents": 0, "credit_notes_amount_cents": 0,
        "sub_total_excluding_taxes_amount_cents": amount, "taxes_amount_cents": 0,
        "sub_total_including_taxes_amount_cents": amount, "prepaid_credit_amount_cents": 0,
        "progressive_billing_credit_amount_cents": 0, "total_amount_cents": amount, "version_number": 4,
        "created_at": now.isoformat(), "updated_at": now.isoformat(), "customer": customer_obj}
    return EventEnvelope(type="invoice.finalized", source="invoicing", organization_id=org, aggregate_type="invoice",
                         aggregate_id=str(invoice_id), sequence=1, data={"invoice": invoice})


async def _finalize(url: str, org, people, invoices: int, phase: int) -> tuple[dict[str, str], float]:
    """`invoices` invoice.finalized events applied, 200 a transaction as the consumer's batches; ({invoice id:
    "provider customer:amount"}, this process's CPU seconds in the consumer's code and commits)."""
    from invora.db.engine import Database
    from payments.invoices import service as invoices_service

    database = Database(url)
    expected: dict[str, str] = {}
    cpu = 0.0
    try:
        for start in range(0, invoices, 200):
            envelopes = []
            for i in range(start, min(start + 200, invoices)):
                customer = people[i % len(people)]
                amount = 100 + phase * 100_000 + i
                envelopes.append(_invoice_envelope(org, customer, amount))
                expected[envelopes[-1].aggregate_id] = f"{customer[2]}:{amount}"
            started = time.process_time()
            async with database.sessionmaker() as session:
                await invoices_service.apply_events(session, envelopes)
                await session.commit()
            cpu += time.process_time() - started
    finally:
        await database.dispose()
    return expected, cpu


async def _latencies(url: str, since: datetime, go_at: datetime) -> tuple[list[float], dict[str, int]]:
    """Seconds from the later of the attempt's commit and the chargers' start to its `succeeded` commit."""
    from sqlalchemy import text

    from invora.db.engine import Database

    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            rows = (await session.execute(text(
                "SELECT payment_status, EXTRACT(EPOCH FROM (updated_at - GREATEST(created_at, :go_at))) AS seconds "
                "FROM payments WHERE created_at >= :since"), {"since": since, "go_at": go_at})).all()
    finally:
        await database.dispose()
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.payment_status] = statuses.get(row.payment_status, 0) + 1
    return sorted(float(r.seconds) for r in rows if r.payment_status == "succeeded"), statuses


def _charges_at_localstripe(server, people, phase: int, expected: dict[str, str]) -> dict[str, int]:
    """Succeeded charges per invoice at localstripe (it keeps no invoice id: matched by customer and amount,
    unique per invoice within a phase)."""
    client = server.client()
    invoice_of = {value: invoice for invoice, value in expected.items()}
    counted: dict[str, int] = {}
    for _, _, provider_customer_id in people:
        params = {"customer": provider_customer_id, "limit": 100}
        while True:
            page = client.v1.charges.list(params)
            for charge in page.data:
                if charge.status == "succeeded" and phase * 100_000 <= charge.amount - 100 < (phase + 1) * 100_000:
                    key = invoice_of.get(f"{provider_customer_id}:{charge.amount}", f"?{charge.id}")
                    counted[key] = counted.get(key, 0) + 1
            if not page.has_more:
                break
            params = {**params, "starting_after": page.data[-1].id}
    return counted


class StripeFake:
    """`_stripe_fake.py` in its own process (a provider runs elsewhere), answering charges after `latency_ms`."""

    def __init__(self, latency_ms: int, log_path: Path) -> None:
        from invora.infra.ports import free_port, wait_for_port

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, str(HERE / "_stripe_fake.py"), str(port), str(latency_ms)],
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for_port("127.0.0.1", port, 20)

    def charges_per_invoice(self) -> dict[str, int]:
        import httpx

        return httpx.get(f"{self.url}/_counts", timeout=30).json()["per_invoice"]

    def most_in_flight(self) -> int:
        """The most PaymentIntent requests the fake answered at once (at most `--provider-concurrency`)."""
        import httpx

        return httpx.get(f"{self.url}/_counts", timeout=30).json()["most_in_flight"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _cpu_seconds(pid: int) -> float | None:
    """A process's CPU time so far (Linux), to report the provider's CPU per charge."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu(workdir: Path) -> float | None:
    """CPU time so far of the benchmark's embedded PostgreSQL (Linux): the server, its live backends, and the
    backends that exited (counted in the server's children time); None with DATABASE_URL."""
    tick = os.sysconf("SC_CLK_TCK")
    server, processes = None, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        processes[int(entry.name)] = fields
        if b"postgres\0-D\0" + str(workdir).encode() in command:
            server = int(entry.name)
    if server is None:
        return None
    own = sum(int(value) for value in processes[server][11:15])  # utime, stime, cutime, cstime
    children = sum(int(f[11]) + int(f[12]) for f in processes.values() if int(f[1]) == server)
    return (own + children) / tick


def _phase(spec: str) -> tuple[str, int]:
    """`localstripe`, `localstripe:200` (localstripe, each charge's answer used 200 ms late) or `fake:200`."""
    name, _, latency = spec.partition(":")
    if name not in ("localstripe", "fake"):
        raise argparse.ArgumentTypeError(f"unknown phase {spec!r}")
    return name, int(latency or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--localstripe-invoices", type=int, default=1_000,
                        help="at most this many in a localstripe phase (it slows as its store fills)")
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--phases", type=_phase, nargs="+", default=[("fake", 200), ("localstripe", 0)],
                        help="localstripe | localstripe:MS | fake:MS (default: fake:200 localstripe)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--provider-concurrency", type=int, default=128,
                        help="calls in flight at the Stripe connection across every charger process "
                             "(PROVIDER_CONCURRENCY, enforced by the database claim)")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="write each charger process's cProfile statistics to PREFIX.<pid> (slows it down)")
    args = parser.parse_args()

    from invora import secrets
    from invora.testing.localstripe import start_localstripe, stop_localstripe

    key = os.environ.get("INVORA_SECRETS_KEY") or secrets.generate_key_entry("bench")
    secrets.configure(secrets.KeyRing.parse(key))
    results = []
    with bench_environment("payments") as env:
        server = start_localstripe(env.workdir / "localstripe.log")
        try:
            org = uuid.uuid4()
            asyncio.run(_connection(env.database_url, org))
            stripe_people = None
            for phase, (provider, latency) in enumerate(args.phases):
                fake = StripeFake(latency, env.workdir / f"fake-{phase}.log") if provider == "fake" else None
                try:
                    if fake is None:
                        stripe_people = stripe_people or _localstripe_customers(server, args.customers)
                        people, base, delay = stripe_people, server.url, latency / 1000
                        provider_pid = server.process.pid
                    else:  # the fake knows every customer; its default method is pm_<customer id>
                        people = [(uuid.uuid4(), f"fake_{phase}_{i}", f"cus_fake{phase}x{i}")
                                  for i in range(args.customers)]
                        base, delay, provider_pid = fake.url, 0.0, fake.process.pid
                    results.append(_run_phase(args, env, key, org, people, phase, provider, latency, base, delay,
                                              provider_pid, server, fake))
                finally:
                    if fake is not None:
                        fake.stop()
        finally:
            stop_localstripe(server)
    print(json.dumps({"benchmark": "payments", "machine": machine(), "parameters": vars(args), "phases": results},
                     indent=2, default=str))


def _run_phase(args, env, key: str, org, people, phase: int, provider: str, latency: int, base: str, delay: float,
               provider_pid: int, server, fake) -> dict:
    invoices = args.invoices if provider == "fake" else min(args.invoices, args.localstripe_invoices)
    since = datetime.now(UTC)
    postgres_before, consumed_at = _postgres_cpu(env.workdir), time.perf_counter()
    expected, consumer_cpu = asyncio.run(_finalize(env.database_url, org, people, invoices, phase))
    consumed_in = time.perf_counter() - consumed_at
    consumer_postgres_cpu = (_postgres_cpu(env.workdir) - postgres_before) if postgres_before is not None else None
    # the chargers start (imports, a database connection) before the clock does: a running
    # service's charger is warm; what is measured is charging, not Python's start-up
    context = multiprocessing.get_context("spawn")
    go, cpu = context.Event(), context.Queue()
    workers = [(context.Process(target=_worker, args=(env.database_url, base, args.concurrency, delay,
                                                      args.provider_concurrency, key, ready, go, cpu, args.profile)),
                ready)
               for ready in (context.Event() for _ in range(args.processes))]
    for worker, _ in workers:
        worker.start()
    for _, ready in workers:
        ready.wait(300)
    load = os.getloadavg()[0]
    provider_cpu, postgres_cpu = _cpu_seconds(provider_pid), _postgres_cpu(env.workdir)
    go_at = datetime.now(UTC)
    started = time.perf_counter()
    go.set()
    for worker, _ in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    provider_cpu = (_cpu_seconds(provider_pid) - provider_cpu) if provider_cpu is not None else None
    postgres_cpu = (_postgres_cpu(env.workdir) - postgres_cpu) if postgres_cpu is not None else None
    reports = [cpu.get(timeout=5) for _ in workers]
    charger_cpu = sum(r[0] for r in reports)
    statements, commits = sum(r[1] for r in reports), sum(r[2] for r in reports)
    latencies, statuses = asyncio.run(_latencies(env.database_url, since, go_at))
    counted = (fake.charges_per_invoice() if fake is not None
               else _charges_at_localstripe(server, people, phase, expected))
    return {
        "provider": provider if provider == "fake" or not latency else f"{provider} answers used {latency} ms late",
        # the invoice.finalized events recorded as attempts (the consumer's code, 200 a transaction), before
        # the chargers start
        "consumer_events_per_second": round(invoices / consumed_in, 1),
        "consumer_cpu_ms_per_event": round(1000 * consumer_cpu / invoices, 2),
        "consumer_postgres_cpu_ms_per_event": (round(1000 * consumer_postgres_cpu / invoices, 2)
                                               if consumer_postgres_cpu is not None else None),
        "provider_latency_ms": latency, "invoices": invoices, "customers": args.customers,
        "processes": args.processes, "concurrency": args.concurrency,
        "provider_concurrency": args.provider_concurrency, "load_average_at_start": round(load, 2),
        "charges_per_second": round(invoices / elapsed, 1), "seconds": round(elapsed, 2),
        "p50_seconds": round(latencies[len(latencies) // 2], 3) if latencies else None,
        "p99_seconds": round(latencies[int(len(latencies) * 0.99) - 1], 3) if latencies else None,
        "payment_statuses": statuses,
        "charger_cpu_ms_per_charge": round(1000 * charger_cpu / invoices, 2),
        "sql_statements_per_charge": round(statements / invoices, 2),
        "commits_per_charge": round(commits / invoices, 3),
        "provider_cpu_ms_per_charge": round(1000 * provider_cpu / invoices, 2) if provider_cpu else None,
        "postgres_cpu_ms_per_charge": round(1000 * postgres_cpu / invoices, 2) if postgres_cpu else None,
        "most_payment_intents_in_flight": fake.most_in_flight() if fake is not None else None,
        "charges_at_provider": sum(counted.values()),
        "invoices_charged_twice": sum(1 for n in counted.values() if n > 1),
        "invoices_not_charged": len(set(expected) - set(counted)),
        "charges_of_unknown_invoices": len(set(counted) - set(expected)),
    }


if __name__ == "__main__":
    main()
