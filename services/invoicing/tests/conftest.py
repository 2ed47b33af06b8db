"""Fixtures for the invoicing service's tests (the invora pytest plugin provides the infrastructure)."""

import pytest

SERVICE = "invoicing"


@pytest.fixture(scope="session")
def service_name() -> str:
    return SERVICE
