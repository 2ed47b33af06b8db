"""`api_log.recorded`: one mutating API request of a service (shared middleware `invora.web.api_log`).

Internal: notifications stores it for Lago's `/api_logs` and never sends it to a tenant's webhook.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

API_LOG_RECORDED = "api_log.recorded"


class ApiLogRecorded(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str = Field(max_length=128)
    service: str = Field(max_length=50)
    api_version: str = Field(max_length=10, description="`v1` for `/api/v1/...`")
    client: str = Field(description="the caller's User-Agent ('' when absent)")
    principal: str | None = Field(None, description="the API key's subject")
    http_method: str = Field(max_length=10, description="lower case: post, put, patch, delete")
    http_status: int = Field(ge=100, le=599)
    request_path: str = Field(description="the path after `/api/<version>`, e.g. `/billable_metrics`")
    request_origin: str = Field(description="scheme://host of the request")
    request_body: str = Field(description="the JSON body with secret fields redacted, at most 64 KiB")
    logged_at: datetime


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {API_LOG_RECORDED: ApiLogRecorded}
