"""Fixtures of the suite-level tests (their helpers: `tests/e2e.py`)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from invora.clock import ManualClock

from .e2e import Suite, running_suite  # noqa: TID252


@pytest.fixture
def start_suite(migrated_database, invora_kafka,
                invora_keys) -> Callable[..., contextlib.AbstractAsyncContextManager[Suite]]:
    """`async with start_suite({"catalog": {}, "subscriptions": {...}}, clock=…) as suite:` (`running_suite`)."""

    def start(services: dict[str, dict[str, Any]], *, clock: ManualClock | None = None,
              org: uuid.UUID | None = None) -> contextlib.AbstractAsyncContextManager[Suite]:
        return running_suite(migrated_database, invora_kafka, invora_keys, services, clock=clock, org=org)

    return start
