"""Fixtures for the wallets service's tests (the invora pytest plugin provides the infrastructure)."""

import pytest

SERVICE = "wallets"


@pytest.fixture(scope="session")
def service_name() -> str:
    return SERVICE
