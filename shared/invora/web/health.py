"""/health (alive), /ready (database and broker reachable, every consumer in its group), /metrics (Prometheus).

A consumer that has not joined its group yet reads nothing: an event published then waits for the
join (seconds: about half the session timeout on some brokers). So /ready says yes only once every
consumer of the service has had its partition assignment, and a load balancer or `make run` that
waits for /ready never sends the first request into that gap."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness: the process is up")
async def health(request: Request) -> dict[str, str]:
    return {"status": "ok", "service": request.app.state.service_name}


@router.get("/ready", summary="Readiness: database and broker reachable, consumers joined",
            responses={503: {"description": "not ready"}})
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
    consumers = getattr(state, "consumers", [])
    if consumers:
        waiting = sorted(c.spec.name for c in consumers if not c.joined)
        checks["consumers"] = f"waiting for partition assignment: {', '.join(waiting)}" if waiting else "ok"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
