"""A real local HTTP server that records what it receives (webhook and provider tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiohttp import web


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[ReceivedRequest] = field(default_factory=list)
    # the next responses to give, in order (status, body, headers, delay); then `default_status`
    responses: list[tuple[int, bytes, dict[str, str], float]] = field(default_factory=list)
    default_status: int = 200
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def respond(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, delay: float = 0.0):
        self.responses.append((status, body, headers or {}, delay))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the bound ephemeral port

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[ReceivedRequest]:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.requests) >= count), timeout)
        return self.requests[:count]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status, reply, headers, delay = self.responses.pop(0) if self.responses else (self.default_status, b"", {}, 0)
        if delay:
            await asyncio.sleep(delay)
        async with self._arrived:
            self.requests.append(ReceivedRequest(request.method, request.path_qs, dict(request.headers), body))
            self._arrived.notify_all()
        return web.Response(status=status, body=reply, headers=headers)


@pytest.fixture
async def webhook_receiver():
    receiver = WebhookReceiver()
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()
