"""Catalog API latency, in process (ASGI, no network) against embedded PostgreSQL and Kafka.

Creates metrics and plans, then measures: plan creation (5 charges: graduated, volume,
package, percentage, standard with 2 filters), plan read, a price change (PUT → new version),
a version read, and a page of 20 plans. Prints one JSON object with median and p95 in ms and
the sequential rate. Uses DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set, else embedded ones.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from pathlib import Path

import httpx
from _harness import bench_environment

from invora.auth.keys import sign_token

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "60"))


def tiers(key: str, price: str = "per_unit_amount") -> dict:
    return {key: [{"from_value": 0, "to_value": 100, price: "1", "flat_amount": "0"},
                  {"from_value": 101, "to_value": 1000, price: "0.5", "flat_amount": "5"},
                  {"from_value": 1001, "to_value": None, price: "0.1", "flat_amount": "0"}]}


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered) * 1000, 2),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
            "sequential_per_second": round(len(ordered) / sum(ordered), 1)}


STATEMENTS = {"count": 0}
QUERIES: dict[str, list[int]] = {}


async def timed(samples: list[float], request, name: str = "") -> httpx.Response:
    before = STATEMENTS["count"]
    started = time.perf_counter()
    response = await request
    samples.append(time.perf_counter() - started)
    QUERIES.setdefault(name, []).append(STATEMENTS["count"] - before)
    assert response.status_code == 200, response.text
    return response


async def bench(database_url: str, kafka: str, key_path: Path, private_pem: bytes) -> dict:
    from catalog.app import create_app
    from catalog.settings import CatalogSettings

    settings = CatalogSettings(database_url=database_url, kafka_bootstrap_servers=kafka,
                               auth_public_keys=[str(key_path)], log_level="WARNING")
    app = create_app(settings)
    org = uuid.uuid4()
    token = sign_token(private_pem, organization_id=org, roles=["admin"])
    timings: dict[str, list[float]] = {k: [] for k in ("create_plan", "get_plan", "price_change_put",
                                                       "get_plan_version", "list_plans_page_20")}
    async with app.router.lifespan_context(app):
        from sqlalchemy import event

        def count(*_args, **_kwargs) -> None:
            STATEMENTS["count"] += 1

        event.listen(app.state.database.engine.sync_engine, "before_cursor_execute", count)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://catalog",
                                   headers={"Authorization": f"Bearer {token}"})
        metrics = []
        for i, aggregation in enumerate(["sum_agg", "count_agg", "sum_agg"]):
            body = {"name": "m", "code": f"m{i}", "aggregation_type": aggregation,
                    "field_name": "value", "filters": [{"key": "region", "values": ["eu", "us"]}]}
            metrics.append((await client.post("/api/v1/billable_metrics", json={"billable_metric": body})).json())
        ids = [m["billable_metric"]["lago_id"] for m in metrics]
        for n in range(ROUNDS):
            charges = [
                {"billable_metric_id": ids[0], "charge_model": "graduated", "properties": tiers("graduated_ranges")},
                {"billable_metric_id": ids[1], "charge_model": "volume", "properties": tiers("volume_ranges")},
                {"billable_metric_id": ids[1], "charge_model": "package",
                 "properties": {"amount": "5", "package_size": 100, "free_units": 10}},
                {"billable_metric_id": ids[2], "charge_model": "percentage",
                 "properties": {"rate": "1.5", "fixed_amount": "0.2"}},
                {"billable_metric_id": ids[2], "code": "std", "charge_model": "standard",
                 "properties": {"amount": "0.01"},
                 "filters": [{"values": {"region": ["eu"]}, "properties": {"amount": "0.02"}},
                             {"values": {"region": ["us"]}, "properties": {"amount": "0.03"}}]},
            ]
            plan = {"name": "P", "code": f"plan_{n}", "interval": "monthly", "amount_cents": 1000,
                    "amount_currency": "EUR", "charges": charges}
            created = (await timed(timings["create_plan"],
                                   client.post("/api/v1/plans", json={"plan": plan}), "create_plan")).json()["plan"]
            await timed(timings["get_plan"], client.get(f"/api/v1/plans/plan_{n}"), "get_plan")
            await timed(timings["price_change_put"], client.put(f"/api/v1/plans/plan_{n}", json={"plan": {
                "amount_cents": 2000, "charges": [{"code": "std", "properties": {"amount": "0.05"}}]}}),
                        "price_change_put")
            await timed(timings["get_plan_version"],
                        client.get(f"/api/v1/plan_versions/{created['lago_plan_version_id']}"), "get_plan_version")
            await timed(timings["list_plans_page_20"], client.get("/api/v1/plans?per_page=20"), "list_plans_page_20")
        await client.aclose()
    return {name: {**summary(samples), "sql_statements": statistics.median(QUERIES[name])}
            for name, samples in timings.items()}


def main() -> None:
    with bench_environment("catalog") as env:
        results = asyncio.run(bench(env.database_url, env.kafka_bootstrap_servers, env.public_key_path,
                                    env.private_pem))
        print(json.dumps({"benchmark": "catalog_api_in_process", "rounds": ROUNDS, "results": results}, indent=2))


if __name__ == "__main__":
    main()
