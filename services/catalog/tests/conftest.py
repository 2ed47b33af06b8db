"""Fixtures for the catalog service's tests (the invora pytest plugin provides the infrastructure)."""

import pytest

SERVICE = "catalog"


@pytest.fixture(scope="session")
def service_name() -> str:
    return SERVICE
