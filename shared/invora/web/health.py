"""/health (alive), /ready (database and broker reachable), /metrics (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness: the process is up")
async def health(request: Request) -> dict[str, str]:
    return {"status": "ok", "service": request.app.state.service_name}


@router.get("/ready", summary="Readiness: database and broker reachable", responses={503: {"description": "not ready"}})
async def ready(request: Request) -> JSONResponse:
    state = request.app.state
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(state.database.ping(), 2.0)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        if not state.broker.connected:
            raise ConnectionError("not connected")
        await state.broker.producer.check(2.0)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
