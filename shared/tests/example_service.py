"""A minimal service built on the shared library, used to test the library end to end.

`widgets` are organization-owned rows; creating one writes an outbox event in the same
transaction; a consumer records `widget.created` events it sees into `widget_echoes`.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, ClassVar, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import String, select
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from invora import errors
from invora.app import ServiceDefinition, build_service_app
from invora.auth.deps import CurrentPrincipal, require_roles
from invora.auth.principal import Principal
from invora.bus.consumer import ConsumerSpec
from invora.db.base import OrganizationModel, make_base
from invora.db.platform import declare_platform_models
from invora.errors import NotFound, ValidationFailed
from invora.events.envelope import EventEnvelope
from invora.outbox import add_event
from invora.settings import ServiceSettings
from invora.web.deps import DbSession
from invora.web.pagination import Pagination, PaginationMeta, paginate

Base = make_base()
PLATFORM = declare_platform_models(Base)


class Widget(OrganizationModel, Base):
    __tablename__ = "widgets"
    code: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)


class WidgetEcho(Base):
    __tablename__ = "widget_echoes"
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    widget_id: Mapped[str] = mapped_column(String(64), nullable=False)


class ExampleSettings(ServiceSettings):
    service_name: ClassVar[str] = "example"
    default_port: ClassVar[int] = 8199


class WidgetInput(BaseModel):
    code: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    fail_after_write: bool = False


class WidgetCreate(BaseModel):
    widget: WidgetInput


class WidgetOut(BaseModel):
    lago_id: uuid.UUID
    code: str
    name: str


class WidgetEnvelope(BaseModel):
    widget: WidgetOut


class WidgetList(BaseModel):
    widgets: list[WidgetOut]
    meta: PaginationMeta


def _out(widget: Widget) -> WidgetOut:
    return WidgetOut(lago_id=widget.id, code=widget.code, name=widget.name)


router = APIRouter(prefix="/api/v1")


@router.post("/widgets", response_model=WidgetEnvelope)
async def create_widget(body: WidgetCreate, session: DbSession, principal: CurrentPrincipal) -> WidgetEnvelope:
    if body.widget.code == "taken":
        raise ValidationFailed(code=["value_already_exist"])
    widget = Widget(organization_id=principal.organization_id, code=body.widget.code, name=body.widget.name)
    session.add(widget)
    await session.flush()
    await add_event(
        session, type="widget.created", organization_id=principal.organization_id,
        aggregate_type="widget", aggregate_id=widget.id, data={"code": widget.code},
    )
    if body.widget.fail_after_write:
        raise RuntimeError("boom after the write")
    return WidgetEnvelope(widget=_out(widget))


@router.get("/widgets", response_model=WidgetList)
async def list_widgets(session: DbSession, principal: CurrentPrincipal, page: Pagination) -> WidgetList:
    rows, meta = await paginate(session, principal.scope(select(Widget), Widget).order_by(Widget.code), page)
    return WidgetList(widgets=[_out(w) for w in rows], meta=meta)


@router.get("/widgets/{lago_id}", response_model=WidgetEnvelope)
async def get_widget(lago_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal) -> WidgetEnvelope:
    widget = (await session.execute(
        principal.scope(select(Widget), Widget).where(Widget.id == lago_id)
    )).scalar_one_or_none()
    if widget is None:
        raise NotFound("widget")
    return WidgetEnvelope(widget=_out(widget))


@router.delete("/widgets/{lago_id}", response_model=WidgetEnvelope)
async def delete_widget(
    lago_id: uuid.UUID, session: DbSession,
    principal: Annotated[Principal, Depends(require_roles("admin", "billing_admin"))],
) -> WidgetEnvelope:
    widget = (await session.execute(
        principal.scope(select(Widget), Widget).where(Widget.id == lago_id)
    )).scalar_one_or_none()
    if widget is None:
        raise NotFound("widget")
    await session.delete(widget)
    return WidgetEnvelope(widget=_out(widget))


# -- test-only routes: they exist to exercise the library, no real service has them -------------

test_router = APIRouter(prefix="/api/v1/_test", tags=["test-only"])
SLOW_WIDGETS_MAX_BODY = 3 * 1024 * 1024  # a route with its own body limit (like the event batch)


@test_router.post("/slow_widgets", response_model=WidgetEnvelope)
async def create_widget_slowly(
    body: WidgetCreate, session: DbSession, principal: CurrentPrincipal,
    delay: Annotated[float, Query(ge=0, le=5)] = 0.5,
) -> WidgetEnvelope:
    """Create a widget, then hold the transaction open for `delay` s (so concurrent requests overlap)."""
    response = await create_widget(body, session, principal)
    await asyncio.sleep(delay)
    return response


@test_router.post("/admin_widgets", response_model=WidgetEnvelope)
async def create_widget_as_admin(
    body: WidgetCreate, session: DbSession,
    principal: Annotated[Principal, Depends(require_roles("admin"))],
) -> WidgetEnvelope:
    """Create a widget; admin keys only (the Idempotency-Key's replay must not skip this check)."""
    return await create_widget(body, session, principal)


_TYPED_ERRORS = {
    "bad_request": lambda: errors.BadRequest("something is off"),
    "unauthorized": lambda: errors.Unauthorized(),
    "forbidden": lambda: errors.Forbidden(),
    "not_found": lambda: NotFound("widget"),
    "conflict": lambda: errors.Conflict(code="widget_is_locked"),
    "payload_too_large": lambda: errors.PayloadTooLarge(),
    "validation": lambda: ValidationFailed(code=["value_already_exist"], name=["value_is_mandatory"]),
    "too_many_requests": lambda: errors.TooManyRequests(),
    "service_unavailable": lambda: errors.ServiceUnavailable(),
}
TypedErrorKind = Literal[
    "bad_request", "unauthorized", "forbidden", "not_found", "conflict", "payload_too_large", "validation",
    "too_many_requests", "service_unavailable",
]


@test_router.get("/errors/{kind}")
async def raise_typed_error(kind: TypedErrorKind, _principal: CurrentPrincipal) -> None:
    raise _TYPED_ERRORS[kind]()


async def echo_widget(session: AsyncSession, event: EventEnvelope) -> None:
    session.add(WidgetEcho(event_id=event.id, widget_id=event.aggregate_id))


WIDGET_ECHO = ConsumerSpec(name="widget-echo", topics=("invora.widget",), handler=echo_widget)


def create_app(settings: ExampleSettings, consumers: tuple[ConsumerSpec, ...] = (WIDGET_ECHO,)):
    return build_service_app(
        ServiceDefinition(name="example", title="Example", description="test service",
                          routers=[router, test_router], consumers=consumers,
                          body_limits={"/api/v1/_test/slow_widgets": SLOW_WIDGETS_MAX_BODY}),
        settings,
    )


# -- helpers for the library's tests ---------------------------------------------------------------

WRITTEN_TABLES = ("widgets", "outbox_events", "aggregate_sequences", "idempotency_keys")


async def snapshot(database) -> dict[str, int]:
    """Row count of every table a request could write: compare before/after to prove nothing changed."""
    return {table: await count_rows(database, table) for table in WRITTEN_TABLES}


async def count_rows(database, table: str, where: str = "", **params) -> int:
    """Rows in `table` (optionally filtered by a SQL condition with bound `params`), read outside any request."""
    from sqlalchemy import text

    async with database.sessionmaker() as session:
        sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return (await session.execute(text(sql), params)).scalar_one()
