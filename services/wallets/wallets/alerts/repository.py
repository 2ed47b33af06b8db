"""SQL of wallet alerts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, select, text
from sqlalchemy import delete as sql_delete
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from wallets.alerts.models import WalletAlert


def of_wallet(wallet_id: uuid.UUID, code: str | None = None) -> Select:
    statement = select(WalletAlert).where(WalletAlert.wallet_id == wallet_id)
    if code is not None:
        statement = statement.where(WalletAlert.code == code)
    return statement.order_by(WalletAlert.created_at, WalletAlert.id)


async def find(session: AsyncSession, wallet_id: uuid.UUID, code: str, *, lock: bool = False) -> WalletAlert | None:
    statement = of_wallet(wallet_id, code)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def taken_codes(session: AsyncSession, wallet_id: uuid.UUID, codes: set[str]) -> set[str]:
    return set((await session.execute(select(WalletAlert.code).where(
        WalletAlert.wallet_id == wallet_id, WalletAlert.code.in_(codes)))).scalars())


async def delete_all(session: AsyncSession, wallet_id: uuid.UUID) -> None:
    await session.execute(sql_delete(WalletAlert).where(WalletAlert.wallet_id == wallet_id))


# the alerts of active wallets with the values they watch, claimed for one evaluation pass
_DUE = text(
    """
    SELECT a.id, a.organization_id, a.wallet_id, a.code, a.name, a.alert_type, a.thresholds, a.previous_value,
           a.last_processed_at, a.created_at, w.code AS wallet_code, w.external_customer_id, w.currency,
           w.rate_amount, w.balance_cents, w.credits_balance, w.ongoing_usage_balance_cents
    FROM wallet_alerts a JOIN wallets w ON w.id = a.wallet_id
    WHERE a.id > :after AND w.status = 'active'
    ORDER BY a.id LIMIT :limit
    FOR UPDATE OF a SKIP LOCKED
    """
)
_RECORD = text(
    """
    UPDATE wallet_alerts AS a SET previous_value = v.value, last_processed_at = :now
    FROM unnest(CAST(:ids AS uuid[]), CAST(:values AS numeric[])) AS v(id, value)
    WHERE a.id = v.id
    """
)


async def claim_batch(session: AsyncSession, after: uuid.UUID, limit: int) -> list[RowMapping]:
    return list((await session.execute(_DUE, {"after": after, "limit": limit})).mappings().all())


async def record_values(session: AsyncSession, values: Sequence[tuple[uuid.UUID, object]], now) -> None:
    if values:
        await session.execute(_RECORD, {"ids": [v[0] for v in values], "values": [v[1] for v in values],
                                        "now": now})
