"""The money path as an outside user walks it: `scripts/money_journey.py` run against the six services behind the
gateway (one origin, real Caddy), payments charging on localstripe.

Lago's official Python client drives it all: metrics, a 20 % tax, a plan paid in advance with standard,
graduated, package and percentage charges, a coupon, customers on Stripe with a good card and two declining ones,
usage events, a termination closing the period, a credit note refunding part of a paid invoice, a wallet's paid
top-up. Amounts are recomputed with Decimal in the script, every charge and refund is counted at the fake, every
JSON answer is checked against Lago's OpenAPI document, and every webhook is verified there (Lago's JWT and HMAC
`X-Lago-Signature`, the Standard Webhooks signature), never twice. See the script for the list of checks.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from .e2e import gateway_over  # noqa: TID252

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "money_journey.py"
FAST = {"consumer_session_timeout_ms": 2_000}


def journey_module():
    spec = importlib.util.spec_from_file_location("money_journey", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def origin(live_service, invora_keys, localstripe, tmp_path: Path) -> Iterator[str]:
    overrides = {service: dict(FAST) for service in ("catalog", "subscriptions", "invoicing", "wallets",
                                                      "notifications")}
    overrides["payments"] = {**FAST, "stripe_api_base": localstripe.url, "charger_interval_seconds": 0.2,
                             "provider_timeout_seconds": 5.0}
    with gateway_over(live_service, invora_keys, tmp_path, **overrides) as url:
        yield url


def test_the_money_journey_through_the_one_origin(origin, make_api_key, localstripe):
    import uuid

    failures = journey_module().run(origin, make_api_key(uuid.uuid4(), ["admin"]), localstripe.url, timeout=60.0)
    assert failures == []
