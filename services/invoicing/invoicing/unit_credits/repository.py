"""SQL of unit credits on invoices: the grants projection."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.unit_credits.models import UnitCreditGrantProjection as Grants
from invora.db.memo import memo
from invora.events.contracts.wallets import UnitCredit

# (organization, customer) → its active grants' (metric, expiration_at), for the customers of a consumer's batch
_ACTIVE_GRANTS = "invoicing.active_unit_grants"


async def upsert_grant(session: AsyncSession, organization_id: uuid.UUID, grant: UnitCredit, sequence: int,
                       at: datetime) -> None:
    """The grant as its event shows it, unless a later event of that grant was applied already."""
    values = dict(customer_id=grant.lago_customer_id, external_customer_id=grant.external_customer_id,
                  billable_metric_code=grant.billable_metric_code, status=grant.status,
                  expiration_at=grant.expiration_at, sequence=sequence, updated_at=at)
    memo(session, _ACTIVE_GRANTS).pop((organization_id, grant.lago_customer_id), None)
    statement = insert(Grants).values(organization_id=organization_id, id=grant.lago_id, **values)
    await session.execute(statement.on_conflict_do_update(
        index_elements=["organization_id", "id"], set_=values, where=Grants.sequence < statement.excluded.sequence))


async def prefetch_active_grants(session: AsyncSession, organization_id: uuid.UUID,
                                 customer_ids: list[uuid.UUID]) -> None:
    """One statement for a batch's customers instead of one per invoice (`live_metric_codes` reads the memo)."""
    if not customer_ids:
        return
    rows = (await session.execute(select(Grants.customer_id, Grants.billable_metric_code, Grants.expiration_at).where(
        Grants.organization_id == organization_id, Grants.customer_id.in_(customer_ids),
        Grants.status == "active"))).all()
    remembered = memo(session, _ACTIVE_GRANTS)
    for customer_id in customer_ids:
        remembered[(organization_id, customer_id)] = []
    for customer_id, metric, expiration_at in rows:
        remembered[(organization_id, customer_id)].append((metric, expiration_at))


async def live_metric_codes(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                            at: datetime) -> set[str]:
    """The metrics of which the customer holds an active grant not expired at `at` (what is left unknown here)."""
    known = memo(session, _ACTIVE_GRANTS).get((organization_id, customer_id))
    if known is not None:
        return {metric for metric, expiration_at in known if expiration_at is None or expiration_at > at}
    return set((await session.execute(select(Grants.billable_metric_code).distinct().where(
        Grants.organization_id == organization_id, Grants.customer_id == customer_id, Grants.status == "active",
        or_(Grants.expiration_at.is_(None), Grants.expiration_at > at)))).scalars())
