"""A small JSON client over httpx for providers without a usable SDK: one place that turns transport
failures into `ProviderUnreachable` (the call may have taken effect: look it up) and provider refusals
into `ProviderError`.

A 5xx, a 429, a timeout or a refused connection are "no answer"; a 4xx is the provider's refusal and is
handed back with its JSON body, for the adapter to read (some providers refuse a duplicate reference
with a 4xx, which the adapter turns into a look-up).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from payments.providers.base import ProviderError, ProviderUnreachable


@dataclass(frozen=True)
class Response:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default) if isinstance(self.body, Mapping) else default


class JsonClient:
    def __init__(self, *, base_url: str, headers: Mapping[str, str], timeout_seconds: float, provider: str) -> None:
        self._provider = provider
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=dict(headers),
                                         timeout=httpx.Timeout(timeout_seconds))

    async def request(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
                      headers: Mapping[str, str] | None = None) -> Response:
        try:
            response = await self._client.request(method, path, json=json, params=params, headers=headers)
        except httpx.TransportError as exc:  # timeouts, refused or dropped connections
            raise ProviderUnreachable(f"{self._provider}: {exc!r}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderUnreachable(f"{self._provider} answered {response.status_code}")
        try:
            body = response.json(parse_float=Decimal) if response.content else None  # amounts never as floats
        except ValueError:
            body = {"message": response.text[:500]}
        return Response(response.status_code, body)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON body of a 2xx answer; a refusal raises `ProviderError` with the provider's message."""
        response = await self.request(method, path, **kwargs)
        if not response.ok:
            raise refusal(self._provider, response)
        return response.body

    async def find(self, path: str, *, params: Mapping[str, Any] | None = None,
                   refused: Callable[[Response], ProviderError] | None = None) -> Any | None:
        """A look-up: the JSON body of a 2xx answer, None for a 404 (the provider has no such object); any other
        refusal raises `ProviderError`, read by `refused` (the adapter's own error shape) or `refusal`."""
        response = await self.request("GET", path, params=params)
        if response.status == 404:
            return None
        if not response.ok:
            raise refused(response) if refused is not None else refusal(self._provider, response)
        return response.body

    async def aclose(self) -> None:
        await self._client.aclose()


def refusal(provider: str, response: Response) -> ProviderError:
    message = (response.get("message") or response.get("error_message") or response.get("title")
               or f"{provider} refused the request ({response.status})")
    code = response.get("code") or response.get("errorCode") or response.get("error_code")
    return ProviderError(str(message), code=str(code) if code is not None else None)
