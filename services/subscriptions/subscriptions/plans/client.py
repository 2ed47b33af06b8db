"""Reads plans and plan versions from the catalog over HTTP, with a service key.

The plan (by code) is read fresh: it says which version is sold now and carries the plan's
entitlements. A plan version never changes, so once read it is kept in memory and in the
`cached_plan_versions` table and never asked for again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.keys import sign_token
from invora.logging import get_logger
from subscriptions.plans import repository
from subscriptions.plans.errors import CatalogUnavailable, FeatureNotFound, PlanNotFound, PlanVersionNotFound
from subscriptions.settings import SubscriptionsSettings

log = get_logger(__name__)
KEY_LIFETIME = timedelta(minutes=10)
MEMORY_CACHE_SIZE = 2048


class CatalogClient:
    def __init__(self, settings: SubscriptionsSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(base_url=settings.catalog_url, transport=transport,
                                       timeout=settings.catalog_timeout_seconds)
        self._signing_key = _read_pem(settings.service_signing_key) if settings.service_signing_key else None
        self._keys: dict[uuid.UUID, tuple[str, float]] = {}
        self._versions: OrderedDict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]] = OrderedDict()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _key(self, organization_id: uuid.UUID) -> str:
        if self._signing_key is None:
            if not self.settings.catalog_api_key:
                raise CatalogUnavailable("no key configured for the catalog")
            return self.settings.catalog_api_key
        cached = self._keys.get(organization_id)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        token = sign_token(self._signing_key, organization_id=organization_id, roles=["service"],
                           subject="service:subscriptions", expires_in=KEY_LIFETIME, issuer=self.settings.auth_issuer)
        self._keys[organization_id] = (token, time.monotonic() + KEY_LIFETIME.total_seconds() / 2)
        return token

    async def _get(self, organization_id: uuid.UUID, path: str) -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {self._key(organization_id)}"}
        for attempt in range(self.settings.catalog_retries + 1):
            try:
                response = await self._http.get(path, headers=headers)
            except httpx.HTTPError as exc:
                log.warning("catalog_call_failed", path=path, attempt=attempt, error=repr(exc))
            else:
                if response.status_code == 404:
                    return None
                if response.status_code < 500:
                    if response.status_code != 200:
                        log.error("catalog_refused", path=path, status=response.status_code, body=response.text[:500])
                        raise CatalogUnavailable("the catalog refused the request")
                    return response.json()
                log.warning("catalog_call_failed", path=path, attempt=attempt, status=response.status_code)
            await asyncio.sleep(0.05 * 2**attempt)
        raise CatalogUnavailable("the catalog did not answer, retry later")

    async def plan(self, organization_id: uuid.UUID, code: str) -> dict[str, Any]:
        body = await self._get(organization_id, f"/api/v1/plans/{quote(code, safe='')}")
        if body is None or body["plan"].get("deleted_at"):
            raise PlanNotFound()
        return body["plan"]

    async def feature(self, organization_id: uuid.UUID, code: str) -> dict[str, Any]:
        body = await self._get(organization_id, f"/api/v1/features/{quote(code, safe='')}")
        if body is None:
            raise FeatureNotFound()
        return body["feature"]

    async def plan_version(self, session: AsyncSession, organization_id: uuid.UUID,
                           version_id: uuid.UUID) -> dict[str, Any]:
        key = (organization_id, version_id)
        if key in self._versions:
            self._versions.move_to_end(key)
            return self._versions[key]
        stored = await repository.cached_plan_version(session, organization_id, version_id)
        if stored is None:
            body = await self._get(organization_id, f"/api/v1/plan_versions/{version_id}")
            if body is None:
                raise PlanVersionNotFound()
            stored = body["plan_version"]
            await repository.cache_plan_version(session, organization_id, version_id, stored)
        self._versions[key] = stored
        if len(self._versions) > MEMORY_CACHE_SIZE:
            self._versions.popitem(last=False)
        return stored


def _read_pem(value: str) -> bytes:
    if "-----BEGIN" in value:
        return value.replace("\\n", "\n").encode()
    return Path(value).read_bytes()


def catalog_lifespan(app: FastAPI):
    """Background piece of the app: one catalog client for the app's life (tests inject a transport)."""

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        runtime = app.state.runtime
        client = CatalogClient(runtime.settings, transport=runtime.catalog_transport)
        runtime.catalog = client
        try:
            yield
        finally:
            await client.aclose()

    return running()


def catalog_of(request: Request) -> CatalogClient:
    return request.app.state.runtime.catalog
