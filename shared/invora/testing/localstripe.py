"""The `localstripe` fixture: one Stripe fake (`invora.infra.localstripe`) per test session, from scratch, on a
free loopback port. Point Stripe's SDK at `LocalStripe.url` (the payments setting
`INVORA_PAYMENTS_STRIPE_API_BASE`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from invora.infra.localstripe import LocalStripe, start_localstripe, stop_localstripe

__all__ = ["LocalStripe", "localstripe", "start_localstripe", "stop_localstripe"]


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    server = start_localstripe()
    try:
        yield server
    finally:
        stop_localstripe(server)
