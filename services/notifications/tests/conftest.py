"""Fixtures for the notifications service's tests (the invora pytest plugin provides the infrastructure)."""

import pytest

SERVICE = "notifications"


@pytest.fixture(scope="session")
def service_name() -> str:
    return SERVICE
