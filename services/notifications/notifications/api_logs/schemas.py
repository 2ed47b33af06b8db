"""Lago's `ApiLogObject`, its single and list roots."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from invora.web.pagination import PaginationMeta


class ApiLogObject(BaseModel):
    request_id: str
    api_version: str = Field(examples=["v1"])
    client: str = Field(description="The caller's User-Agent.")
    http_method: str = Field(examples=["post"], description="post, put, patch or delete")
    http_status: int
    request_origin: str
    request_path: str = Field(examples=["/billable_metrics"])
    request_body: str = Field(description="The JSON body sent, secret fields redacted (`[REDACTED]`).")
    request_response: str | None = Field(None, description="Not recorded by Invora: always null.")
    principal: str | None = Field(description="Invora: the API key's subject.")
    service: str = Field(description="Invora: the service that answered.")
    logged_at: datetime
    created_at: datetime


class ApiLogResponse(BaseModel):
    api_log: ApiLogObject


class ApiLogList(BaseModel):
    api_logs: list[ApiLogObject]
    meta: PaginationMeta
