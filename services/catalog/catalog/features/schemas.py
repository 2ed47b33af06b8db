"""Features and privileges in Lago's shapes (`{"feature": {...}}`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from catalog.common.inputs import MAX_ITEMS, Code, InputModel, JsonObject, OptionalName, check_text
from invora.events.contracts.catalog import Feature, PrivilegeValueType
from invora.web.pagination import PaginationMeta

FeatureDescription = Annotated[str, StringConstraints(max_length=600), AfterValidator(check_text)]


class PrivilegeInput(InputModel):
    code: Code
    name: OptionalName | None = None
    value_type: PrivilegeValueType | None = None
    config: JsonObject | None = None


class _FeatureFields(InputModel):
    name: OptionalName | None = None
    description: FeatureDescription | None = None
    privileges: Annotated[list[PrivilegeInput], Field(max_length=MAX_ITEMS)] | None = None


class FeatureCreateInput(_FeatureFields):
    code: Code


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
