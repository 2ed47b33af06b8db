"""The payments service: payment providers, payment methods, payments, refunds, payment requests and
dunning.
"""

from __future__ import annotations

from fastapi import FastAPI

from invora.app import ServiceDefinition, build_service_app
from payments.settings import PaymentsSettings

DEFINITION = ServiceDefinition(
    name="payments",
    title="Invora Payments",
    description=(
        "Owns payment providers, payment methods, payments, refunds, payment requests and dunning."
    ),
)


def create_app(settings: PaymentsSettings | None = None) -> FastAPI:
    return build_service_app(DEFINITION, settings or PaymentsSettings())
