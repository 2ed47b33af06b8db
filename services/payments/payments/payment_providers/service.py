"""Provider connections: create, update, read, list, delete (a connection still used by a live charge stays)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from invora.ids import uuid7
from invora.web.inputs import storable_key
from invora.web.pagination import PageParams, PaginationMeta
from payments.errors import (
    PaymentProviderCodeTaken,
    PaymentProviderFieldsNotAccepted,
    PaymentProviderInUse,
    PaymentProviderNotFound,
    ProviderRefused,
    ProviderUnavailable,
)
from payments.payment_providers import repository
from payments.payment_providers.models import PaymentProvider
from payments.payment_providers.schemas import (
    UPDATABLE_FIELDS,
    PaymentProviderCreateInput,
    PaymentProviderObject,
    PaymentProviderUpdateInput,
)
from payments.payments import repository as payments_repository
from payments.providers.base import ProviderError, ProviderUnreachable
from payments.providers.registry import AdapterFactory

REQUIRED_FIELDS = frozenset({"name", "secret_key", "api_key", "access_token", "merchant_account", "client_id",
                             "client_secret", "flow_id"})
COMMON_FIELDS = frozenset({"name", "success_redirect_url"})


async def connections(session: AsyncSession, rows: Iterable[Mapping[str, Any]]) -> dict[tuple, dict[str, Any] | None]:
    """The connection (decrypted credentials) of each `(organization_id, payment_provider_id)` the rows name, read
    once each; None for a provider deleted meanwhile."""
    found: dict[tuple, dict[str, Any] | None] = {}
    for key in {(row["organization_id"], row["payment_provider_id"]) for row in rows}:
        provider = await repository.by_id(session, *key)
        found[key] = provider.connection() if provider is not None else None
    return found


def render(provider: PaymentProvider) -> PaymentProviderObject:
    return PaymentProviderObject(
        lago_id=provider.id, provider_type=provider.provider_type, code=provider.code, name=provider.name,
        secret_key="••••" + provider.secret_key[-4:] if len(provider.secret_key) > 8 else "••••",
        has_webhook_secret=provider.webhook_secret is not None,
        webhook_path=f"/api/v1/provider_webhooks/{provider.provider_type}/{provider.organization_id}?code={provider.code}",
        success_redirect_url=provider.success_redirect_url, created_at=provider.created_at,
        updated_at=provider.updated_at, **(provider.settings or {}))


async def get(session: AsyncSession, organization_id: uuid.UUID, code: str, *, lock: bool = False) -> PaymentProvider:
    provider = await repository.by_code(session, organization_id, code, lock=lock) if storable_key(code) else None
    if provider is None:
        raise PaymentProviderNotFound()
    return provider


async def create(session: AsyncSession, organization_id: uuid.UUID, data: PaymentProviderCreateInput, *,
                 now: datetime, adapters: AdapterFactory | None = None) -> PaymentProvider:
    if data.provider_type == "moneyhash" and data.signature_key is None and adapters is not None:
        # Lago's fields are the API key and the flow: the webhook signature key is MoneyHash's to give
        # (asked before this request's first statement: no transaction is open during the call)
        try:
            data = data.model_copy(update={"signature_key": await adapters.moneyhash_signature_key(data.api_key)})
        except ProviderUnreachable as exc:
            raise ProviderUnavailable(exc.message) from exc
        except ProviderError as exc:
            raise ProviderRefused(exc.message) from exc
    if await repository.by_code(session, organization_id, data.code) is not None:
        raise PaymentProviderCodeTaken()
    secret_key, webhook_secret, settings = data.stored()
    provider = PaymentProvider(
        id=uuid7(), organization_id=organization_id, provider_type=data.provider_type, code=data.code,
        name=data.name, secret_key=secret_key, webhook_secret=webhook_secret, settings=settings,
        success_redirect_url=data.success_redirect_url, created_at=now, updated_at=now)
    try:
        async with session.begin_nested():
            return await repository.add(session, provider)
    except IntegrityError as exc:  # a concurrent create with the same code
        raise PaymentProviderCodeTaken() from exc


async def update(session: AsyncSession, provider: PaymentProvider, data: PaymentProviderUpdateInput, *,
                 now: datetime) -> PaymentProvider:
    accepted = UPDATABLE_FIELDS[provider.provider_type]
    refused = sorted(f for f in data.model_fields_set if f not in COMMON_FIELDS and f not in accepted)
    if refused:
        raise PaymentProviderFieldsNotAccepted(refused)
    settings = dict(provider.settings or {})
    for field in sorted(data.model_fields_set):
        value = getattr(data, field)
        target = accepted.get(field, field)
        if value is None and (field in REQUIRED_FIELDS or target == "secret_key"):  # null for a required field: kept
            continue
        if target.startswith("settings.") and value is None:
            settings.pop(target.removeprefix("settings."), None)
        elif target.startswith("settings."):
            settings[target.removeprefix("settings.")] = value
        else:
            setattr(provider, target, value)
    provider.settings = settings
    provider.updated_at = now
    await session.flush()
    return provider


async def list_providers(session: AsyncSession, organization_id: uuid.UUID,
                         params: PageParams) -> tuple[list[PaymentProviderObject], PaginationMeta]:
    rows, meta = await repository.list_page(session, organization_id, params)
    return [render(row) for row in rows], meta


async def delete(session: AsyncSession, provider: PaymentProvider) -> PaymentProviderObject:
    if await payments_repository.live_attempts_for_provider(session, provider.id):
        raise PaymentProviderInUse()
    rendered = render(provider)
    await repository.soft_delete(session, provider)
    return rendered
