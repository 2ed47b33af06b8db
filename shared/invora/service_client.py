"""Reading another service over HTTP with a `service` key: timeouts, retries, per-organization keys.

For queries that need a fresh answer (DESIGN: "HTTP between services only for queries"). The key is
either signed here, short-lived and per organization, with the suite's signing key (`signing_key`,
PEM text or a path), or a fixed `api_key` (single-organization deployments). A 404 answers None; a
refusal (another 4xx) or no answer after the retries raises `ServiceUnavailableError`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from invora.auth.keys import sign_token
from invora.logging import get_logger

log = get_logger(__name__)
KEY_LIFETIME = timedelta(minutes=10)


class ServiceUnavailableError(Exception):
    """The other service refused or did not answer."""


def read_pem(value: str) -> bytes:
    if "-----BEGIN" in value:
        return value.replace("\\n", "\n").encode()
    return Path(value).read_bytes()


class ServiceClient:
    def __init__(self, *, base_url: str, subject: str, issuer: str, signing_key: str | None = None,
                 api_key: str | None = None, timeout: float = 5.0, retries: int = 2,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)
        self._signing_key = read_pem(signing_key) if signing_key else None
        self._api_key = api_key
        self._subject, self._issuer, self._retries = subject, issuer, retries
        self._keys: dict[uuid.UUID, tuple[str, float]] = {}

    @property
    def configured(self) -> bool:
        return self._signing_key is not None or bool(self._api_key)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _key(self, organization_id: uuid.UUID) -> str:
        if self._signing_key is None:
            if not self._api_key:
                raise ServiceUnavailableError("no key configured")
            return self._api_key
        cached = self._keys.get(organization_id)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        token = sign_token(self._signing_key, organization_id=organization_id, roles=["service"],
                           subject=self._subject, expires_in=KEY_LIFETIME, issuer=self._issuer)
        self._keys[organization_id] = (token, time.monotonic() + KEY_LIFETIME.total_seconds() / 2)
        return token

    async def get(self, organization_id: uuid.UUID, path: str, params: Any = None) -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {self._key(organization_id)}"}
        for attempt in range(self._retries + 1):
            try:
                response = await self._http.get(path, params=params, headers=headers)
            except httpx.HTTPError as exc:
                log.warning("service_call_failed", path=path, attempt=attempt, error=repr(exc))
            else:
                if response.status_code == 404:
                    return None
                if response.status_code < 500:
                    if response.status_code != 200:
                        log.error("service_refused", path=path, status=response.status_code,
                                  body=response.text[:500])
                        raise ServiceUnavailableError(f"{path}: {response.status_code}")
                    return response.json()
                log.warning("service_call_failed", path=path, attempt=attempt, status=response.status_code)
            if attempt < self._retries:
                await asyncio.sleep(0.05 * 2**attempt)
        raise ServiceUnavailableError(f"{path}: no answer")

    async def post(self, organization_id: uuid.UUID, path: str, body: Any, *, idempotency_key: str) -> dict[str, Any]:
        """A command the other service applies once per `idempotency_key` (its `Idempotency-Key` middleware and
        its own idempotent write), so a retry after a lost answer is safe. A 4xx or no answer raises."""
        headers = {"Authorization": f"Bearer {self._key(organization_id)}", "Idempotency-Key": idempotency_key}
        for attempt in range(self._retries + 1):
            try:
                response = await self._http.post(path, json=body, headers=headers)
            except httpx.HTTPError as exc:
                log.warning("service_call_failed", path=path, attempt=attempt, error=repr(exc))
            else:
                if response.status_code < 300:
                    return response.json()
                if response.status_code < 500:
                    log.error("service_refused", path=path, status=response.status_code, body=response.text[:500])
                    raise ServiceUnavailableError(f"{path}: {response.status_code}")
                log.warning("service_call_failed", path=path, attempt=attempt, status=response.status_code)
            if attempt < self._retries:
                await asyncio.sleep(0.05 * 2**attempt)
        raise ServiceUnavailableError(f"{path}: no answer")
