"""The invoicing service: invoices, fees, applied coupons and taxes, invoice numbering, credit notes, and their
documents (PDF).
"""

from __future__ import annotations

import dataclasses

from fastapi import FastAPI

from invoicing.analytics.routes import router as analytics_router
from invoicing.applied_coupons.routes import router as applied_coupons_router
from invoicing.credit_notes.consumer import REFUND_CONSUMERS
from invoicing.credit_notes.routes import router as credit_notes_router
from invoicing.documents.consumer import DOCUMENTS_CONSUMER
from invoicing.documents.routes import router as documents_router
from invoicing.fees.routes import router as fees_router
from invoicing.invoices.consumer import invoice_consumers
from invoicing.invoices.payments_consumer import PAYMENT_CONSUMERS
from invoicing.invoices.routes import router as invoices_router
from invoicing.invoices.scheduler import scheduler
from invoicing.prepaid_credits.consumer import WALLETS_CONSUMER, credits_consumer
from invoicing.projections.consumer import PROJECTION_CONSUMERS
from invoicing.runtime import InvoicingRuntime
from invoicing.settings import InvoicingSettings
from invora.app import ServiceDefinition, build_service_app
from invora.documents import links
from invora.runtime import clients_lifespan

DEFINITION = ServiceDefinition(
    name="invoicing",
    title="Invora Invoicing",
    description=(
        "Owns invoices, fees, applied coupons and taxes, invoice numbering, credit notes and their documents (PDF). "
        "Turns each closed billing period into an invoice."
    ),
    routers=(invoices_router, fees_router, applied_coupons_router, analytics_router, credit_notes_router,
             documents_router),
    consumers=(*PROJECTION_CONSUMERS, *PAYMENT_CONSUMERS, *REFUND_CONSUMERS, WALLETS_CONSUMER),
    background=(scheduler(lambda app: app.state.settings.scheduler_interval_seconds), clients_lifespan),
    openapi_tags=[
        {"name": "invoices", "description": "Invoices (Lago API v1): draft → finalized → voided, failed + retry."},
        {"name": "fees", "description": "Fees (Lago API v1)."},
        {"name": "analytics", "description": "Revenue analytics from invoices and fees (Lago API v1)."},
        {"name": "applied_coupons", "description": "Coupons applied to customers (Lago API v1)."},
        {"name": "credit_notes", "description": "Credit notes on finalized invoices (Lago API v1)."},
        {"name": "invoice_settings", "description": "Numbering, grace period, payment term; the billing check."},
    ],
)


def create_app(settings: InvoicingSettings | None = None) -> FastAPI:
    settings = settings or InvoicingSettings()
    runtime = InvoicingRuntime(settings=settings)
    links.configure(settings.document_links())
    documents = (DOCUMENTS_CONSUMER,) if settings.documents_generate else ()
    definition = dataclasses.replace(DEFINITION, consumers=(*DEFINITION.consumers, *invoice_consumers(runtime),
                                                            credits_consumer(runtime), *documents))
    return build_service_app(definition, settings, runtime)
