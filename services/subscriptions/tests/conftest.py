"""Fixtures for the subscriptions service's tests (the invora pytest plugin provides the infrastructure)."""

import pytest

SERVICE = "subscriptions"


@pytest.fixture(scope="session")
def service_name() -> str:
    return SERVICE
