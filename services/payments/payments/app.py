"""The payments service: payment providers, provider customers, charges of finalized invoices (never
twice), manual payments, refunds, provider webhooks."""

from __future__ import annotations

import dataclasses

from fastapi import FastAPI

from invora.app import ServiceDefinition, build_service_app
from invora.documents import links
from invora.runtime import clients_lifespan
from payments.customers.consumer import customers_consumer
from payments.documents.consumer import RECEIPT_DOCUMENTS_CONSUMER
from payments.documents.routes import router as receipt_documents
from payments.invoices.consumer import invoices_consumer
from payments.payment_methods.routes import router as payment_methods
from payments.payment_providers.routes import router as payment_providers
from payments.payment_receipts.routes import router as payment_receipts
from payments.payment_requests.routes import router as payment_requests
from payments.payment_urls.routes import router as payment_urls
from payments.payments.charger import charger_lifespan
from payments.payments.routes import router as payments
from payments.refunds.consumer import credit_note_refunds_consumer
from payments.refunds.routes import router as refunds
from payments.runtime import PaymentsRuntime
from payments.settings import PaymentsSettings
from payments.wallet_topups.charger import topup_charger_lifespan
from payments.wallet_topups.consumer import wallet_topups_consumer
from payments.webhooks.routes import router as provider_webhooks

DEFINITION = ServiceDefinition(
    name="payments",
    title="Invora Payments",
    description=(
        "Owns payment providers, provider customers, payments (charges of finalized invoices, manual payments), "
        "refunds and provider webhooks."
    ),
    routers=[payment_providers, payments, payment_methods, payment_urls, payment_receipts,
             payment_requests, refunds, provider_webhooks, receipt_documents],
    background=[charger_lifespan, topup_charger_lifespan, clients_lifespan],
    openapi_tags=[
        {"name": "payment_providers", "description": "An organization's connections to payment providers "
                                                     "(credentials encrypted at rest)."},
        {"name": "payments", "description": "Payments (Lago API v1): provider charges and manual payments."},
        {"name": "payment_methods", "description": "A customer's payment methods at its provider (Lago API v1)."},
        {"name": "payment_urls", "description": "Pages hosted by the payment provider: paying an invoice, adding a "
                                                "payment method (Lago API v1)."},
        {"name": "payment_receipts", "description": "Receipts of succeeded payments, numbered gaplessly (Lago API "
                                                    "v1)."},
        {"name": "payment_requests", "description": "A customer's unpaid invoices bundled and charged once (Lago "
                                                    "API v1)."},
        {"name": "refunds", "description": "Refunds of a payment, fully or partly, with a reason and an audit "
                                           "trail."},
        {"name": "provider_webhooks", "description": "Webhooks from payment providers (signed by the provider)."},
    ],
)


def create_app(settings: PaymentsSettings | None = None) -> FastAPI:
    settings = settings or PaymentsSettings()
    runtime = PaymentsRuntime(settings=settings)
    links.configure(settings.document_links())
    documents = [RECEIPT_DOCUMENTS_CONSUMER] if settings.documents_generate else []
    definition = dataclasses.replace(DEFINITION, consumers=[customers_consumer(), invoices_consumer(lambda: runtime),
                                                                  wallet_topups_consumer(lambda: runtime),
                                                                  credit_note_refunds_consumer(lambda: runtime),
                                                                  *documents])
    return build_service_app(definition, settings, runtime)
