"""A fake provider's server: an aiohttp application on a loopback port, in the tests' event loop."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

from aiohttp import web


def dumps(value: Any) -> str:
    """JSON with Decimal amounts written as numbers (as providers write them)."""

    class Encoder(json.JSONEncoder):
        def default(self, o: Any) -> Any:
            if isinstance(o, Decimal):
                return int(o) if o == o.to_integral_value() else float(o)
            return super().default(o)

    return json.dumps(value, cls=Encoder)


class FakeServer:
    def __init__(self) -> None:
        self.app = web.Application()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call, for the tests
        self._runner: web.AppRunner | None = None
        self._ids = itertools.count(1_000_001)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def next_id(self) -> int:
        return next(self._ids)

    async def start(self) -> None:
        @web.middleware
        async def record(request: web.Request, handler):
            self.requests.append((request.method, request.path))
            return await handler(request)

        self.app.middlewares.append(record)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the bound ephemeral port

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @staticmethod
    def reply(body: Any, status: int = 200) -> web.Response:
        return web.Response(status=status, text=dumps(body), content_type="application/json")

    @staticmethod
    async def body(request: web.Request) -> dict[str, Any]:
        try:
            value = json.loads(await request.read() or b"{}", parse_float=Decimal)
        except ValueError as exc:
            raise web.HTTPBadRequest(text='{"message": "invalid JSON"}', content_type="application/json") from exc
        if not isinstance(value, dict):
            raise web.HTTPBadRequest(text='{"message": "a JSON object is expected"}', content_type="application/json")
        return value
