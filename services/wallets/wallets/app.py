"""The wallets service: prepaid credits: wallets, credit blocks, the double-entry ledger, credit applications
to invoices, expiry and reconciliation.
"""

from __future__ import annotations

import dataclasses

from fastapi import FastAPI

from invora.app import ServiceDefinition, build_service_app
from invora.runtime import clients_lifespan
from wallets.alerts.evaluate import alerts_lifespan
from wallets.alerts.routes import router as alerts
from wallets.applications.consumer import prepaid_credits_consumer
from wallets.applications.payments_consumer import payments_consumer
from wallets.credits.routes import router as credits
from wallets.customers.consumer import customers_consumer
from wallets.ledger.reconcile import reconciliation_lifespan
from wallets.runtime import WalletsRuntime
from wallets.settings import WalletsSettings
from wallets.transactions.expiry import expiry_lifespan
from wallets.transactions.payments_consumer import topup_payments_consumer
from wallets.transactions.routes import router as transactions
from wallets.transactions.routes import wallet_router as wallet_transactions
from wallets.unit_credits.routes import customer_router as customer_unit_credits
from wallets.unit_credits.routes import router as unit_credits
from wallets.usage.refresh import usage_refresh_lifespan
from wallets.wallets.routes import customer_router as customer_wallets
from wallets.wallets.routes import router as wallets

DEFINITION = ServiceDefinition(
    name="wallets",
    title="Invora Wallets",
    description=(
        "Owns prepaid credits: wallets, credit grants (blocks with their own expiry and priority), the "
        "double-entry ledger of wallet transactions, credit applications to invoices, manual credits."
    ),
    routers=[wallets, wallet_transactions, customer_wallets, alerts, transactions, credits, customer_unit_credits,
             unit_credits],
    background=[expiry_lifespan, reconciliation_lifespan, alerts_lifespan, usage_refresh_lifespan, clients_lifespan],
    openapi_tags=[
        {"name": "wallets", "description": "Wallets (Lago API v1): prepaid credits per customer and currency."},
        {"name": "wallet_transactions", "description": "Wallet transactions (Lago API v1): paid, granted and "
                                                       "voided credits; consumptions and fundings."},
        {"name": "credits", "description": "A customer's credits: manual credits from the operations console, "
                                           "the credit view and the balance history."},
    ],
)


def create_app(settings: WalletsSettings | None = None) -> FastAPI:
    settings = settings or WalletsSettings()
    runtime = WalletsRuntime(settings=settings)
    definition = dataclasses.replace(
        DEFINITION, consumers=[customers_consumer(runtime), prepaid_credits_consumer(runtime), payments_consumer(),
                                     topup_payments_consumer(runtime)])
    return build_service_app(definition, settings, runtime)
