"""The wallets service: prepaid credits: wallets, credit grants, the wallet-transaction ledger, top-up
rules and spend limits.
"""

from __future__ import annotations

from fastapi import FastAPI

from invora.app import ServiceDefinition, build_service_app
from wallets.settings import WalletsSettings

DEFINITION = ServiceDefinition(
    name="wallets",
    title="Invora Wallets",
    description=(
        "Owns prepaid credits: wallets, credit grants, the wallet-transaction ledger, top-up rules "
        "and spend limits."
    ),
)


def create_app(settings: WalletsSettings | None = None) -> FastAPI:
    return build_service_app(DEFINITION, settings or WalletsSettings())
