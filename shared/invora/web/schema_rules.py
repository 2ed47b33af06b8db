"""JSON-schema keywords for rules across fields, for input models' `json_schema_extra`.

They document checks a service makes in its own code (answered with Lago's 422), so that the
OpenAPI document admits only what is accepted: "one of these is given", "this one is given"…
"""

from __future__ import annotations

from typing import Any


def given(field: str) -> dict[str, Any]:
    """`field` is present and not null."""
    return {"required": [field], "properties": {field: {"not": {"type": "null"}}}}


def any_given(*fields: str) -> dict[str, Any]:
    """At least one of `fields` is present and not null."""
    return {"anyOf": [given(field) for field in fields]}
