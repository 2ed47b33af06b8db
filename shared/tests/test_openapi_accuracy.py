"""The OpenAPI document says what the service does: each input type's JSON schema admits exactly
the values its validation accepts, and 405s name every method of the resource."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import httpx
import jsonschema_rs
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field, StringConstraints, TypeAdapter, ValidationError

from invora.web.decimals import DecimalInput
from invora.web.error_handlers import install_error_handlers
from invora.web.inputs import NO_NUL_PATTERN, Choice, JsonObject, StorableText, StrictInt
from invora.web.openapi import complete, install_openapi
from invora.web.patterns import integer_range, padded_range
from invora.web.timestamps import TimestampInput


def _agree(annotation: Any, values: list[Any]) -> None:
    """Every value is accepted by validation exactly when the JSON schema admits it."""
    adapter = TypeAdapter(annotation)
    schema = complete({"components": {"schemas": {"T": adapter.json_schema()}}})["components"]["schemas"]["T"]
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    for value in values:
        try:
            adapter.validate_python(value)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == validator.is_valid(value), (value, schema)


@pytest.mark.parametrize(("low", "high"), [(0, 9), (0, 100), (1, 99), (5, 1234), (0, 36_499), (0, 10**12 - 1)])
def test_integer_ranges_are_spelled_exactly(low: int, high: int) -> None:
    pattern = re.compile(f"^{integer_range(low, high)}$")
    for number in [*range(0, 1300), high - 1, high, high + 1, 10 * high, 36_500, 99_999, 10**12]:
        assert bool(pattern.match(str(number))) == (low <= number <= high), number
    assert not pattern.match("01") and not pattern.match("-1") and not pattern.match("")


def test_padded_years() -> None:
    pattern = re.compile(f"^{padded_range(1970, 2999, 4)}$")
    assert [year for year in range(10_000) if pattern.match(f"{year:04d}")] == list(range(1970, 3000))


@pytest.mark.parametrize("decimal", [DecimalInput(le=100), DecimalInput(le=100, positive=True),
                                     DecimalInput(le=36_500), DecimalInput(le=10**12, places=10)])
def test_decimal_inputs_are_documented_as_validated(decimal: DecimalInput) -> None:
    _agree(Annotated[Decimal, decimal], [
        "0", "0.0", "5", "5.", "12.5", "100", "100.0", "100.01", "101", "0.000000000001", "0.0000000000001",
        "007", "-1", "1e5", " 5", "abc", "", "36500.000", "36499.99", "999999999999.9999999999", "1000000000000",
        0, 0.0, 1e-300, 2.5, 100.0, 100.5, -1, True, None, 36_500, 1.192092896e-07, [], {},
    ])


def test_timestamps_are_documented_as_validated() -> None:
    _agree(Annotated[datetime, TimestampInput(1970, 2999)], [
        "2024-01-01T00:00:00Z", "2024-01-01t00:00:00z", "2024-01-01T00:00:00.123456789+02:00", "2024-01-01T00:00:00",
        "2024-01-01 00:00:00Z", "2024-01-01", "2024-01-01T00:00Z", "1969-12-31T00:00:00Z", "3000-01-01T00:00:00Z",
        "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00", "2024-01-01T00:00:00+24:00",
        "1700000000", 1700000000, 0.5, None,
    ])


def test_text_choices_and_integers_are_documented_as_validated() -> None:
    _agree(Annotated[str, StringConstraints(min_length=1, max_length=5), StorableText()],
           ["a", "", "abcdef", "a\x00", "\u00e9t\u00e9"])
    _agree(Annotated[str, Choice(frozenset({"EUR", "USD"}))], ["EUR", "eur", "GBP", 1])
    _agree(Annotated[StrictInt, Field(ge=1, le=10)], [1, 5.0, 5.5, "5", True, 0, 11, 10.0])
    _agree(JsonObject, [{}, {"a": [1, "x", None, {"b": True}]}, {"a\x00": 1}, {"a": "x\x00"}, {"a": 2**64}, [], "x"])


def test_invalid_text_keeps_its_error_code() -> None:
    with pytest.raises(ValidationError) as error:
        TypeAdapter(Annotated[str, StorableText()]).validate_python("a\x00b")
    assert str(error.value.errors()[0]["ctx"]["error"]) == "invalid_characters"
    assert TypeAdapter(Annotated[str, StorableText()]).json_schema()["pattern"] == NO_NUL_PATTERN


class _Body(BaseModel):
    counts: dict[Annotated[str, StorableText()], Annotated[StrictInt, Field(ge=0)]]


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/things")
    async def list_things(page: int = 1) -> dict:
        return {}

    @app.post("/things")
    async def create_thing(body: _Body) -> dict:
        return {}

    @app.post("/things/batch")
    async def create_things(body: _Body) -> dict:
        return {}

    @app.get("/things/{thing_id}")
    async def get_thing(thing_id: str) -> dict:
        return {}

    @app.delete("/things/{thing_id}")
    async def delete_thing(thing_id: str) -> dict:
        return {}

    install_error_handlers(app)
    install_openapi(app)
    return app


async def test_a_405_names_every_method_of_the_resource() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://test") as client:
        for method, path, allow in [("OPTIONS", "/things", "GET, POST"), ("PUT", "/things/1", "DELETE, GET"),
                                    ("GET", "/things/batch", None), ("OPTIONS", "/things/batch", "POST")]:
            response = await client.request(method, path)
            if allow is None:  # the templated route answers it
                assert response.status_code == 200
                continue
            assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
            assert response.headers["allow"] == allow, (method, path)


def test_the_document_lists_every_error_and_spells_dict_keys_right() -> None:
    document = _app().openapi()
    paths = document["paths"]
    assert {"404"} <= set(paths["/things/{thing_id}"]["delete"]["responses"])
    assert {"400", "422"} <= set(paths["/things"]["post"]["responses"])
    assert "422" in paths["/things"]["get"]["responses"]
    counts = document["components"]["schemas"]["_Body"]["properties"]["counts"]
    assert "patternProperties" not in counts
    assert counts["propertyNames"]["pattern"] == NO_NUL_PATTERN
    assert counts["additionalProperties"] == {"type": "integer", "minimum": 0}
