"""Pricing engine throughput: charges priced per second per model (one process, pure Python).

Prints one JSON object. Each model prices a realistic charge (4 tiers, a percentage charge over
100 transactions…) at varying units; `per_second` is the median of 5 runs.
"""

from __future__ import annotations

import json
import statistics
import time
from decimal import Decimal

from invora.pricing import price_charge

TIERS = [(0, 10_000, "0.0010", "10"), (10_001, 50_000, "0.0008", "10"), (50_001, 100_000, "0.0006", "10"),
         (100_001, None, "0.0004", "10")]


def ranges(price_field: str = "per_unit_amount") -> list[dict]:
    return [{"from_value": f, "to_value": t, price_field: p, "flat_amount": flat} for f, t, p, flat in TIERS]


CASES = {  # name: (charge model, properties, per-event values)
    "standard": ("standard", {"amount": "0.0005"}, None),
    "graduated": ("graduated", {"graduated_ranges": ranges()}, None),
    "volume": ("volume", {"volume_ranges": ranges()}, None),
    "package": ("package", {"amount": "5", "package_size": 100, "free_units": 100}, None),
    "graduated_percentage": ("graduated_percentage", {"graduated_percentage_ranges": ranges("rate")}, None),
    "percentage_100_events": ("percentage", {"rate": "1.2", "fixed_amount": "0.1", "free_units_per_events": 3,
                                             "per_transaction_min_amount": "0.5", "per_transaction_max_amount": "20"},
                              [Decimal(100 + i) for i in range(100)]),
    "dynamic_100_events": ("dynamic", {}, [Decimal("12.5")] * 100),
}


def run(charge_model: str, properties: dict, events, iterations: int) -> float:
    started = time.perf_counter()
    for i in range(iterations):
        price_charge(charge_model, properties, "USD", units=Decimal(1000 + i * 37), event_values=events)
    return iterations / (time.perf_counter() - started)


def main() -> None:
    results = {}
    for name, (charge_model, properties, events) in CASES.items():
        iterations = 300 if events else 3000
        rates = [run(charge_model, properties, events, iterations) for _ in range(5)]
        results[name] = {"per_second": round(statistics.median(rates)), "iterations": iterations}
    print(json.dumps({"benchmark": "pricing_engine", "results": results}, indent=2))


if __name__ == "__main__":
    main()
