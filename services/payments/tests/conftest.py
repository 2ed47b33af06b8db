"""Fixtures for the payments service's tests (the invora pytest plugin provides the infrastructure)."""

import pytest

SERVICE = "payments"


@pytest.fixture(scope="session")
def service_name() -> str:
    return SERVICE
