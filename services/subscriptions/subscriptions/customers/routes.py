"""HTTP routes for customers (`/api/v1/customers`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from invora.auth.deps import Reader, ReaderOrTenant, Writer
from invora.countries import COUNTRIES
from invora.errors import ValidationFailed
from invora.money import CURRENCIES
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS
from invora.web.fields import Name
from invora.web.inputs import check_text
from invora.web.pagination import Pagination
from subscriptions.customers import service
from subscriptions.customers.access import accessible_customer
from subscriptions.customers.schemas import CustomerCreateBody, CustomerResponse, CustomersResponse

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
ExternalId = Path(description="The customer's external id (from your application).")
StrList = Annotated[list[str], Query()]


@router.post("", response_model=CustomerResponse, responses=WRITE_ERRORS, summary="Create or update a customer",
             description="Upsert by `external_id` (Lago): a live customer with this id is updated with the fields "
                         "sent; absent fields keep their value. Publishes `customer.created` or `customer.updated`.")
async def upsert_customer(body: CustomerCreateBody, session: DbSession, principal: Writer,
                          request: Request) -> CustomerResponse:
    customer, _created = await service.upsert(session, principal.organization_id, body.customer, now(request))
    return CustomerResponse(customer=service.render(customer))


def _filters(request: Request, search_term: str | None, has_customer_type: bool | None,
             has_tax_identification_number: bool | None, customer_type: str | None) -> service.CustomerFilters:
    params = request.query_params
    errors: dict[str, list[str]] = {}

    def values(name: str) -> list[str]:
        found = params.getlist(f"{name}[]") + params.getlist(name)
        if len(found) > 100 or any(len(v) > 255 for v in found):
            errors.setdefault(name, []).append("value_is_invalid")
        return found

    filters = service.CustomerFilters(
        search_term=search_term, countries=[v.upper() for v in values("countries")], currencies=values("currencies"),
        states=values("states"), zipcodes=values("zipcodes"), account_types=values("account_type"),
        billing_entity_codes=values("billing_entity_codes"), customer_type=customer_type,
        has_customer_type=has_customer_type, has_tax_identification_number=has_tax_identification_number,
    )
    if any(c not in COUNTRIES for c in filters.countries):
        errors.setdefault("countries", []).append("country_code_invalid")
    if any(c not in CURRENCIES for c in filters.currencies):
        errors.setdefault("currencies", []).append("currency_code_invalid")
    if any(a not in ("customer", "partner") for a in filters.account_types):
        errors.setdefault("account_type", []).append("value_is_invalid")
    for key, value in params.multi_items():
        if key.startswith("metadata[") and key.endswith("]"):
            name = key[len("metadata["):-1]
            filters.metadata[name] = value
    everything = [filters.search_term or "", *filters.metadata, *filters.metadata.values(), *filters.states,
                  *filters.zipcodes, *filters.billing_entity_codes]
    try:
        for text in everything:
            check_text(text)
    except ValueError:
        errors.setdefault("search_term", []).append("invalid_characters")
    if len(filters.metadata) > 20:
        errors.setdefault("metadata", []).append("too_many_items")
    if errors:
        raise ValidationFailed(errors)
    return filters


@router.get("", response_model=CustomersResponse, responses=LIST_ERRORS, summary="List customers",
            description="Live customers, newest first. Filters (Lago): `search_term` (name, first/last/legal "
                        "name, external id, email), `countries[]`, `currencies[]`, `states[]`, `zipcodes[]`, "
                        "`account_type[]`, `billing_entity_codes[]`, `customer_type`, `has_customer_type`, "
                        "`has_tax_identification_number`, `metadata[key]=value` (empty value: key absent).")
async def list_customers(
    session: DbSession, principal: Reader, page: Pagination, request: Request,
    search_term: Annotated[Name | None, Query()] = None,
    customer_type: Literal["company", "individual"] | None = None,
    has_customer_type: bool | None = None,
    has_tax_identification_number: bool | None = None,
) -> CustomersResponse:
    filters = _filters(request, search_term, has_customer_type, has_tax_identification_number, customer_type)
    customers, meta = await service.list_customers(session, principal.organization_id, filters, page)
    return CustomersResponse(customers=[service.render(c) for c in customers], meta=meta)


@router.get("/{external_customer_id}", response_model=CustomerResponse, responses=READ_ERRORS,
            summary="Retrieve a customer", description="Tenant keys may read their own customer only.")
async def get_customer(session: DbSession, principal: ReaderOrTenant,
                       external_customer_id: str = ExternalId) -> CustomerResponse:
    customer = await accessible_customer(session, principal, external_customer_id)
    return CustomerResponse(customer=service.render(customer))


@router.delete("/{external_customer_id}", response_model=CustomerResponse, responses=WRITE_ERRORS,
               summary="Delete a customer",
               description="Terminates the customer's active subscriptions (pending ones are canceled), then "
                           "deletes the customer; its external id can be reused. Publishes `customer.deleted`.")
async def delete_customer(session: DbSession, principal: Writer, request: Request,
                          external_customer_id: str = ExternalId) -> CustomerResponse:
    customer = await service.delete(session, principal.organization_id, external_customer_id, now(request))
    return CustomerResponse(customer=service.render(customer))
