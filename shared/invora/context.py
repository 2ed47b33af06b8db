"""Per-request / per-event context carried into logs and events."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
service_name_var: ContextVar[str] = ContextVar("service_name", default="invora")


def current_correlation_id() -> str | None:
    return correlation_id_var.get() or request_id_var.get()
