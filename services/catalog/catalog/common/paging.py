"""Pagination of short in-memory lists (a plan's charges, a charge's filters) in Lago's `meta` shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from invora.web.pagination import PageParams, PaginationMeta

T = TypeVar("T")


def page_of(items: Sequence[T], page: PageParams) -> tuple[list[T], PaginationMeta]:
    return list(items[page.offset: page.offset + page.per_page]), page.meta(len(items))
