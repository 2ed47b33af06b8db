"""The invoicing service: invoices, fees, applied coupons and taxes, credit notes, invoice numbering
and documents.
"""

from __future__ import annotations

from fastapi import FastAPI

from invoicing.settings import InvoicingSettings
from invora.app import ServiceDefinition, build_service_app

DEFINITION = ServiceDefinition(
    name="invoicing",
    title="Invora Invoicing",
    description=(
        "Owns invoices, fees, applied coupons and taxes, credit notes, invoice numbering and "
        "documents."
    ),
)


def create_app(settings: InvoicingSettings | None = None) -> FastAPI:
    return build_service_app(DEFINITION, settings or InvoicingSettings())
