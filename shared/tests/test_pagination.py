"""Lago-style pagination: `?page=&per_page=` in, Kaminari's `meta` out, always within one organization."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invora.web.pagination import PageParams

WIDGETS = "/api/v1/widgets"


def _meta(current_page, next_page, prev_page, total_pages, total_count) -> dict:
    return {"current_page": current_page, "next_page": next_page, "prev_page": prev_page,
            "total_pages": total_pages, "total_count": total_count}


@pytest.fixture(scope="module")
async def orgs(shared_example):
    """Five widgets in one organization, two in another, none in a third."""
    full, other, empty = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for org, codes in ((full, ["w3", "w1", "w5", "w2", "w4"]), (other, ["o1", "o2"])):
        client = shared_example.client(org)
        for code in codes:
            response = await client.post(WIDGETS, json={"widget": {"code": code, "name": code.upper()}})
            assert response.status_code == 200, response.text
    return {"full": full, "other": other, "empty": empty}


async def _page(shared_example, org, **params) -> tuple[list[str], dict]:
    response = await shared_example.client(org).get(WIDGETS, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return [w["code"] for w in body["widgets"]], body["meta"]


@pytest.mark.parametrize("page,codes,meta", [
    (1, ["w1", "w2"], _meta(1, 2, None, 3, 5)),  # first
    (2, ["w3", "w4"], _meta(2, 3, 1, 3, 5)),  # middle
    (3, ["w5"], _meta(3, None, 2, 3, 5)),  # last, partly filled
    (4, [], _meta(4, None, None, 3, 5)),  # one past the end: out of range, like Kaminari
    (50, [], _meta(50, None, None, 3, 5)),  # far out of range
])
async def test_meta_across_pages(shared_example, orgs, page, codes, meta):
    assert await _page(shared_example, orgs["full"], page=page, per_page=2) == (codes, meta)


async def test_defaults_and_exact_fit(shared_example, orgs):
    assert await _page(shared_example, orgs["full"]) == (["w1", "w2", "w3", "w4", "w5"], _meta(1, None, None, 1, 5))
    codes, meta = await _page(shared_example, orgs["full"], per_page=5)
    assert len(codes) == 5 and meta == _meta(1, None, None, 1, 5)
    assert await _page(shared_example, orgs["full"], per_page=1, page=5) == (["w5"], _meta(5, None, 4, 5, 5))
    assert (await _page(shared_example, orgs["full"], per_page=100))[1]["total_pages"] == 1


async def test_empty_list(shared_example, orgs):
    assert await _page(shared_example, orgs["empty"]) == ([], _meta(1, None, None, 0, 0))
    assert await _page(shared_example, orgs["empty"], page=3) == ([], _meta(3, None, None, 0, 0))


async def test_pages_are_scoped_to_the_organization(shared_example, orgs):
    assert await _page(shared_example, orgs["other"], per_page=1) == (["o1"], _meta(1, 2, None, 2, 2))
    assert await _page(shared_example, orgs["other"], per_page=1, page=2) == (["o2"], _meta(2, None, 1, 2, 2))
    everything, _ = await _page(shared_example, orgs["full"], per_page=100)
    assert not {"o1", "o2"} & set(everything)


async def test_pages_never_overlap_and_cover_everything(shared_example, orgs):
    seen: list[str] = []
    page = 1
    while page is not None:
        codes, meta = await _page(shared_example, orgs["full"], page=page, per_page=2)
        seen += codes
        page = meta["next_page"]
    assert seen == ["w1", "w2", "w3", "w4", "w5"]


@given(total=st.integers(0, 10_000), per_page=st.integers(1, 100), page=st.integers(1, 500))
def test_meta_invariants(total, per_page, page):
    meta = PageParams(page=page, per_page=per_page).meta(total)
    assert meta.total_count == total and meta.current_page == page
    assert (meta.total_pages - 1) * per_page < total <= meta.total_pages * per_page or total == meta.total_pages == 0
    if page <= meta.total_pages:
        assert meta.next_page == (page + 1 if page < meta.total_pages else None)
        assert meta.prev_page == (page - 1 if page > 1 else None)
    else:
        assert meta.next_page is None and meta.prev_page is None
