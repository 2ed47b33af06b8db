"""Building blocks of request bodies and query strings, shared by every service.

Every string is checked for what PostgreSQL cannot store (NUL, lone surrogates) and free-form
JSON is bounded in depth, size and number range, so bad input is a field-level 422, never a 500.
Unknown fields are ignored, as Lago does.

Each check is also written into the OpenAPI document (a `pattern` without NUL, `integer`
bounds, the shape of free-form JSON), so that what the schema admits is what the service
accepts: API fuzzers and generated clients rely on it.
"""

from __future__ import annotations

import functools
import importlib.resources
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic import StrictInt as _StrictInt
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema
from typing_extensions import TypeAliasType

from invora.countries import COUNTRIES

MAX_CODE = 255
MAX_JSON_DEPTH = 10
MAX_JSON_SIZE = 50_000  # characters of a free-form JSON value (properties, config, metadata…)
MAX_JSON_INTEGER = 2**63
# ECMA-262 and Python `re` read it alike; PostgreSQL text cannot hold NUL
NO_NUL_PATTERN = r"^[^\x00]*$"


# what PostgreSQL text cannot hold: NUL, and UTF-16 surrogates (only ever alone in a Python str)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(value: str) -> bool:
    return _UNSTORABLE.search(value) is None


def check_text(value: str) -> str:
    if not storable_text(value):
        raise ValueError("invalid_characters")
    return value


def unstorable_strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Where in a parsed JSON document a string (a value or an object's key) breaks the text rule.

    The one rule for every string of every request, applied by `invora.web.strict_requests` to whole
    bodies and query strings whatever their schema says, so a field whose type forgot `StorableText`
    still refuses NUL with a 422 rather than failing in the database.
    """
    if isinstance(value, str):
        if not storable_text(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if not storable_text(key):
                yield (*path, key)
            else:
                yield from unstorable_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unstorable_strings(item, (*path, index))


@dataclass(frozen=True, slots=True)
class StorableText:
    """Annotation of a `str`: `check_text` when validating, a NUL-free `pattern` in the JSON schema.

    The pattern documents what the validators after it check (the error stays theirs, e.g.
    `invalid_characters`); `pattern` replaces the default by a narrower one, which must exclude
    NUL too. Lone surrogates cannot be written in a JSON schema pattern at all.
    """

    pattern: str = NO_NUL_PATTERN

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(check_text, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        result = handler(schema)
        result["pattern"] = self.pattern
        return result


@dataclass(frozen=True, slots=True)
class Choice:
    """Annotation of a `str` taking one of `values` (a long list: currencies, time zones…).

    Validated with `code` as the error, documented as an `enum`.
    """

    values: frozenset[str]
    code: str = "value_is_invalid"

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "enum": sorted(self.values)}

    def _check(self, value: str) -> str:
        if value not in self.values:
            raise ValueError(self.code)
        return value


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: keyword values may be dicts
class SchemaExtra:
    """Annotation adding keywords to a type's JSON schema (`uniqueItems`, …) that other validators enforce."""

    keywords: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, **keywords: Any) -> SchemaExtra:
        return cls(tuple(keywords.items()))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), **dict(self.keywords)}


@functools.cache
def iana_timezones() -> frozenset[str]:
    """The names of the IANA time zone database: its zones and the links it keeps for older names.

    Read from the database itself (`tzdata.zi` of the `tzdata` package), not from the host's
    zoneinfo directory, whose `localtime`, `posixrules`, `posix/…` and `right/…` are files of the
    platform, not zone names. `Factory` (the database's "zone unknown" placeholder) is left out.
    Links stay: `Europe/Amsterdam`, `Europe/Stockholm` or `UTC` are links of today's database, and
    Lago's own list of time zones names them.
    """
    data = (importlib.resources.files("tzdata.zoneinfo") / "tzdata.zi").read_text(encoding="utf-8")
    names: set[str] = set()
    for line in data.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "Z":  # Z <zone> …
            names.add(fields[1])
        elif len(fields) == 3 and fields[0] == "L":  # L <target> <link name>
            names.add(fields[2])
    return frozenset(names - {"Factory"})


def _integral(value: Any) -> Any:
    """JSON Schema's `integer` includes `5.0`: accept integral floats, nothing else (no strings, no booleans)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


# what an OpenAPI `integer` admits: 5 and 5.0, not "5" nor true
StrictInt = Annotated[_StrictInt, BeforeValidator(_integral)]


def check_json(value: Any) -> Any:
    """Free-form JSON: storable text, finite numbers, integers within ±2^63, bounded depth and size."""
    size = 0

    def walk(node: Any, depth: int) -> None:
        nonlocal size
        if depth > MAX_JSON_DEPTH:
            raise ValueError("value_is_too_deep")
        if isinstance(node, str):
            check_text(node)
            size += len(node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise ValueError("value_is_invalid")
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > MAX_JSON_INTEGER:
            raise ValueError("value_is_out_of_range")
        elif isinstance(node, dict):
            for key, item in node.items():
                check_text(str(key))
                size += len(str(key))
                walk(item, depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)
        size += 1
        if size > MAX_JSON_SIZE:
            raise ValueError("value_is_too_long")

    walk(value, 0)
    return value


# -- free-form JSON, as documented ----------------------------------------------------------------------
# The validation is `check_json`; these types only describe it in the JSON schema (depth and total
# size cannot be written there: they are in the description).

_JsonText = Annotated[str, StorableText()]
_JsonInteger = Annotated[int, Field(ge=-MAX_JSON_INTEGER, le=MAX_JSON_INTEGER)]
# any other number. One gap: JSON Schema counts a float like 1e19 as an integer, so the schema refuses
# it while `check_json` (which bounds Python ints only, as event properties need) lets it through
_JsonFraction = Annotated[float, SchemaExtra.of(**{"not": {"type": "integer"}})]
JsonValue = TypeAliasType(
    "JsonValue",
    Union[_JsonText, _JsonInteger, _JsonFraction, bool, None, list["JsonValue"],  # noqa: UP007
          dict[_JsonText, "JsonValue"]],
)
JSON_DESCRIPTION = f"Free-form JSON, at most {MAX_JSON_DEPTH} levels deep and {MAX_JSON_SIZE:,} characters."


def _unchanged(value: Any) -> Any:
    return value


def documented_as(schema_type: Any) -> BeforeValidator:
    """Annotation: `schema_type` describes the field in the JSON schema; its own validators (and error codes) stay."""
    return BeforeValidator(_unchanged, json_schema_input_type=schema_type)


JsonObject = Annotated[
    dict[str, Any], documented_as(dict[_JsonText, JsonValue]), AfterValidator(check_json),
    Field(description=JSON_DESCRIPTION),
]


class InputModel(BaseModel):
    """Base of every request body object: unknown fields are ignored (Lago's behaviour)."""

    model_config = ConfigDict(extra="ignore")

    def given(self, field: str) -> bool:
        """Whether the client sent `field` (updates are partial: absent fields keep their value)."""
        return field in self.model_fields_set


def storable_key(value: str) -> bool:
    """Whether a code or id from a URL could name a stored row (else: not found, without asking the database)."""
    if not value or len(value) > MAX_CODE:
        return False
    try:
        check_text(value)
    except ValueError:
        return False
    return True


# -- contact details shared by customers, the organization and billing entities ----------------------------

# several addresses separated by commas (Lago); plain ASCII classes, read alike by Python and ECMA-262
_ADDRESS = r"[^@,;\x00-\x20]+@[^@,;\x00-\x20]+\.[^@,;\x00-\x20]+"
EMAILS_PATTERN = rf"^[ \t]*{_ADDRESS}(?:[ \t]*,[ \t]*{_ADDRESS})*[ \t]*$"
_EMAILS = re.compile(EMAILS_PATTERN)
MAX_EMAILS_TEXT = 2000


def _emails(value: str) -> str:
    if not _EMAILS.fullmatch(value):
        raise ValueError("invalid_email_format")
    return value


def _country(value: str) -> str:
    return value.upper()


def _countries() -> frozenset[str]:
    return COUNTRIES | {c.lower() for c in COUNTRIES}


# ISO 3166-1 alpha-2, in capitals or in small letters (stored in capitals)
Country = Annotated[str, Choice(_countries(), "country_code_invalid"), AfterValidator(_country)]
Timezone = Annotated[str, Choice(iana_timezones(), "invalid_timezone")]
Emails = Annotated[str, StringConstraints(max_length=MAX_EMAILS_TEXT), StorableText(EMAILS_PATTERN),
                   AfterValidator(_emails)]


def _iso_day(value: str) -> date:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("invalid_date")
    return date.fromisoformat(value)  # a ValueError (422) for 2026-02-30


# a query/body day as `YYYY-MM-DD` only (pydantic's `date` alone also takes a Unix time such as `0`); validates to
# a `date`
IsoDay = Annotated[str, AfterValidator(_iso_day), WithJsonSchema({"type": "string", "format": "date"})]
