"""Lago-style pagination: `?page=&per_page=` in, `meta` out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

MAX_PER_PAGE = 100

T = TypeVar("T")


class PaginationMeta(BaseModel):
    current_page: int
    next_page: int | None
    prev_page: int | None
    total_pages: int
    total_count: int


class PageParams(BaseModel):
    page: int = 1
    per_page: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def meta(self, total_count: int) -> PaginationMeta:
        # Lago's meta is Kaminari's: a page past the last one (or any page of an empty list)
        # is "out of range" and has neither a next nor a previous page
        total_pages = math.ceil(total_count / self.per_page)
        in_range = self.page <= total_pages
        return PaginationMeta(
            current_page=self.page,
            next_page=self.page + 1 if in_range and self.page < total_pages else None,
            prev_page=self.page - 1 if in_range and self.page > 1 else None,
            total_pages=total_pages,
            total_count=total_count,
        )


async def _page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1")] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="Items per page (max 100)")] = 20,
) -> PageParams:
    # async although it awaits nothing: FastAPI runs a plain `def` dependency on a worker thread, a thread
    # hop on every list request of every service for no I/O at all
    return PageParams(page=page, per_page=per_page)


Pagination = Annotated[PageParams, Depends(_page_params)]


async def paginate(session: AsyncSession, statement: Select, params: PageParams) -> tuple[list[Any], PaginationMeta]:
    """Run `statement` for one page (it must already be ordered) and count the whole result."""
    total = (
        await session.execute(select(func.count()).select_from(statement.order_by(None).subquery()))
    ).scalar_one()
    rows = (await session.execute(statement.limit(params.per_page).offset(params.offset))).scalars().all()
    return list(rows), params.meta(total)


def page_of(items: Sequence[T], page: PageParams) -> tuple[list[T], PaginationMeta]:
    """One page of a short list already in memory (a plan's charges, a charge's filters), in the same `meta`."""
    return list(items[page.offset: page.offset + page.per_page]), page.meta(len(items))
