"""`ApiClient`: an httpx client for one organization's key, with assertions on status and Lago's error body.

    api = ApiClient(running.client(org, roles=["admin"]))
    plan = (await api.ok("POST", "/api/v1/plans", {"plan": {...}}))["plan"]
    body = await api.error("POST", "/api/v1/plans", {"plan": {}}, status=422)

Services' test kits subclass it with builders of valid objects (`CatalogApi.plan()`, `Api.customer()`…).
"""

from __future__ import annotations

from typing import Any

import httpx


class ApiClient:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def ok(self, method: str, url: str, json: Any = None, status: int = 200, **kwargs: Any) -> dict:
        """The JSON body of an answer that must have `status`."""
        response = await self.client.request(method, url, json=json, **kwargs)
        assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text}"
        return response.json()

    async def error(self, method: str, url: str, json: Any = None, status: int = 422, **kwargs: Any) -> dict:
        """The body of an error answer with `status`, checked to be Lago's shape (`status`, `error`, `code`)."""
        response = await self.client.request(method, url, json=json, **kwargs)
        assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text}"
        body = response.json()
        assert body["status"] == status and "code" in body and "error" in body
        return body
