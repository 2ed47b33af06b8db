"""Features and privileges in Lago's shapes (`{"feature": {...}}`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from invora.events.contracts.catalog import Feature, PrivilegeValueType
from invora.web.fields import MAX_ITEMS, Code, Name
from invora.web.inputs import InputModel, JsonObject, StorableText
from invora.web.pagination import PaginationMeta

FeatureDescription = Annotated[str, StringConstraints(max_length=600), StorableText()]
MAX_SELECT_OPTIONS = 100


class PrivilegeInput(InputModel):
    code: Code
    name: Name | None = None
    value_type: PrivilegeValueType | None = None
    config: JsonObject | None = None


# checked in `service._config_errors`: a `select` privilege lists its options
_SELECT_OPTIONS = {"anyOf": [
    {"properties": {"value_type": {"enum": ["integer", "boolean", "string", None]}}},
    {"required": ["config"], "properties": {"config": {
        "type": "object", "required": ["select_options"],
        "properties": {"select_options": {
            "type": "array", "minItems": 1, "maxItems": MAX_SELECT_OPTIONS, "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "maxLength": 255},
        }},
    }}},
]}


class NewPrivilegeInput(PrivilegeInput):
    model_config = ConfigDict(json_schema_extra=_SELECT_OPTIONS)


class _FeatureFields(InputModel):
    name: Name | None = None
    description: FeatureDescription | None = None
    privileges: Annotated[list[PrivilegeInput], Field(max_length=MAX_ITEMS)] | None = None


class FeatureCreateInput(_FeatureFields):
    """Privilege codes must be unique."""

    code: Code
    privileges: Annotated[list[NewPrivilegeInput], Field(max_length=MAX_ITEMS)] | None = None


class FeatureUpdateInput(_FeatureFields):
    pass


class FeatureCreateBody(BaseModel):
    feature: FeatureCreateInput


class FeatureUpdateBody(BaseModel):
    feature: FeatureUpdateInput


class FeatureResponse(BaseModel):
    feature: Feature


class FeaturesResponse(BaseModel):
    features: list[Feature]
    meta: PaginationMeta
